//! Named volumes (`docker volume`, `-v NAME:/path`): each is `<data-root>/volumes/<name>/_data`,
//! with its creation time and labels in `<name>/volume.json` (written atomically). A volume is
//! created on first use, outlives its containers, and when first mounted empty takes a copy of
//! what the image holds at the mount path, as docker's local driver does. Anonymous volumes
//! (the image's VOLUMEs, `-v /path`) carry [`ANONYMOUS_LABEL`] and go with their container on
//! `rm -v` and `--rm`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use berth_api::volume::Volume;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::fsutil::write_atomic;

/// The label docker gives the volumes it makes for a container's unnamed volume paths.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// A volume request that cannot be met.
#[derive(Debug, Error)]
pub enum VolumeError {
    #[error("get {0}: no such volume")]
    NotFound(String),
    #[error("create {0}: volume name is too short or has characters other than [a-zA-Z0-9_.-] (it must start with a letter or digit)")]
    InvalidName(String),
    #[error("create {name}: driver \"{driver}\" is not supported by berthd: use local")]
    UnsupportedDriver { name: String, driver: String },
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

/// What volume.json keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Meta {
    created_at: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// The volumes under one data root.
pub struct Volumes {
    root: PathBuf,
    /// Serialises create and remove, so a name is never half made.
    lock: Mutex<()>,
}

impl Volumes {
    /// Opens (creating) `<data_root>/volumes`.
    pub fn open(data_root: &Path) -> Result<Self> {
        let root = data_root.join("volumes");
        std::fs::create_dir_all(&root)
            .with_context(|| format!("cannot create {}", root.display()))?;
        Ok(Self {
            root,
            lock: Mutex::new(()),
        })
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The directory containers mount for `name`.
    pub fn mountpoint(&self, name: &str) -> PathBuf {
        self.root.join(name).join("_data")
    }

    /// Creates `name` (a generated name when empty); an existing volume is returned as it is,
    /// as dockerd does.
    pub fn create(
        &self,
        name: &str,
        driver: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<Volume, VolumeError> {
        let name = if name.is_empty() {
            crate::containers::new_id()?
        } else {
            name.to_owned()
        };
        if !valid_name(&name) {
            return Err(VolumeError::InvalidName(name));
        }
        if !matches!(driver, "" | "local") {
            return Err(VolumeError::UnsupportedDriver {
                name,
                driver: driver.to_owned(),
            });
        }
        let _guard = self.guard();
        if let Ok(volume) = self.get(&name) {
            return Ok(volume);
        }
        let dir = self.root.join(&name);
        let data = dir.join("_data");
        std::fs::create_dir_all(&data)
            .with_context(|| format!("cannot create {}", data.display()))?;
        let meta = Meta {
            created_at: crate::containers::now_rfc3339(),
            labels,
        };
        let bytes = serde_json::to_vec_pretty(&meta).context("volume.json")?;
        // volume.json appears last: a volume without it is an interrupted create.
        write_atomic(&dir.join("volume.json"), &bytes)?;
        Ok(self.describe(&name, meta))
    }

    /// The volume called `name`.
    pub fn get(&self, name: &str) -> Result<Volume, VolumeError> {
        if !valid_name(name) {
            return Err(VolumeError::NotFound(name.to_owned()));
        }
        let path = self.root.join(name).join("volume.json");
        let bytes = std::fs::read(&path).map_err(|_| VolumeError::NotFound(name.to_owned()))?;
        let meta: Meta = serde_json::from_slice(&bytes)
            .with_context(|| format!("cannot parse {}", path.display()))?;
        Ok(self.describe(name, meta))
    }

    /// Every volume, by name.
    pub fn list(&self) -> Vec<Volume> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|entry| entry.file_name().into_string().ok())
            .collect();
        names.sort();
        names
            .iter()
            .filter_map(|name| self.get(name).ok())
            .collect()
    }

    /// Deletes `name` and its data; the caller has checked that no container uses it.
    /// Returns the bytes its files held.
    pub fn remove(&self, name: &str) -> Result<u64, VolumeError> {
        let _guard = self.guard();
        self.get(name)?;
        let dir = self.root.join(name);
        let size = berth_image::apparent_size(&dir.join("_data"));
        // volume.json goes first, so an interrupted removal leaves no half volume behind.
        let meta = dir.join("volume.json");
        std::fs::remove_file(&meta).with_context(|| format!("cannot remove {}", meta.display()))?;
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
        Ok(size)
    }

    fn describe(&self, name: &str, meta: Meta) -> Volume {
        Volume {
            name: name.to_owned(),
            driver: "local".to_owned(),
            mountpoint: self.mountpoint(name).display().to_string(),
            created_at: meta.created_at,
            labels: meta.labels,
            scope: "local".to_owned(),
            options: BTreeMap::new(),
            usage_data: None,
        }
    }
}

/// Docker's volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    crate::containers::valid_name(name)
}

/// On a mount of the volume at `data`: if it is empty, copies in what the image holds at
/// `destination` under `rootfs` (ownership and modes kept), as docker's local driver does.
/// A destination reached through a symlink is not copied: the link could lead out of the
/// rootfs into the host.
pub fn copy_up(rootfs: &Path, destination: &str, data: &Path) -> Result<()> {
    let empty = std::fs::read_dir(data)
        .with_context(|| format!("cannot read volume {}", data.display()))?
        .next()
        .is_none();
    if !empty {
        return Ok(());
    }
    let mut source = rootfs.to_path_buf();
    for component in Path::new(destination).components() {
        match component {
            std::path::Component::RootDir => {}
            std::path::Component::Normal(part) => {
                source.push(part);
                match std::fs::symlink_metadata(&source) {
                    Ok(meta) if meta.is_dir() => {}
                    _ => return Ok(()),
                }
            }
            _ => return Ok(()),
        }
    }
    copy_tree(&source, data)
        .with_context(|| format!("cannot copy {destination} of the image into the volume"))
}

/// Copies the directory `source` onto the existing directory `target`: its owner and mode,
/// then each entry (directories, files and symlinks; other kinds are skipped).
fn copy_tree(source: &Path, target: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{lchown, MetadataExt};
    let meta = std::fs::symlink_metadata(source)?;
    lchown(target, Some(meta.uid()), Some(meta.gid()))?;
    std::fs::set_permissions(target, meta.permissions())?;
    for entry in std::fs::read_dir(source)? {
        let entry = entry?;
        let from = entry.path();
        let to = target.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&from)?;
        let kind = meta.file_type();
        if kind.is_dir() {
            std::fs::create_dir(&to)?;
            copy_tree(&from, &to)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
            lchown(&to, Some(meta.uid()), Some(meta.gid()))?;
        } else if kind.is_file() {
            std::fs::copy(&from, &to)?;
            lchown(&to, Some(meta.uid()), Some(meta.gid()))?;
            std::fs::set_permissions(&to, meta.permissions())?;
        }
    }
    Ok(())
}
