//! Snapshots: turning an image's layers into a container root filesystem. overlay2 stacks the
//! layer diffs as lowerdirs under a per-container upper/work dir; vfs copies them into a
//! plain directory, applying whiteouts and opaque dirs, where overlay is unavailable.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{AtFlags, AT_FDCWD};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, Gid, Uid};

use crate::error::{Error, IoContext, Result};
use crate::extract::{get_xattr, OVERLAY_OPAQUE_XATTR};
use crate::fsutil::{apparent_size, ensure_dir, unique_name};
use crate::store::{ImageId, Store};

/// The `storage-driver` of daemon.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageDriver {
    #[default]
    Overlay2,
    Vfs,
}

impl StorageDriver {
    /// Parses a `storage-driver` value, naming the field on error.
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "overlay2" | "overlay" => Ok(StorageDriver::Overlay2),
            "vfs" => Ok(StorageDriver::Vfs),
            other => Err(Error::Config {
                field: "storage-driver".into(),
                reason: format!("unknown driver {other:?} (supported: overlay2, vfs)"),
            }),
        }
    }

    /// The name daemon.json and `docker info` use.
    pub fn name(self) -> &'static str {
        match self {
            StorageDriver::Overlay2 => "overlay2",
            StorageDriver::Vfs => "vfs",
        }
    }

    /// Proves the driver works under `root`: overlay2 mounts a throwaway overlay with a
    /// whiteout in it; vfs always works.
    pub(crate) fn check(self, root: &Path) -> Result<()> {
        if self == StorageDriver::Vfs {
            return Ok(());
        }
        let fail = |reason: String| Error::StorageDriver {
            driver: self.name().into(),
            root: root.to_path_buf(),
            reason,
        };
        let probe = root.join("tmp").join(unique_name("overlay-check-"));
        let result = (|| {
            for d in ["lower", "upper", "work", "merged"] {
                ensure_dir(&probe.join(d))?;
            }
            mknod(
                &probe.join("lower/gone"),
                SFlag::S_IFCHR,
                Mode::empty(),
                makedev(0, 0),
            )
            .map_err(|e| fail(format!("cannot create whiteout device (needs root): {e}")))?;
            let data = format!(
                "lowerdir={},upperdir={},workdir={}",
                probe.join("lower").display(),
                probe.join("upper").display(),
                probe.join("work").display()
            );
            mount(
                Some("overlay"),
                &probe.join("merged"),
                Some("overlay"),
                MsFlags::empty(),
                Some(data.as_str()),
            )
            .map_err(|e| {
                fail(format!(
                    "mount overlay failed: {e}; set \"storage-driver\": \"vfs\" in daemon.json"
                ))
            })?;
            let whiteout_hidden = !probe.join("merged/gone").exists();
            let _ = umount2(&probe.join("merged"), MntFlags::MNT_DETACH);
            if whiteout_hidden {
                Ok(())
            } else {
                Err(fail("overlay does not honour whiteouts".into()))
            }
        })();
        let _ = fs::remove_dir_all(&probe);
        result
    }
}

impl fmt::Display for StorageDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A prepared container root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rootfs {
    /// Mount `overlay` at `target` with [`Rootfs::overlay_options`].
    Overlay {
        /// Layer diffs, topmost first (overlay's lowerdir order).
        lowerdirs: Vec<PathBuf>,
        upperdir: PathBuf,
        workdir: PathBuf,
        target: PathBuf,
    },
    /// A plain directory holding a full copy (vfs).
    Dir { path: PathBuf },
}

impl Rootfs {
    /// The directory the container's root will be (the overlay mountpoint or the copy).
    pub fn path(&self) -> &Path {
        match self {
            Rootfs::Overlay { target, .. } => target,
            Rootfs::Dir { path } => path,
        }
    }

    /// Overlay mount data (`lowerdir=…,upperdir=…,workdir=…`); None for vfs.
    pub fn overlay_options(&self) -> Option<String> {
        match self {
            Rootfs::Overlay {
                lowerdirs,
                upperdir,
                workdir,
                ..
            } => Some(format!(
                "lowerdir={},upperdir={},workdir={}",
                lowerdirs
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":"),
                upperdir.display(),
                workdir.display()
            )),
            Rootfs::Dir { .. } => None,
        }
    }

    /// Mounts the overlay at [`Rootfs::path`] (nothing to do for vfs).
    pub fn mount(&self) -> Result<()> {
        if let Some(data) = self.overlay_options() {
            mount(
                Some("overlay"),
                self.path(),
                Some("overlay"),
                MsFlags::empty(),
                Some(data.as_str()),
            )
            .map_err(|e| Error::io("mount overlay on", self.path(), e.into()))?;
        }
        Ok(())
    }

    /// Unmounts the overlay (lazily), if mounted.
    pub fn unmount(&self) -> Result<()> {
        if matches!(self, Rootfs::Overlay { .. }) {
            match umount2(self.path(), MntFlags::MNT_DETACH) {
                Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
                Err(e) => return Err(Error::io("unmount", self.path(), e.into())),
            }
        }
        Ok(())
    }
}

impl Store {
    fn container_dir(&self, container_id: &str) -> Result<PathBuf> {
        let ok = !container_id.is_empty()
            && container_id.len() <= 128
            && container_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            && !container_id.starts_with('.');
        if !ok {
            return Err(Error::Config {
                field: "container id".into(),
                reason: format!("{container_id:?} is not a plain name"),
            });
        }
        Ok(self.inner.root.join("containers").join(container_id))
    }

    /// Prepares the root filesystem of a container from an image's layers. For overlay2 the
    /// caller mounts it ([`Rootfs::mount`]); for vfs the copy is ready to use.
    pub async fn prepare_rootfs(&self, image_id: &ImageId, container_id: &str) -> Result<Rootfs> {
        let record = self.image(image_id)?;
        let dir = self.container_dir(container_id)?;
        if dir.exists() {
            return Err(Error::Conflict(format!(
                "rootfs for container {container_id} already exists"
            )));
        }
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            ensure_dir(&dir)?;
            match store.driver() {
                StorageDriver::Overlay2 => {
                    let mut lowerdirs: Vec<PathBuf> = record
                        .layers
                        .iter()
                        .rev()
                        .map(|l| store.layer_short_link(&l.diff_id))
                        .collect();
                    if lowerdirs.is_empty() {
                        lowerdirs.push(ensure_dir(&dir.join("empty"))?);
                    }
                    Ok(Rootfs::Overlay {
                        lowerdirs,
                        upperdir: ensure_dir(&dir.join("upper"))?,
                        workdir: ensure_dir(&dir.join("work"))?,
                        target: ensure_dir(&dir.join("merged"))?,
                    })
                }
                StorageDriver::Vfs => {
                    let rootfs = ensure_dir(&dir.join("rootfs"))?;
                    for layer in &record.layers {
                        apply_diff(&store.layer_diff(&layer.diff_id), &rootfs)?;
                    }
                    Ok(Rootfs::Dir { path: rootfs })
                }
            }
        })
        .await
        .map_err(|e| Error::Conflict(e.to_string()))?
    }

    /// The bytes a container wrote (its overlay upper dir, or its whole copied rootfs): what
    /// removing it frees, docker's `SizeRw`.
    pub fn rootfs_size(&self, container_id: &str) -> Result<u64> {
        let dir = self.container_dir(container_id)?;
        let upper = dir.join("upper");
        Ok(apparent_size(if upper.is_dir() { &upper } else { &dir }))
    }

    /// Unmounts (overlay2) and deletes a container's rootfs and its writable layer, from an
    /// async caller: the work runs on a blocking thread.
    pub async fn remove_rootfs(&self, container_id: &str) -> Result<()> {
        let (store, id) = (self.clone(), container_id.to_owned());
        tokio::task::spawn_blocking(move || store.remove_rootfs_blocking(&id))
            .await
            .map_err(|e| Error::Conflict(e.to_string()))?
    }

    /// [`Store::remove_rootfs`] for callers already on a blocking thread: it never waits on
    /// another blocking task, so removals cannot exhaust the runtime's blocking pool.
    pub fn remove_rootfs_blocking(&self, container_id: &str) -> Result<()> {
        let dir = self.container_dir(container_id)?;
        let merged = dir.join("merged");
        if merged.exists() {
            match umount2(&merged, MntFlags::MNT_DETACH) {
                Ok(()) | Err(nix::errno::Errno::EINVAL) => {}
                Err(e) => return Err(Error::io("unmount", &merged, e.into())),
            }
        }
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("remove", &dir, e)),
            _ => Ok(()),
        }
    }
}

/// Applies one overlay2-format diff onto a plain directory tree, as overlay would show it:
/// a 0/0 character device deletes, an opaque directory replaces the one below. Hardlinks
/// inside a layer become separate copies.
pub fn apply_diff(diff: &Path, dest: &Path) -> Result<()> {
    for entry in fs::read_dir(diff).at("list", diff)? {
        let entry = entry.at("list", diff)?;
        let src = entry.path();
        let dst = dest.join(entry.file_name());
        let meta = fs::symlink_metadata(&src).at("inspect", &src)?;
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            remove_any(&dst)?;
            continue;
        }
        if ft.is_dir() {
            let opaque = get_xattr(&src, OVERLAY_OPAQUE_XATTR).is_some_and(|v| v == b"y");
            match fs::symlink_metadata(&dst) {
                Ok(m) if m.is_dir() && !opaque => {}
                Ok(_) => {
                    remove_any(&dst)?;
                    fs::create_dir(&dst).at("create directory", &dst)?;
                }
                Err(_) => fs::create_dir(&dst).at("create directory", &dst)?,
            }
            apply_diff(&src, &dst)?;
            copy_metadata(&src, &dst, &meta)?;
            continue;
        }
        remove_any(&dst)?;
        if ft.is_symlink() {
            let target = fs::read_link(&src).at("read link", &src)?;
            std::os::unix::fs::symlink(&target, &dst).at("create symlink", &dst)?;
        } else if ft.is_file() {
            fs::copy(&src, &dst).at("copy", &dst)?;
        } else {
            let kind = if ft.is_char_device() {
                SFlag::S_IFCHR
            } else if ft.is_block_device() {
                SFlag::S_IFBLK
            } else {
                SFlag::S_IFIFO
            };
            mknod(&dst, kind, Mode::from_bits_truncate(0o600), meta.rdev())
                .map_err(|e| Error::io("create node", &dst, e.into()))?;
        }
        copy_metadata(&src, &dst, &meta)?;
    }
    Ok(())
}

fn remove_any(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).at("remove", path),
        Ok(_) => fs::remove_file(path).at("remove", path),
        Err(_) => Ok(()),
    }
}

fn copy_metadata(src: &Path, dst: &Path, meta: &fs::Metadata) -> Result<()> {
    fchownat(
        AT_FDCWD,
        dst,
        Some(Uid::from_raw(meta.uid())),
        Some(Gid::from_raw(meta.gid())),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| Error::io("chown", dst, e.into()))?;
    if !meta.file_type().is_symlink() {
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .at("chmod", dst)?;
        for name in list_xattrs(src) {
            if name.starts_with("trusted.overlay.") {
                continue;
            }
            if let Some(value) = get_xattr(src, &name) {
                crate::extract::set_xattr(dst, &name, &value)?;
            }
        }
    }
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    utimensat(
        AT_FDCWD,
        dst,
        &mtime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| Error::io("set mtime", dst, e.into()))
}

fn list_xattrs(path: &Path) -> Vec<String> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return Vec::new();
    };
    // SAFETY: a NULL buffer of size 0 asks for the list's size only.
    let size = unsafe { libc::llistxattr(c_path.as_ptr(), std::ptr::null_mut(), 0) };
    if size <= 0 {
        return Vec::new();
    }
    let mut buf = vec![0u8; size as usize];
    // SAFETY: buffer pointer and length describe a live allocation.
    let n = unsafe { libc::llistxattr(c_path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return Vec::new();
    }
    buf.truncate(n as usize);
    buf.split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}
