//! The library's error type: every failure is one line naming the field, path or id involved.

use std::io;

/// Everything that can go wrong in the runtime. Each variant displays as a single line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A container id that is empty or contains characters outside `[A-Za-z0-9_.+-]`.
    #[error("invalid container id {0:?}: use only letters, digits and '_', '.', '+', '-'")]
    InvalidId(String),
    /// A container with this id already exists under the state root.
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    /// No container with this id exists under the state root.
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// The runtime spec (config.json) is malformed or asks for something invalid.
    #[error("{field}: {reason}")]
    Spec {
        /// The JSON path of the offending field, e.g. `linux.resources.memory.limit`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The operation is not allowed in the container's current status.
    #[error("container {id:?} is {status}: cannot {operation}")]
    InvalidStatus {
        /// The container id.
        id: String,
        /// Its current status.
        status: String,
        /// The operation that was refused.
        operation: &'static str,
    },
    /// A signal name or number that is not known.
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    /// A file-system or I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A system call failed.
    #[error("{context}: {errno}")]
    Sys {
        /// What was being done, naming the path or object.
        context: String,
        /// The errno.
        errno: nix::errno::Errno,
    },
    /// The container's init process reported an error while setting the container up.
    #[error("{0}")]
    Init(String),
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn spec(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Spec {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Adds a context line to I/O and system-call results.
pub(crate) trait Context<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: context(),
            source,
        })
    }
}

impl<T> Context<T> for nix::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| Error::Sys {
            context: context(),
            errno,
        })
    }
}
