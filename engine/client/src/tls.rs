//! TLS to a daemon on tcp, with docker's flags. `--tlsverify` checks the daemon's certificate
//! against `--tlscacert`; `--tls` alone encrypts without checking it. Either sends the client
//! certificate (`--tlscert`, `--tlskey`) when those files exist. The files default to
//! `$BERTH_CERT_PATH/{ca,cert,key}.pem`, and BERTH_CERT_PATH defaults to `~/.berth`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider,
};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;

/// The TLS settings from the command line, with defaults filled in.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// Check the daemon's certificate against `ca`.
    pub verify: bool,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsOptions {
    /// `None` unless `--tls` or `--tlsverify` was given.
    pub fn from_flags(
        tls: bool,
        verify: bool,
        ca: Option<PathBuf>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    ) -> Option<TlsOptions> {
        if !tls && !verify {
            return None;
        }
        let dir = std::env::var_os("BERTH_CERT_PATH")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".berth")))
            .unwrap_or_else(|| PathBuf::from(".berth"));
        Some(TlsOptions {
            verify,
            ca: ca.unwrap_or_else(|| dir.join("ca.pem")),
            cert: cert.unwrap_or_else(|| dir.join("cert.pem")),
            key: key.unwrap_or_else(|| dir.join("key.pem")),
        })
    }

    /// The connector for these options.
    pub fn connector(&self) -> Result<TlsConnector> {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?;
        let builder = if self.verify {
            let mut roots = RootCertStore::empty();
            for cert in certificates(&self.ca, "--tlscacert")? {
                roots
                    .add(cert)
                    .with_context(|| format!("--tlscacert {}: bad CA", self.ca.display()))?;
            }
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
        };
        let config = if self.cert.is_file() && self.key.is_file() {
            let key = PrivateKeyDer::from_pem_file(&self.key)
                .with_context(|| format!("--tlskey {}: no private key", self.key.display()))?;
            builder
                .with_client_auth_cert(certificates(&self.cert, "--tlscert")?, key)
                .with_context(|| {
                    format!(
                        "could not load X509 key pair (cert: {}, key: {})",
                        self.cert.display(),
                        self.key.display()
                    )
                })?
        } else {
            builder.with_no_client_auth()
        };
        Ok(TlsConnector::from(Arc::new(config)))
    }
}

/// The name the daemon's certificate must carry: the IP address of the tcp host.
pub fn server_name(address: &std::net::SocketAddr) -> ServerName<'static> {
    ServerName::IpAddress(address.ip().into())
}

fn certificates(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("{flag} {}: cannot read certificates", path.display()))?;
    if certs.is_empty() {
        bail!("{flag} {}: no PEM certificate in it", path.display());
    }
    Ok(certs)
}

/// `--tls` without `--tlsverify`: any server certificate is accepted (handshake signatures are
/// still checked), as docker does.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, tokio_rustls::rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
