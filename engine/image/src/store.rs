//! The content-addressed image store under data-root: blobs, image records, layers and the
//! name:tag → image id references. Every metadata write is temp + fsync + rename; an
//! exclusive `flock` on `<root>/lock` keeps a second daemon off the same data-root.
//!
//! Layout:
//! ```text
//! <root>/lock
//! (the root and every directory below it that holds layers are 0700: root only)
//! <root>/tmp/                      partial downloads and extractions, emptied at open
//! <root>/blobs/sha256/<hex>        manifests, configs and layer blobs, verified
//! <root>/images/<hex>.json         one ImageRecord per image id (the config digest)
//! <root>/layers/<diff-id hex>/diff one extracted layer, overlay2 format (whiteouts as 0/0 devs)
//! <root>/l/<16 hex>                short symlinks to layer diffs, for overlay mount options
//! <root>/containers/<id>/          per-container upper/work/merged (overlay2) or rootfs (vfs)
//! <root>/references.json           {"docker.io/library/x:latest": "sha256:…", …}
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::fsutil::{
    apparent_size, ensure_dir, ensure_private_dir, sync_dir, sync_filesystem, unique_name,
    write_atomic,
};
use crate::reference::Reference;
use crate::snapshot::StorageDriver;

/// An image id: the digest of its config blob.
pub type ImageId = Digest;

/// A blob as a manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobDescriptor {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// One layer of an image: its uncompressed diff_id and, when known, the blob it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLayer {
    pub diff_id: Digest,
    pub blob: Option<BlobDescriptor>,
}

/// What the store knows about one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The config digest.
    pub id: ImageId,
    /// Layers, bottom first.
    pub layers: Vec<ImageLayer>,
    /// The platform manifest it was pulled with, if any, kept byte-exact for push.
    pub manifest: Option<BlobDescriptor>,
    /// Further blobs to keep with the image (an index the manifest was chosen from).
    #[serde(default)]
    pub extra_blobs: Vec<Digest>,
    /// Sum of the layers' file sizes, in bytes.
    pub size: u64,
}

/// A row of `docker images`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    pub id: ImageId,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// Seconds since the epoch, from the config's `created`.
    pub created: i64,
    pub size: u64,
}

/// What the images take on disk, as `docker system df` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Bytes of every stored layer, each counted once.
    pub layers_size: u64,
    /// Per image: its layers' bytes, and the part of them that other images use too.
    pub images: BTreeMap<ImageId, ImageUsage>,
    /// Bytes of blobs and extracted layers no image uses (left by failed or running pulls):
    /// what garbage collection would free.
    pub unreferenced_size: u64,
}

/// One image's share of [`DiskUsage`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageUsage {
    pub size: u64,
    pub shared_size: u64,
}

/// One step of an image removal, as `docker rmi` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveAction {
    Untagged(String),
    Deleted(ImageId),
}

/// What an image removal did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    pub actions: Vec<RemoveAction>,
    /// Bytes of the layers and blobs that no image used any more and were deleted.
    pub space_reclaimed: u64,
}

/// Per-layer metadata stored next to its diff directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LayerMeta {
    pub diff_id: Digest,
    pub size: u64,
}

/// The image store. Cheap to clone; all clones share one lock.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) root: PathBuf,
    pub(crate) driver: StorageDriver,
    /// Serializes read-modify-write of references.json and image records.
    pub(crate) metadata: Mutex<()>,
    /// Pulls and loads hold it shared; layer garbage collection holds it exclusively.
    pub(crate) gc_fence: tokio::sync::RwLock<()>,
    _lock: Flock<File>,
}

impl Store {
    /// Opens (creating if needed) the store at `root` with the given storage driver, which is
    /// checked to work here. Fails with [`Error::Locked`] if another process holds the store.
    pub fn open(root: impl Into<PathBuf>, driver: StorageDriver) -> Result<Store> {
        let root = root.into();
        ensure_private_dir(&root)?;
        let lock_path = root.join("lock");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .at("open", &lock_path)?;
        let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock)
            .map_err(|_| Error::Locked(root.clone()))?;
        for dir in ["blobs", "images", "layers", "l", "containers"] {
            ensure_private_dir(&root.join(dir))?;
        }
        ensure_dir(&root.join("blobs/sha256"))?;
        let tmp = root.join("tmp");
        if tmp.exists() {
            // Leftovers of an interrupted pull: never visible, safe to drop under the lock.
            fs::remove_dir_all(&tmp).at("clean", &tmp)?;
        }
        ensure_private_dir(&tmp)?;
        driver.check(&root)?;
        Ok(Store {
            inner: Arc::new(Inner {
                root,
                driver,
                metadata: Mutex::new(()),
                gc_fence: tokio::sync::RwLock::new(()),
                _lock: lock,
            }),
        })
    }

    /// The data-root.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The storage driver in use.
    pub fn driver(&self) -> StorageDriver {
        self.inner.driver
    }

    /// Where a verified blob lives.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.inner.root.join("blobs/sha256").join(digest.hex())
    }

    /// True if the blob is stored (it was verified before it was stored).
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Reads a whole blob.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        fs::read(&path).at("read blob", path)
    }

    /// Verifies and stores a small blob (manifest, config).
    pub(crate) fn put_blob(&self, digest: &Digest, data: &[u8]) -> Result<()> {
        digest.verify(digest.as_str(), data)?;
        if !self.has_blob(digest) {
            write_atomic(&self.blob_path(digest), data)?;
        }
        Ok(())
    }

    /// Moves an already verified and fsynced temp file into the blob store.
    pub(crate) fn commit_blob_file(&self, tmp: &Path, digest: &Digest) -> Result<()> {
        let dest = self.blob_path(digest);
        fs::rename(tmp, &dest).at("rename into place", &dest)?;
        sync_dir(dest.parent().unwrap_or(&self.inner.root))
    }

    /// A fresh path under `<root>/tmp` (not created).
    pub(crate) fn tmp_path(&self, prefix: &str) -> PathBuf {
        self.inner.root.join("tmp").join(unique_name(prefix))
    }

    /// The directory of a layer (holding `diff/` and `layer.json`).
    pub(crate) fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.inner.root.join("layers").join(diff_id.hex())
    }

    /// The extracted content of a layer, overlay2 format.
    pub fn layer_diff(&self, diff_id: &Digest) -> PathBuf {
        self.layer_dir(diff_id).join("diff")
    }

    /// The short path overlay mount options use for a layer's diff.
    pub(crate) fn layer_short_link(&self, diff_id: &Digest) -> PathBuf {
        self.inner.root.join("l").join(&diff_id.hex()[..16])
    }

    /// True if the layer is fully extracted (its directory appears only when complete).
    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_dir(diff_id).join("layer.json").is_file()
    }

    pub(crate) fn layer_meta(&self, diff_id: &Digest) -> Result<LayerMeta> {
        let path = self.layer_dir(diff_id).join("layer.json");
        let data = fs::read(&path).at("read", &path)?;
        serde_json::from_slice(&data).map_err(|e| Error::BadArchive {
            what: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// Publishes a finished extraction: `tmp_dir` holds `diff/`; the layer dir appears
    /// atomically. If another pull got there first, the duplicate is dropped.
    pub(crate) fn commit_layer(&self, tmp_dir: &Path, meta: &LayerMeta) -> Result<()> {
        let meta_bytes = serde_json::to_vec(meta).map_err(|e| Error::Conflict(e.to_string()))?;
        // The extracted files are on disk before the layer is published, so a power cut never
        // leaves a committed layer with empty or short files (containerd syncs on commit too).
        sync_filesystem(tmp_dir)?;
        write_atomic(&tmp_dir.join("layer.json"), &meta_bytes)?;
        let dest = self.layer_dir(&meta.diff_id);
        match fs::rename(tmp_dir, &dest) {
            Ok(()) => {}
            Err(_) if self.has_layer(&meta.diff_id) => {
                fs::remove_dir_all(tmp_dir).at("remove duplicate layer", tmp_dir)?;
            }
            Err(e) => return Err(Error::io("rename into place", &dest, e)),
        }
        sync_dir(&self.inner.root.join("layers"))?;
        let link = self.layer_short_link(&meta.diff_id);
        let target = Path::new("../layers").join(meta.diff_id.hex()).join("diff");
        match std::os::unix::fs::symlink(&target, &link) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(Error::io("create link", &link, e)),
        }
    }

    fn image_path(&self, id: &ImageId) -> PathBuf {
        self.inner
            .root
            .join("images")
            .join(format!("{}.json", id.hex()))
    }

    /// Writes an image record; all its layers must already be committed.
    pub(crate) fn write_image(&self, record: &ImageRecord) -> Result<()> {
        let data = serde_json::to_vec_pretty(record).map_err(|e| Error::Conflict(e.to_string()))?;
        write_atomic(&self.image_path(&record.id), &data)
    }

    /// The record of an image by id.
    pub fn image(&self, id: &ImageId) -> Result<ImageRecord> {
        let path = self.image_path(id);
        let data = fs::read(&path).map_err(|_| Error::NotFound(id.to_string()))?;
        serde_json::from_slice(&data).map_err(|e| Error::BadArchive {
            what: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// The raw config blob of an image (Docker/OCI image config JSON).
    pub fn image_config_bytes(&self, id: &ImageId) -> Result<Vec<u8>> {
        self.read_blob(id)
    }

    /// The parsed config of an image (Env, Cmd, Entrypoint, WorkingDir, User, ...).
    pub fn image_config(&self, id: &ImageId) -> Result<oci_spec::image::ImageConfiguration> {
        let data = self.read_blob(id)?;
        serde_json::from_slice(&data).map_err(|e| Error::BadArchive {
            what: format!("image config {id}"),
            reason: e.to_string(),
        })
    }

    /// All image ids in the store.
    pub fn image_ids(&self) -> Result<Vec<ImageId>> {
        let dir = self.inner.root.join("images");
        let mut ids = Vec::new();
        for entry in fs::read_dir(&dir).at("list", &dir)? {
            let entry = entry.at("list", &dir)?;
            let name = entry.file_name();
            let Some(hex) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if let Ok(id) = Digest::parse(&format!("sha256:{hex}")) {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    fn read_references(&self) -> Result<BTreeMap<String, ImageId>> {
        let path = self.inner.root.join("references.json");
        match fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data).map_err(|e| Error::BadArchive {
                what: path.display().to_string(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    fn write_references(&self, refs: &BTreeMap<String, ImageId>) -> Result<()> {
        let data = serde_json::to_vec_pretty(refs).map_err(|e| Error::Conflict(e.to_string()))?;
        write_atomic(&self.inner.root.join("references.json"), &data)
    }

    fn lock_metadata(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .metadata
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Points `reference` (a tag or a repo digest) at `id`.
    pub fn tag(&self, id: &ImageId, reference: &Reference) -> Result<()> {
        self.image(id)?;
        let _guard = self.lock_metadata();
        let mut refs = self.read_references()?;
        refs.insert(reference.to_string(), id.clone());
        self.write_references(&refs)
    }

    /// Every reference pointing at `id`.
    pub fn references_of(&self, id: &ImageId) -> Result<Vec<Reference>> {
        Ok(self
            .read_references()?
            .into_iter()
            .filter(|(_, v)| v == id)
            .filter_map(|(k, _)| Reference::parse(&k).ok())
            .collect())
    }

    /// The image a reference points at, if any.
    pub fn lookup(&self, reference: &Reference) -> Result<Option<ImageId>> {
        Ok(self.read_references()?.get(&reference.to_string()).cloned())
    }

    /// Resolves what a user typed: a reference (`busybox`, `x:1`, `x@sha256:…`), a full
    /// image id (`sha256:…` or 64 hex) or a unique id prefix (at least 4 hex characters).
    pub fn resolve(&self, name_or_id: &str) -> Result<ImageId> {
        let not_found = || Error::NotFound(name_or_id.to_string());
        let hex_part = name_or_id.strip_prefix("sha256:").unwrap_or(name_or_id);
        if hex_part.len() >= 4
            && hex_part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            let matches: Vec<_> = self
                .image_ids()?
                .into_iter()
                .filter(|id| id.hex().starts_with(hex_part))
                .collect();
            match matches.len() {
                1 => return matches.into_iter().next().ok_or_else(not_found),
                0 => {}
                _ => {
                    return Err(Error::Conflict(format!(
                        "image id prefix {name_or_id} is ambiguous"
                    )))
                }
            }
        }
        let reference = Reference::parse(name_or_id)?;
        self.lookup(&reference)?.ok_or_else(not_found)
    }

    /// `docker images`: every image with its tags and repo digests.
    pub fn images(&self) -> Result<Vec<ImageSummary>> {
        let refs = self.read_references()?;
        let mut out = Vec::new();
        for id in self.image_ids()? {
            let record = self.image(&id)?;
            let mut repo_tags = Vec::new();
            let mut repo_digests = Vec::new();
            for (name, target) in &refs {
                if *target != id {
                    continue;
                }
                let Ok(r) = Reference::parse(name) else {
                    continue;
                };
                if r.digest().is_some() {
                    repo_digests.push(r.familiar());
                } else {
                    repo_tags.push(r.familiar());
                }
            }
            out.push(ImageSummary {
                created: self.created_of(&id),
                id,
                repo_tags,
                repo_digests,
                size: record.size,
            });
        }
        Ok(out)
    }

    /// Layer bytes per image and in all, from each layer's recorded size.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let mut records = Vec::new();
        let mut users: BTreeMap<Digest, usize> = BTreeMap::new();
        for id in self.image_ids()? {
            let record = self.image(&id)?;
            let distinct: BTreeSet<&Digest> =
                record.layers.iter().map(|layer| &layer.diff_id).collect();
            for diff_id in distinct {
                *users.entry(diff_id.clone()).or_default() += 1;
            }
            records.push(record);
        }
        let sizes: BTreeMap<&Digest, u64> = users
            .keys()
            .map(|diff_id| {
                let size = self.layer_meta(diff_id).map_or(0, |meta| meta.size);
                (diff_id, size)
            })
            .collect();
        let mut usage = DiskUsage {
            layers_size: sizes.values().sum(),
            images: BTreeMap::new(),
            unreferenced_size: self.unreferenced()?.iter().map(|u| u.size).sum(),
        };
        for record in &records {
            let distinct: BTreeSet<&Digest> =
                record.layers.iter().map(|layer| &layer.diff_id).collect();
            let mut image = ImageUsage::default();
            for diff_id in distinct {
                let size = sizes.get(diff_id).copied().unwrap_or(0);
                image.size += size;
                if users.get(diff_id).copied().unwrap_or(0) > 1 {
                    image.shared_size += size;
                }
            }
            usage.images.insert(record.id.clone(), image);
        }
        Ok(usage)
    }

    fn created_of(&self, id: &ImageId) -> i64 {
        #[derive(Deserialize)]
        struct Created {
            created: Option<String>,
        }
        self.read_blob(id)
            .ok()
            .and_then(|data| serde_json::from_slice::<Created>(&data).ok())
            .and_then(|c| c.created)
            .and_then(|c| parse_rfc3339_seconds(&c))
            .unwrap_or(0)
    }

    /// `docker rmi`: a tag untags (and deletes the image when no tag is left); an id deletes
    /// the image and all its references (refused without `force` if several repositories
    /// name it). Layers and blobs no remaining image uses are then removed. The caller
    /// refuses images its containers still use.
    pub async fn remove_image(&self, name_or_id: &str, force: bool) -> Result<Removal> {
        let id = self.resolve(name_or_id)?;
        let by_reference = Reference::parse(name_or_id)
            .ok()
            .filter(|r| self.lookup(r).ok().flatten().is_some());
        let mut actions = Vec::new();
        let delete = {
            let _guard = self.lock_metadata();
            let mut refs = self.read_references()?;
            let mine: Vec<Reference> = refs
                .iter()
                .filter(|(_, v)| **v == id)
                .filter_map(|(k, _)| Reference::parse(k).ok())
                .collect();
            let to_untag: Vec<Reference> = match &by_reference {
                Some(r) => {
                    let remaining_tags = mine
                        .iter()
                        .filter(|m| m.digest().is_none() && *m != r)
                        .count();
                    if remaining_tags == 0 {
                        mine.clone()
                    } else {
                        vec![r.clone()]
                    }
                }
                None => {
                    let repos: BTreeSet<String> = mine.iter().map(|r| r.name()).collect();
                    if repos.len() > 1 && !force {
                        return Err(Error::Conflict(format!(
                            "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                            id.short()
                        )));
                    }
                    mine.clone()
                }
            };
            for r in &to_untag {
                refs.remove(&r.to_string());
                actions.push(RemoveAction::Untagged(r.familiar()));
            }
            self.write_references(&refs)?;
            !refs.values().any(|v| *v == id)
        };
        let mut space_reclaimed = 0;
        if delete {
            let _fence = self.inner.gc_fence.write().await;
            let path = self.image_path(&id);
            fs::remove_file(&path).at("remove", &path)?;
            actions.push(RemoveAction::Deleted(id));
            let store = self.clone();
            space_reclaimed = tokio::task::spawn_blocking(move || store.collect_garbage())
                .await
                .map_err(|e| Error::Conflict(e.to_string()))??;
        }
        Ok(Removal {
            actions,
            space_reclaimed,
        })
    }

    /// The layers and blobs no image record uses.
    fn unreferenced(&self) -> Result<Vec<Unreferenced>> {
        let mut keep_layers = BTreeSet::new();
        let mut keep_blobs = BTreeSet::new();
        for id in self.image_ids()? {
            let record = self.image(&id)?;
            keep_blobs.insert(id.hex().to_string());
            if let Some(m) = &record.manifest {
                keep_blobs.insert(m.digest.hex().to_string());
            }
            keep_blobs.extend(record.extra_blobs.iter().map(|d| d.hex().to_string()));
            for layer in &record.layers {
                keep_layers.insert(layer.diff_id.hex().to_string());
                if let Some(b) = &layer.blob {
                    keep_blobs.insert(b.digest.hex().to_string());
                }
            }
        }
        let mut out = Vec::new();
        let layers = self.inner.root.join("layers");
        for entry in fs::read_dir(&layers).at("list", &layers)? {
            let entry = entry.at("list", &layers)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !keep_layers.contains(&name) {
                out.push(Unreferenced {
                    size: apparent_size(&entry.path()),
                    path: entry.path(),
                    layer: Some(name),
                });
            }
        }
        let blobs = self.inner.root.join("blobs/sha256");
        for entry in fs::read_dir(&blobs).at("list", &blobs)? {
            let entry = entry.at("list", &blobs)?;
            if !keep_blobs.contains(&*entry.file_name().to_string_lossy()) {
                out.push(Unreferenced {
                    size: entry.metadata().map(|meta| meta.len()).unwrap_or(0),
                    path: entry.path(),
                    layer: None,
                });
            }
        }
        Ok(out)
    }

    /// Removes layers and blobs that no image record uses, and returns their bytes. Call with
    /// the gc fence held.
    fn collect_garbage(&self) -> Result<u64> {
        let mut freed = 0;
        for doomed in self.unreferenced()? {
            freed += doomed.size;
            match &doomed.layer {
                Some(name) => {
                    let link = self
                        .inner
                        .root
                        .join("l")
                        .join(name.get(..16).unwrap_or(name));
                    let _ = fs::remove_file(&link);
                    // Rename first so a half-deleted layer is never mistaken for a complete one.
                    let renamed = self.tmp_path("gc-");
                    fs::rename(&doomed.path, &renamed).at("remove layer", &doomed.path)?;
                    fs::remove_dir_all(&renamed).at("remove layer", &renamed)?;
                }
                None => fs::remove_file(&doomed.path).at("remove blob", &doomed.path)?,
            }
        }
        Ok(freed)
    }
}

/// A layer dir (named by its diff_id hex) or a blob file no image uses.
struct Unreferenced {
    path: PathBuf,
    size: u64,
    layer: Option<String>,
}

/// Parses the seconds of an RFC 3339 timestamp such as `2023-05-04T17:37:03.872958712Z`.
fn parse_rfc3339_seconds(s: &str) -> Option<i64> {
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let hms: Vec<i64> = time
        .get(..8)?
        .split(':')
        .map(|p| p.parse::<i64>())
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    let rest = &time[8..];
    let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = if rest.is_empty() || rest == "Z" {
        0
    } else {
        let sign = if rest.starts_with('-') { -1 } else { 1 };
        let (oh, om) = rest.get(1..)?.split_once(':')?;
        sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + hms.first()? * 3600 + hms.get(1)? * 60 + hms.get(2)? - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_seconds("2023-05-04T17:37:03.872958712Z"),
            Some(1683221823)
        );
        assert_eq!(
            parse_rfc3339_seconds("2023-05-04T19:37:03+02:00"),
            Some(1683221823)
        );
    }
}
