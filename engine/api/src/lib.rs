//! Docker Engine API types shared by `berthd` (server) and `berth` (client).
//!
//! Field names follow moby's `api/swagger.yaml`, so the real `docker` CLI can talk to `berthd`
//! and `berth` can read what `berthd` answers. Every response field defaults when absent, so a
//! client stays tolerant of older or newer servers.
//!
//! ```
//! use berth_api::system::SystemVersion;
//! let version: SystemVersion = serde_json::from_str(r#"{"Version":"0.1.0","ApiVersion":"1.44"}"#)?;
//! assert_eq!(version.api_version, berth_api::API_VERSION);
//! # Ok::<(), serde_json::Error>(())
//! ```

pub mod container;
pub mod exec;
pub mod filters;
pub mod host;
pub mod image;
pub mod network;
pub mod stats;
pub mod stream;
pub mod system;
pub mod time;
pub mod units;
pub mod version;
pub mod volume;

pub use version::{ApiVersion, API_VERSION, MIN_API_VERSION};

/// The error body of every failed API call: `{"message": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorResponse {
    /// What went wrong, in one line.
    #[serde(default)]
    pub message: String,
}
