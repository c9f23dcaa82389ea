//! The TLS server side of tcp listeners (`--tls`, `--tlsverify`): the certificate chain and
//! key from PEM files and, with `--tlsverify`, client certificates required and checked
//! against the CA, as dockerd does. rustls with ring; TLS 1.2 and 1.3.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsSettings;

/// Builds the acceptor every TLS tcp listener uses.
pub fn acceptor(settings: &TlsSettings) -> Result<TlsAcceptor> {
    let certs = read_certificates(&settings.cert, "tlscert")?;
    let key = PrivateKeyDer::from_pem_file(&settings.key).with_context(|| {
        format!(
            "could not load X509 key pair (cert: {}, key: {}): no private key in the key file",
            settings.cert.display(),
            settings.key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = if settings.verify_clients {
        let mut roots = RootCertStore::empty();
        for cert in read_certificates(&settings.ca, "tlscacert")? {
            roots.add(cert).with_context(|| {
                format!("tlscacert: {}: bad CA certificate", settings.ca.display())
            })?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .with_context(|| format!("tlscacert: {}: unusable CA", settings.ca.display()))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(certs, key).with_context(|| {
        format!(
            "could not load X509 key pair (cert: {}, key: {})",
            settings.cert.display(),
            settings.key.display()
        )
    })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read_certificates(path: &std::path::Path, key: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("{key}: cannot read certificates from {}", path.display()))?;
    if certs.is_empty() {
        bail!("{key}: {} holds no PEM certificate", path.display());
    }
    Ok(certs)
}
