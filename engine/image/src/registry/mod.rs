//! The registry v2 client: configuration and endpoint selection, authenticated sessions,
//! manifests and platform selection.

pub(crate) mod client;
pub(crate) mod config;
pub mod manifest;

pub use client::{install_crypto_provider, Credentials};
pub use config::{validate_mirror, RegistryConfig, Timeouts, OFFICIAL_ENDPOINT};
pub use manifest::Platform;
