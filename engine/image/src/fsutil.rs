//! Crash-safe file writes (temp file, fsync, rename, fsync of the directory), unique
//! temporary names, and the apparent size of a tree.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, IoContext, Result};

/// A name unique within this host: pid, a process-wide counter and the clock.
pub(crate) fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}{}-{n}-{nanos}", std::process::id())
}

/// Writes `data` to `path` so readers see the old content or the new, never half of it.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(unique_name(".tmp-"));
    let result = (|| {
        let mut file = File::create(&tmp).at("create", &tmp)?;
        file.write_all(data).at("write", &tmp)?;
        file.sync_all().at("fsync", &tmp)?;
        fs::rename(&tmp, path).at("rename into place", path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsyncs a directory so a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).at("open", dir)?.sync_all().at("fsync", dir)
}

/// Flushes the whole filesystem holding `path` (syncfs): one call makes every file of a
/// freshly extracted layer durable, where an fsync per file would cost a disk flush each.
pub(crate) fn sync_filesystem(path: &Path) -> Result<()> {
    let dir = File::open(path).at("open", path)?;
    nix::unistd::syncfs(&dir)
        .map_err(std::io::Error::from)
        .at("syncfs", path)
}

/// Creates `path` and its parents.
pub(crate) fn ensure_dir(path: &Path) -> Result<PathBuf> {
    fs::create_dir_all(path).at("create directory", path)?;
    Ok(path.to_path_buf())
}

/// Creates `path` (parents as usual) as a directory only its owner, root, may enter: 0700 from
/// the moment it exists, and an existing one is set back to 0700. The store's layers and
/// container layers hold setuid binaries and device nodes, so no other host user may reach
/// them (the shape of docker's CVE-2021-41091).
pub(crate) fn ensure_private_dir(path: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if let Some(parent) = path.parent() {
        ensure_dir(parent)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(Error::io("create directory", path, e))
        }
        _ => {}
    }
    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).at("chmod", path)?;
    Ok(path.to_path_buf())
}

/// The bytes of the regular files under `path` (apparent sizes, as docker's `SizeRw` counts
/// them), without following symlinks or crossing into other mounts. Unreadable parts count 0.
pub fn apparent_size(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = 0;
    let mut pending = vec![path.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(meta) = fs::symlink_metadata(&next) else {
            continue;
        };
        if meta.is_file() {
            total += meta.len();
        } else if meta.is_dir() && meta.dev() == top.dev() {
            if let Ok(entries) = fs::read_dir(&next) {
                pending.extend(entries.flatten().map(|entry| entry.path()));
            }
        }
    }
    total
}
