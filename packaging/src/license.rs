//! The License tag: one SPDX expression over every crate linked into the shipped binaries.

/// A crate linked into a binary, as cargo_metadata reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CrateInfo {
    pub name: String,
    pub version: String,
    /// The crate's `license` field (an SPDX expression, or the legacy `A/B` form).
    pub license: Option<String>,
    /// The SHA-256 of the crate's `.crate` file, from Cargo.lock's `checksum` field (registry
    /// crates have one; git and path dependencies do not).
    pub checksum: Option<String>,
}

/// Joins the crates' license expressions with AND: each expression is split at its top-level
/// ANDs, every distinct term appears once, sorted; terms containing OR or WITH are
/// parenthesised, and the legacy `MIT/Apache-2.0` becomes `Apache-2.0 OR MIT`. A crate without a
/// license field is an error naming it.
pub fn spdx_and(crates: &[CrateInfo]) -> Result<String, String> {
    let mut terms = std::collections::BTreeSet::new();
    for krate in crates {
        let Some(license) = krate.license.as_deref() else {
            return Err(format!(
                "crate {} {} has no SPDX license field; cannot compute the License tag",
                krate.name, krate.version
            ));
        };
        let text = license.replace('/', " OR ");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return Err(format!(
                "crate {} {} has an empty license field",
                krate.name, krate.version
            ));
        }
        for term in split_top_level(&text, " AND ") {
            terms.insert(normalize_term(term));
        }
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

/// Splits `text` at `separator` where it is outside parentheses.
fn split_top_level<'a>(text: &'a str, separator: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let (mut depth, mut start, mut i) = (0i32, 0usize, 0usize);
    let bytes = text.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ if depth == 0 && text[i..].starts_with(separator) => {
                parts.push(&text[start..i]);
                i += separator.len();
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
}

/// One AND-free term: redundant outer parentheses removed; a plain list of OR alternatives
/// sorted and deduplicated.
fn normalize_term(term: &str) -> String {
    let mut term = term.trim();
    while is_wrapped(term) {
        term = term[1..term.len() - 1].trim();
    }
    if term.contains(['(', ')']) || split_top_level(term, " AND ").len() > 1 {
        return term.to_string();
    }
    let mut alternatives: Vec<&str> = term.split(" OR ").collect();
    alternatives.sort_unstable();
    alternatives.dedup();
    alternatives.join(" OR ")
}

/// True when the whole term is one parenthesised group, e.g. `(A OR B)` but not `(A) OR (B)`.
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
            checksum: None,
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
    fn compound_expressions_are_split_at_top_level_and() {
        let crates = [
            krate("a", Some("(MIT OR Apache-2.0) AND Unicode-3.0")),
            krate("b", Some("Apache-2.0")),
            krate("c", Some("Unicode-3.0")),
        ];
        assert_eq!(
            spdx_and(&crates).unwrap(),
            "Apache-2.0 AND (Apache-2.0 OR MIT) AND Unicode-3.0"
        );
    }

    #[test]
    fn missing_license_names_the_crate() {
        let err = spdx_and(&[krate("ring", None)]).unwrap_err();
        assert!(err.contains("ring 1.0.0"), "{err}");
    }
}
