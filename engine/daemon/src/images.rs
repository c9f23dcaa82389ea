//! The daemon's image service: the berth_image store under data-root/image and the registry
//! settings (mirrors, insecure registries, download limits), swapped on SIGHUP.

use std::sync::{Arc, RwLock};

use anyhow::{Context, Result};
use berth_image::{RegistryConfig, StorageDriver, Store};

use crate::config::{Config, RegistrySettings};

/// Images and how to reach registries.
pub struct Images {
    /// The content store.
    pub store: Store,
    registry: RwLock<Arc<RegistryConfig>>,
}

impl Images {
    /// Opens the store for `config`.
    pub fn open(config: &Config) -> Result<Self> {
        let driver = StorageDriver::parse(&config.storage_driver)
            .with_context(|| format!("storage-driver {}", config.storage_driver))?;
        let root = config.data_root.join("image");
        let store = Store::open(&root, driver)
            .with_context(|| format!("cannot open the image store in {}", root.display()))?;
        Ok(Images {
            store,
            registry: RwLock::new(Arc::new(registry_config(&config.registry)?)),
        })
    }

    /// The registry settings in force.
    pub fn registry(&self) -> Arc<RegistryConfig> {
        match self.registry.read() {
            Ok(config) => Arc::clone(&config),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Applies reloaded registry settings.
    pub fn reconfigure(&self, settings: &RegistrySettings) -> Result<()> {
        let next = Arc::new(registry_config(settings)?);
        let mut slot = match self.registry.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = next;
        Ok(())
    }
}

/// Builds the image crate's registry configuration.
pub fn registry_config(settings: &RegistrySettings) -> Result<RegistryConfig> {
    Ok(
        RegistryConfig::new(&settings.mirrors, &settings.insecure_registries)?
            .with_max_concurrent_downloads(settings.max_concurrent_downloads as usize)?
            .with_max_concurrent_uploads(settings.max_concurrent_uploads as usize)?
            .with_max_download_attempts(settings.max_download_attempts)?,
    )
}
