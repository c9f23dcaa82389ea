//! The License tag: one SPDX expression over every crate linked into the shipped binaries.

/// A crate linked into a binary, as cargo_metadata reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CrateInfo {
    pub name: String,
    pub version: String,
    /// The crate's `license` field (an SPDX expression, or the legacy `A/B` form).
    pub license: Option<String>,
}

/// Joins the crates' license expressions with AND, each distinct expression once, sorted;
/// expressions containing OR are parenthesised and the legacy `MIT/Apache-2.0` becomes
/// `(Apache-2.0 OR MIT)`. A crate without a license field is an error naming it.
pub fn spdx_and(crates: &[CrateInfo]) -> Result<String, String> {
    let mut terms = std::collections::BTreeSet::new();
    for krate in crates {
        let Some(license) = krate.license.as_deref() else {
            return Err(format!(
                "crate {} {} has no SPDX license field; cannot compute the License tag",
                krate.name, krate.version
            ));
        };
        let normalized = normalize(license);
        if normalized.is_empty() {
            return Err(format!(
                "crate {} {} has an empty license field",
                krate.name, krate.version
            ));
        }
        terms.insert(normalized);
    }
    let single = terms.len() == 1;
    Ok(terms
        .into_iter()
        .map(|t| {
            if !single && (t.contains(" OR ") || t.contains(" WITH ")) && !is_wrapped(&t) {
                format!("({t})")
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join(" AND "))
}

/// One expression in canonical spacing; a top-level list of OR alternatives is sorted.
fn normalize(license: &str) -> String {
    let text = license.replace('/', " OR ");
    let words: Vec<&str> = text.split_whitespace().collect();
    let text = words.join(" ");
    if text.contains(['(', ')']) || text.contains(" AND ") {
        return text;
    }
    let mut alternatives: Vec<&str> = text.split(" OR ").collect();
    alternatives.sort_unstable();
    alternatives.dedup();
    alternatives.join(" OR ")
}

fn is_wrapped(term: &str) -> bool {
    if !(term.starts_with('(') && term.ends_with(')')) {
        return false;
    }
    let mut depth = 0i32;
    for (i, c) in term.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth == 0 && i + 1 < term.len() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krate(name: &str, license: Option<&str>) -> CrateInfo {
        CrateInfo {
            name: name.into(),
            version: "1.0.0".into(),
            license: license.map(Into::into),
        }
    }

    #[test]
    fn combines_distinct_expressions() {
        let crates = [
            krate("a", Some("MIT OR Apache-2.0")),
            krate("b", Some("Apache-2.0/MIT")),
            krate("c", Some("MIT")),
            krate(
                "d",
                Some("Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT"),
            ),
        ];
        assert_eq!(
            spdx_and(&crates).unwrap(),
            "(Apache-2.0 OR Apache-2.0 WITH LLVM-exception OR MIT) AND (Apache-2.0 OR MIT) AND MIT"
        );
    }

    #[test]
    fn missing_license_names_the_crate() {
        let err = spdx_and(&[krate("ring", None)]).unwrap_err();
        assert!(err.contains("ring 1.0.0"), "{err}");
    }
}
