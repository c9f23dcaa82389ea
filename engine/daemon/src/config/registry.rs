//! Registry settings: mirror URLs normalized and checked the way dockerd does, insecure
//! registries, and transfer limits.

/// What the image store needs to reach registries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrySettings {
    /// docker.io mirrors in order, each with a trailing `/`.
    pub mirrors: Vec<String>,
    /// Registries (host[:port] or CIDR) reached over plain http or without TLS checks.
    pub insecure_registries: Vec<String>,
    /// Layers downloaded at once.
    pub max_concurrent_downloads: u32,
    /// Layers uploaded at once.
    pub max_concurrent_uploads: u32,
    /// Tries per layer.
    pub max_download_attempts: u32,
}

/// The transfer limits as given (flag or daemon.json), before checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferLimits {
    pub max_concurrent_downloads: u32,
    pub max_concurrent_uploads: u32,
    pub max_download_attempts: u32,
}

impl Default for TransferLimits {
    /// dockerd's defaults.
    fn default() -> Self {
        TransferLimits {
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
            max_download_attempts: 5,
        }
    }
}

impl RegistrySettings {
    /// Checks and normalizes the values from flags or daemon.json.
    pub fn new(
        mirrors: Vec<String>,
        insecure_registries: Vec<String>,
        limits: TransferLimits,
    ) -> Result<Self, String> {
        let mut normalized: Vec<String> = Vec::new();
        for mirror in mirrors {
            let mirror = validate_mirror(&mirror)?;
            if !normalized.contains(&mirror) {
                normalized.push(mirror);
            }
        }
        for registry in &insecure_registries {
            if registry.contains("://") {
                return Err(format!(
                    "insecure registry {registry} should not contain '://'"
                ));
            }
        }
        if limits.max_concurrent_downloads == 0 {
            return Err("invalid max concurrent downloads: 0".to_owned());
        }
        if limits.max_concurrent_uploads == 0 {
            return Err("invalid max concurrent uploads: 0".to_owned());
        }
        if limits.max_download_attempts == 0 {
            return Err("invalid max download attempts: 0".to_owned());
        }
        Ok(RegistrySettings {
            mirrors: normalized,
            insecure_registries,
            max_concurrent_downloads: limits.max_concurrent_downloads,
            max_concurrent_uploads: limits.max_concurrent_uploads,
            max_download_attempts: limits.max_download_attempts,
        })
    }
}

/// dockerd's mirror rules: http or https, no userinfo, query or fragment; a trailing `/`.
fn validate_mirror(mirror: &str) -> Result<String, String> {
    let (scheme, rest) = mirror
        .split_once("://")
        .ok_or_else(|| format!("invalid mirror: \"{mirror}\" is not a valid URI"))?;
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "invalid mirror: unsupported scheme \"{scheme}\" in \"{mirror}\""
        ));
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(format!(
            "invalid mirror: query or fragment at end of the URI \"{mirror}\""
        ));
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err(format!(
            "invalid mirror: username/password not allowed in URI \"{mirror}\""
        ));
    }
    if authority.is_empty() {
        return Err(format!("invalid mirror: \"{mirror}\" has no host"));
    }
    Ok(if mirror.ends_with('/') {
        mirror.to_owned()
    } else {
        format!("{mirror}/")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_are_normalized_and_deduplicated() {
        let settings = RegistrySettings::new(
            vec![
                "http://127.0.0.1:5000".into(),
                "http://127.0.0.1:5000/".into(),
                "https://mirror.example/path".into(),
            ],
            vec![],
            TransferLimits::default(),
        )
        .unwrap();
        assert_eq!(
            settings.mirrors,
            ["http://127.0.0.1:5000/", "https://mirror.example/path/"]
        );
    }

    #[test]
    fn bad_mirrors_are_refused() {
        for (mirror, expected) in [
            (
                "ftp://x",
                "invalid mirror: unsupported scheme \"ftp\" in \"ftp://x\"",
            ),
            ("http://u:p@host", "invalid mirror: username/password"),
            ("http://host/?a=b", "invalid mirror: query or fragment"),
            (
                "host:5000",
                "invalid mirror: \"host:5000\" is not a valid URI",
            ),
        ] {
            let err = RegistrySettings::new(vec![mirror.into()], vec![], TransferLimits::default())
                .unwrap_err();
            assert!(err.starts_with(expected), "{mirror}: {err}");
        }
        assert!(
            RegistrySettings::new(vec![], vec!["http://x".into()], TransferLimits::default())
                .is_err()
        );
        let no_uploads = TransferLimits {
            max_concurrent_uploads: 0,
            ..TransferLimits::default()
        };
        assert_eq!(
            RegistrySettings::new(vec![], vec![], no_uploads).unwrap_err(),
            "invalid max concurrent uploads: 0"
        );
    }
}
