//! OpenPGP keys and signatures, in pure Rust: key generation, the RPM header signer and the
//! armored detached signature of repomd.xml.
//!
//! EL7 (rpm 4.11, gnupg 2.0) only verifies RSA and DSA, and rpm 4.11 only knows primary keys,
//! so berth signs with an RSA primary key that has no subkeys.

use std::path::Path;

use pgp::composed::{
    ArmorOptions, Deserializable, DetachedSignature, KeyType, SecretKeyParamsBuilder,
    SignedPublicKey, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::types::{KeyDetails, Password};

/// A key that cannot be read, generated or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: not an armored OpenPGP secret key: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: key algorithm {algorithm:?} is not RSA; EL7's rpm and gnupg verify only RSA (or DSA)")]
    NotRsa {
        origin: String,
        algorithm: PublicKeyAlgorithm,
    },
    #[error("{origin}: this key cannot sign: {message}")]
    CannotSign { origin: String, message: String },
    #[error("OpenPGP: {0}")]
    Pgp(String),
}

/// An RSA OpenPGP secret key used for RPM headers and repository metadata.
#[derive(Clone)]
pub struct SigningKey {
    key: SignedSecretKey,
    armored: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.fingerprint())
    }
}

impl SigningKey {
    /// Reads an armored secret key file.
    pub fn load(path: &Path) -> Result<Self, SigningError> {
        let bytes = std::fs::read(path).map_err(|source| SigningError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| SigningError::Parse {
            origin: path.display().to_string(),
            message: "binary data, not armored text".to_string(),
        })?;
        Self::from_armored(&text, &path.display().to_string())
    }

    /// Parses an armored secret key; `origin` names where it came from in errors.
    pub fn from_armored(text: &str, origin: &str) -> Result<Self, SigningError> {
        let (key, _) = SignedSecretKey::from_string(text).map_err(|e| SigningError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        key.verify_bindings().map_err(|e| SigningError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        if key.algorithm() != PublicKeyAlgorithm::RSA {
            return Err(SigningError::NotRsa {
                origin: origin.to_string(),
                algorithm: key.algorithm(),
            });
        }
        let signing_key = SigningKey {
            key,
            armored: text.to_string(),
        };
        // A key that parses may still be unable to sign (a passphrase-protected secret, a
        // primary without the signing flag rpm-rs needs): find out before anything is written.
        let probe = signing_key
            .sign_detached(b"berth signing probe")
            .and_then(|_| signing_key.rpm_signer().map(|_| ()));
        if let Err(err) = probe {
            return Err(SigningError::CannotSign {
                origin: origin.to_string(),
                message: err.to_string(),
            });
        }
        Ok(signing_key)
    }

    /// Generates an RSA primary key that can certify and sign, without subkeys.
    pub fn generate(bits: u32, user_id: &str) -> Result<Self, SigningError> {
        let params = SecretKeyParamsBuilder::default()
            .key_type(KeyType::Rsa(bits))
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(user_id.to_string())
            .build()
            .map_err(|e| SigningError::Pgp(e.to_string()))?;
        let key = params
            .generate(rand::thread_rng())
            .map_err(|e| SigningError::Pgp(e.to_string()))?;
        let armored = key
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| SigningError::Pgp(e.to_string()))?;
        Ok(SigningKey { key, armored })
    }

    /// The armored secret key (keep it private).
    pub fn secret_armored(&self) -> &str {
        &self.armored
    }

    /// The armored public key, as published at the repository root as `gpg`.
    pub fn public_armored(&self) -> Result<String, SigningError> {
        let public: SignedPublicKey = self.key.to_public_key();
        public
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| SigningError::Pgp(e.to_string()))
    }

    /// Writes the armored public key to `path` (e.g. `gpg` at the repository root), atomically.
    pub fn write_public_key(&self, path: &Path) -> Result<(), SigningError> {
        let public = self.public_armored()?;
        crate::fsutil::write_atomic(path, public.as_bytes()).map_err(|source| SigningError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The key's fingerprint in upper-case hex.
    pub fn fingerprint(&self) -> String {
        hex::encode_upper(self.key.fingerprint().as_bytes())
    }

    /// The signer rpm-rs uses for the RSA header signature.
    pub fn rpm_signer(&self) -> Result<rpm::signature::pgp::Signer, SigningError> {
        rpm::signature::pgp::Signer::from_asc(&self.armored)
            .map_err(|e| SigningError::Pgp(e.to_string()))
    }

    /// An armored detached binary signature over `data` (SHA-256), e.g. repomd.xml.asc.
    pub fn sign_detached(&self, data: &[u8]) -> Result<String, SigningError> {
        let signature = DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            &self.key.primary_key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            data,
        )
        .map_err(|e| SigningError::Pgp(e.to_string()))?;
        signature
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| SigningError::Pgp(e.to_string()))
    }
}
