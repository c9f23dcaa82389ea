//! The docker-ce.repo-style `.repo` file: berth-{stable,test,nightly} with -debuginfo and
//! -source variants, only stable enabled.

pub use crate::channels::CHANNELS;

/// Renders the `.repo` file from `template` (repo/berth.repo.in), in which `@BASE_URL@`,
/// `@GPGCHECK@` and `@GPGKEY@` are replaced. Unsigned repositories get gpgcheck=0.
pub fn render(template: &str, base_url: &str, signed: bool) -> String {
    let base = base_url.trim_end_matches('/');
    let check = if signed { "1" } else { "0" };
    template
        .replace("@BASE_URL@", base)
        .replace("@GPGCHECK@", check)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../repo/berth.repo.in");

    #[test]
    fn nine_sections_only_stable_enabled() {
        let text = render(TEMPLATE, "https://pkgs.example.invalid/berth/", true);
        let sections: Vec<&str> = text.lines().filter(|l| l.starts_with('[')).collect();
        assert_eq!(sections.len(), 9, "{sections:?}");
        for channel in CHANNELS {
            for suffix in ["", "-debuginfo", "-source"] {
                let header = format!("[berth-{channel}{suffix}]");
                let body: Vec<&str> = text
                    .split(&header)
                    .nth(1)
                    .unwrap_or_else(|| panic!("{header} missing"))
                    .split("\n[")
                    .next()
                    .unwrap()
                    .lines()
                    .collect();
                let enabled = if channel == "stable" && suffix.is_empty() {
                    "1"
                } else {
                    "0"
                };
                assert!(
                    body.contains(&format!("enabled={enabled}").as_str()),
                    "{header}: {body:?}"
                );
                assert!(
                    body.contains(&"gpgcheck=1") && body.contains(&"repo_gpgcheck=1"),
                    "{header}"
                );
                assert!(
                    body.contains(&"gpgkey=https://pkgs.example.invalid/berth/gpg"),
                    "{header}"
                );
            }
        }
        assert!(text.contains(
            "baseurl=https://pkgs.example.invalid/berth/el/$releasever/$basearch/stable\n"
        ));
        assert!(!text.contains('@'), "unreplaced placeholder:\n{text}");
    }

    #[test]
    fn unsigned_repositories_disable_gpg_checks() {
        let text = render(TEMPLATE, "file:///srv/repo", false);
        assert!(
            text.contains("gpgcheck=0") && !text.contains("gpgcheck=1"),
            "{text}"
        );
    }
}
