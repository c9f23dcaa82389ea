//! The content-addressed build cache: where images, vendored sources and the persistent cargo
//! target dirs live, how image digests are computed, and listing and pruning.
//!
//! Layout under the cache root:
//! - `images/<digest>/rootfs` and `images/<digest>/image.json`: finished images;
//! - `images/.partial-<digest>`: an image being built (renamed into place when done);
//! - `vendor/<Cargo.lock sha256>`: `cargo vendor` output mounted read-only into builds;
//! - `dev-cache/<digest>`: the persistent target dir and cargo home of builds in that image
//!   (moby's docker-dev-cache);
//! - `logs/`: debootstrap and compiler logs.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::debootstrap::ReleaseInfo;
use super::definition::Definition;
use super::toolchain::Toolchain;

/// Bumped whenever the way an image is made changes, so older images stop matching.
const RECIPE_VERSION: u32 = 1;

/// The build cache root and its parts.
#[derive(Debug, Clone)]
pub struct Cache {
    pub root: PathBuf,
}

impl Cache {
    /// `explicit` (from --cache-dir or $BERTH_BUILD_CACHE), else /var/cache/berth-build for root,
    /// else $XDG_CACHE_HOME/berth-build, else ~/.cache/berth-build.
    pub fn resolve(explicit: Option<PathBuf>) -> Self {
        let root = explicit.unwrap_or_else(|| {
            // SAFETY: geteuid has no preconditions and cannot fail.
            if unsafe { libc::geteuid() } == 0 {
                return PathBuf::from("/var/cache/berth-build");
            }
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
                .unwrap_or_else(std::env::temp_dir)
                .join("berth-build")
        });
        Self { root }
    }

    /// Creates the cache directories (and a CACHEDIR.TAG so backups skip them).
    pub fn create(&self) -> Result<()> {
        for dir in ["images", "vendor", "dev-cache", "logs"] {
            let dir = self.root.join(dir);
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        }
        let tag = self.root.join("CACHEDIR.TAG");
        if !tag.exists() {
            std::fs::write(
                &tag,
                "Signature: 8a477f597d28d172789f06886806bc55\n# berth build cache\n",
            )
            .with_context(|| format!("write {}", tag.display()))?;
        }
        Ok(())
    }

    pub fn image_dir(&self, digest: &ImageDigest) -> PathBuf {
        self.root.join("images").join(digest.hex())
    }

    pub fn partial_image_dir(&self, digest: &ImageDigest) -> PathBuf {
        self.root
            .join("images")
            .join(format!(".partial-{}", digest.hex()))
    }

    pub fn dev_cache_dir(&self, digest: &ImageDigest) -> PathBuf {
        self.root.join("dev-cache").join(digest.hex())
    }

    pub fn vendor_dir(&self, lock_hash: &str) -> PathBuf {
        self.root.join("vendor").join(lock_hash)
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.root.join("logs").join(name)
    }

    /// Takes the cache's exclusive lock (held until the returned file is dropped), so parallel
    /// builds do not make the same image twice or prune under each other.
    pub fn lock(&self) -> Result<File> {
        super::host::lock_exclusive(&self.root.join(".lock"))
    }

    /// The manifests of every finished image, by digest.
    pub fn images(&self) -> Result<BTreeMap<String, ImageManifest>> {
        let mut images = BTreeMap::new();
        let dir = self.root.join("images");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(images);
        };
        for entry in entries {
            let path = entry?.path();
            let manifest_path = path.join("image.json");
            if !manifest_path.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&manifest_path)?;
            let manifest: ImageManifest = serde_json::from_str(&text)
                .with_context(|| format!("{}: not an image manifest", manifest_path.display()))?;
            images.insert(manifest.digest.clone(), manifest);
        }
        Ok(images)
    }
}

/// `sha256:<hex>` of an image's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDigest(String);

impl ImageDigest {
    /// Digests everything that decides what the image holds: the parsed definition, the mirror,
    /// the debootstrap version and the pinned toolchain (`rustc -vV`).
    pub fn of_inputs(inputs: &ImageInputs) -> Result<Self> {
        let canonical = serde_json::to_vec(inputs)?;
        Ok(Self(format!(
            "sha256:{}",
            hex::encode(Sha256::digest(canonical))
        )))
    }

    pub fn hex(&self) -> &str {
        self.0.trim_start_matches("sha256:")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What goes into an image digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageInputs {
    pub recipe_version: u32,
    pub definition: Definition,
    pub mirror: String,
    pub debootstrap_version: String,
    pub rust_channel: String,
    pub rustc_version_verbose: String,
}

impl ImageInputs {
    pub fn new(
        definition: &Definition,
        mirror: &str,
        debootstrap_version: &str,
        toolchain: &Toolchain,
    ) -> Self {
        Self {
            recipe_version: RECIPE_VERSION,
            definition: definition.clone(),
            mirror: mirror.to_owned(),
            debootstrap_version: debootstrap_version.to_owned(),
            rust_channel: toolchain.channel.clone(),
            rustc_version_verbose: toolchain.rustc_version_verbose.clone(),
        }
    }
}

/// images/<digest>/image.json: the inputs plus what the build found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageManifest {
    pub digest: String,
    pub inputs: ImageInputs,
    pub release: ReleaseInfo,
    /// `name=version` of every installed package.
    pub packages: Vec<String>,
    /// sha256 over the rootfs's paths, types, modes, owners and contents (not times): two
    /// builds from the same mirror state give the same value.
    pub rootfs_digest: String,
    pub rootfs_bytes: u64,
}

/// Hashes a directory tree in a fixed order; returns (`sha256:<hex>`, total file bytes).
pub fn tree_digest(root: &Path) -> Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    hash_dir(root, Path::new(""), &mut hasher, &mut bytes)?;
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), bytes))
}

fn hash_dir(root: &Path, relative: &Path, hasher: &mut Sha256, bytes: &mut u64) -> Result<()> {
    let dir = root.join(relative);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("read {}", dir.display()))?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    for name in names {
        let relative = relative.join(&name);
        let path = root.join(&relative);
        let meta = std::fs::symlink_metadata(&path)?;
        let kind = meta.file_type();
        hasher.update(relative.as_os_str().as_encoded_bytes());
        hasher.update(format!(
            "\0{:o}:{}:{}\0",
            meta.mode(),
            meta.uid(),
            meta.gid()
        ));
        if kind.is_symlink() {
            hasher.update(std::fs::read_link(&path)?.as_os_str().as_encoded_bytes());
        } else if kind.is_file() {
            *bytes += meta.len();
            let mut file = File::open(&path)?;
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let read = file.read(&mut buffer)?;
                if read == 0 {
                    break;
                }
                hasher.update(&buffer[..read]);
            }
        } else if kind.is_block_device() || kind.is_char_device() {
            hasher.update(meta.rdev().to_le_bytes());
        } else if kind.is_dir() {
            hash_dir(root, &relative, hasher, bytes)?;
        }
        hasher.update(b"\n");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_digest_follows_content_and_modes_but_not_times() {
        let temp = tempfile::tempdir().expect("tempdir");
        let root = temp.path();
        std::fs::create_dir(root.join("etc")).expect("mkdir");
        std::fs::write(root.join("etc/hostname"), "berth-build\n").expect("write");
        std::os::unix::fs::symlink("etc/hostname", root.join("link")).expect("symlink");
        let (first, bytes) = tree_digest(root).expect("digest");
        assert_eq!(bytes, 12);

        let file = File::options()
            .write(true)
            .open(root.join("etc/hostname"))
            .expect("open");
        file.set_modified(std::time::SystemTime::UNIX_EPOCH)
            .expect("set mtime");
        assert_eq!(
            tree_digest(root).expect("digest").0,
            first,
            "times must not count"
        );

        std::fs::write(root.join("etc/hostname"), "other\n").expect("write");
        assert_ne!(
            tree_digest(root).expect("digest").0,
            first,
            "contents must count"
        );
    }
}
