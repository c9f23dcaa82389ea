//! The crate's error type: one enum, each variant naming the thing (field, path, digest,
//! endpoint) that was wrong so callers can print a single clear line.

use std::path::PathBuf;

/// Everything that can go wrong in the image layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image reference (`name[:tag][@digest]`) did not parse.
    #[error("invalid reference {input:?}: {reason}")]
    InvalidReference { input: String, reason: String },
    /// A digest string did not parse.
    #[error("invalid digest {input:?}: {reason}")]
    InvalidDigest { input: String, reason: String },
    /// Content did not hash to the digest it was fetched or described by.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    /// A configuration value (daemon.json field) is invalid.
    #[error("invalid {field}: {reason}")]
    Config { field: String, reason: String },
    /// The image or reference is not in the store.
    #[error("No such image: {0}")]
    NotFound(String),
    /// The operation conflicts with the store's state (e.g. rmi of an image in use).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A layer tarball was refused by safe extraction.
    #[error("refusing layer entry {entry:?}: {reason}")]
    UnsafeEntry { entry: String, reason: String },
    /// A tarball or archive was malformed.
    #[error("bad archive {what}: {reason}")]
    BadArchive { what: String, reason: String },
    /// A registry response was malformed or unsupported.
    #[error("registry {endpoint}: {reason}")]
    Registry { endpoint: String, reason: String },
    /// Authentication with a registry failed.
    #[error("registry {endpoint}: authentication failed: {reason}")]
    Auth { endpoint: String, reason: String },
    /// Every endpoint (mirrors, then the official registry) failed.
    #[error("pull {reference} failed on every endpoint: {}", tried.iter().map(|(e, r)| format!("{e}: {r}")).collect::<Vec<_>>().join("; "))]
    AllEndpointsFailed {
        reference: String,
        tried: Vec<(String, String)>,
    },
    /// The chosen storage driver cannot work on this host.
    #[error("storage-driver {driver} cannot work on {root}: {reason}")]
    StorageDriver {
        driver: String,
        root: PathBuf,
        reason: String,
    },
    /// Another process holds the store's lock.
    #[error("data-root {0} is in use by another process (lock held)")]
    Locked(PathBuf),
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the operation and path it concerned.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Adds `.at(op, path)` to `io::Result` so every I/O error names its path.
pub(crate) trait IoContext<T> {
    fn at(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e))
    }
}
