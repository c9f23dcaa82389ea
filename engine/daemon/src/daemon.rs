//! The daemon's shared state: the live configuration (swapped on SIGHUP), its identity, and
//! the services the API handlers call.

use std::sync::{Arc, RwLock};

use anyhow::{Context, Result};

use crate::cli::Flags;
use crate::config::Config;
use crate::containers::Containers;
use crate::images::Images;
use crate::logging::LevelHandle;
use crate::volumes::Volumes;

/// What every API handler can reach.
pub struct Daemon {
    config: RwLock<Arc<Config>>,
    flags: Flags,
    /// Stable identity, kept in data-root/engine-id.
    pub id: String,
    /// Images and registries.
    pub images: Images,
    /// Containers.
    pub containers: Containers,
    /// Named volumes.
    pub volumes: Volumes,
    log_level: LevelHandle,
}

impl Daemon {
    /// Builds the daemon state for `config`.
    pub fn new(config: Config, flags: Flags, log_level: LevelHandle) -> Result<Self> {
        let id = engine_id(&config)?;
        let images = Images::open(&config)?;
        let containers = Containers::open(&config.data_root, &config.exec_root)?;
        let volumes = Volumes::open(&config.data_root)?;
        Ok(Daemon {
            images,
            containers,
            volumes,
            config: RwLock::new(Arc::new(config)),
            flags,
            id,
            log_level,
        })
    }

    /// A snapshot of the current configuration.
    pub fn config(&self) -> Arc<Config> {
        match self.config.read() {
            Ok(config) => Arc::clone(&config),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// SIGHUP: re-reads daemon.json and applies the reloadable keys, or logs why not and keeps
    /// the old configuration.
    pub fn reload(&self) {
        let current = self.config();
        match current.reloaded(&self.flags) {
            Ok(next) => {
                if let Err(err) = self.images.reconfigure(&next.registry) {
                    tracing::error!("error reloading configuration (keeping the old one): {err:#}");
                    return;
                }
                self.log_level.set(next.effective_log_level());
                tracing::info!(
                    mirrors = ?next.registry.mirrors,
                    insecure_registries = ?next.registry.insecure_registries,
                    debug = next.debug,
                    max_concurrent_downloads = next.registry.max_concurrent_downloads,
                    max_concurrent_uploads = next.registry.max_concurrent_uploads,
                    labels = ?next.labels,
                    shutdown_timeout = next.shutdown_timeout.as_secs(),
                    "reloaded configuration"
                );
                let mut slot = match self.config.write() {
                    Ok(slot) => slot,
                    Err(poisoned) => poisoned.into_inner(),
                };
                *slot = Arc::new(next);
            }
            Err(err) => {
                tracing::error!("error reloading configuration (keeping the old one): {err}");
            }
        }
    }
}

/// Reads data-root/engine-id, creating it from the kernel's random UUID the first time.
fn engine_id(config: &Config) -> Result<String> {
    let path = config.data_root.join("engine-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() {
            return Ok(id.to_owned());
        }
    }
    let id = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .context("cannot read /proc/sys/kernel/random/uuid")?
        .trim()
        .to_owned();
    crate::fsutil::write_atomic(&path, id.as_bytes())?;
    Ok(id)
}
