//! TLS settings for tcp listeners, with dockerd's keys and flags: `tls`, `tlsverify` (which
//! implies `tls` and requires client certificates signed by `tlscacert`), `tlscacert`,
//! `tlscert` and `tlskey`. The files default to /etc/berth/tls/{ca,cert,key}.pem.

use std::path::{Path, PathBuf};

use super::file::FileConfig;
use crate::cli::Flags;

const DEFAULT_DIR: &str = "/etc/berth/tls";

/// TLS as configured; absent when neither `tls` nor `tlsverify` is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Client certificates are required and checked against `ca`.
    pub verify_clients: bool,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Merges flags and daemon.json; the files must exist (their contents are checked when the
/// listeners open).
pub fn resolve(flags: &Flags, file: &FileConfig) -> Result<Option<TlsSettings>, String> {
    let verify = flags.tlsverify || file.tlsverify.unwrap_or(false);
    let enabled = verify || flags.tls || file.tls.unwrap_or(false);
    if !enabled {
        return Ok(None);
    }
    let pick = |flag: &Option<PathBuf>, key: &Option<PathBuf>, name: &str| {
        flag.clone()
            .or_else(|| key.clone())
            .unwrap_or_else(|| Path::new(DEFAULT_DIR).join(name))
    };
    let settings = TlsSettings {
        verify_clients: verify,
        ca: pick(&flags.tlscacert, &file.tlscacert, "ca.pem"),
        cert: pick(&flags.tlscert, &file.tlscert, "cert.pem"),
        key: pick(&flags.tlskey, &file.tlskey, "key.pem"),
    };
    let mut needed = vec![("tlscert", &settings.cert), ("tlskey", &settings.key)];
    if verify {
        needed.push(("tlscacert", &settings.ca));
    }
    for (key, path) in needed {
        if !path.is_file() {
            return Err(format!(
                "could not load TLS configuration: {key}: {} does not exist",
                path.display()
            ));
        }
    }
    Ok(Some(settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlsverify_implies_tls_and_needs_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        for name in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(path(name), "x").unwrap();
        }
        let mut flags = Flags::default();
        assert_eq!(resolve(&flags, &FileConfig::default()), Ok(None));

        flags.tlsverify = true;
        flags.tlscert = Some(path("cert.pem"));
        flags.tlskey = Some(path("key.pem"));
        let file = FileConfig {
            tlscacert: Some(path("missing-ca.pem")),
            ..FileConfig::default()
        };
        assert_eq!(
            resolve(&flags, &file),
            Err(format!(
                "could not load TLS configuration: tlscacert: {} does not exist",
                path("missing-ca.pem").display()
            ))
        );
        let file = FileConfig {
            tlscacert: Some(path("ca.pem")),
            ..FileConfig::default()
        };
        let settings = resolve(&flags, &file).unwrap().unwrap();
        assert!(settings.verify_clients);
        assert_eq!(settings.ca, path("ca.pem"));

        // tls alone does not need the CA.
        let flags = Flags {
            tls: true,
            tlscert: Some(path("cert.pem")),
            tlskey: Some(path("key.pem")),
            ..Flags::default()
        };
        let settings = resolve(&flags, &FileConfig::default()).unwrap().unwrap();
        assert!(!settings.verify_clients);
    }
}
