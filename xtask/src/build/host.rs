//! Host checks and file-system chores shared by `build` and `binary`: privileges, free disk
//! space, removing trees that may still hold mounts, and atomic writes.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Fails with one line unless this process can create namespaces and mounts: root, or a host with
/// user namespaces (which berth_runtime does not use yet, so that case is named too).
pub fn require_privileges(stage: &str) -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return Ok(());
    }
    let max_userns = std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let unprivileged_clone = std::fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone")
        .map(|text| text.trim() != "0")
        .unwrap_or(true);
    if max_userns == 0 || !unprivileged_clone {
        bail!(
            "cargo xtask {stage}: not root and user namespaces are not available; run it as root"
        );
    }
    bail!("cargo xtask {stage}: not root; rootless builds in a user namespace are not supported yet, run it as root")
}

/// Fails with "disk full" when the file system holding `dir` has less than `need_mib` free.
pub fn require_free_space(dir: &Path, need_mib: u64) -> Result<()> {
    let free_mib = free_space_mib(dir)?;
    if free_mib < need_mib {
        bail!(
            "disk full: {} has {free_mib} MiB free, this step needs about {need_mib} MiB",
            dir.display()
        );
    }
    Ok(())
}

fn free_space_mib(dir: &Path) -> Result<u64> {
    let path = c_path(dir)?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid NUL-terminated string and `stat` is writable for one statvfs.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("statvfs {}", dir.display()));
    }
    // SAFETY: statvfs returned 0, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    Ok(stat.f_bavail * stat.f_frsize / (1024 * 1024))
}

/// Turns an out-of-space I/O error anywhere in `err`'s chain into the one-line "disk full" error.
pub fn name_disk_full(err: anyhow::Error, place: &Path) -> anyhow::Error {
    let full = err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(libc::ENOSPC))
    });
    if full {
        anyhow::anyhow!(
            "disk full: no space left on the device holding {}",
            place.display()
        )
    } else {
        err
    }
}

/// Detaches every mount at or below `dir` (deepest first), then removes the tree. debootstrap
/// mounts /proc and /sys inside its target, and an interrupted run can leave them behind: a
/// plain recursive delete would then walk into the host's /proc or /sys.
pub fn remove_tree(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolve {}", dir.display()))?;
    let mounts = std::fs::read_to_string("/proc/self/mounts").context("read /proc/self/mounts")?;
    let mut below: Vec<&str> = mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(1))
        .filter(|point| Path::new(point).starts_with(&dir))
        .collect();
    below.sort_by_key(|point| std::cmp::Reverse(point.len()));
    for point in below {
        let point = unescape_mount_path(point);
        let c_point = c_path(Path::new(&point))?;
        // SAFETY: `c_point` is a valid NUL-terminated path; MNT_DETACH has no other preconditions.
        if unsafe { libc::umount2(c_point.as_ptr(), libc::MNT_DETACH) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("unmount {point} before removing {}", dir.display()));
        }
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))
}

/// /proc/self/mounts escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(raw: &str) -> String {
    raw.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .with_context(|| format!("path has a NUL byte: {}", path.display()))
}

/// Takes an exclusive flock on `path` (created if missing), waiting for it; held until the
/// returned file is dropped.
pub fn lock_exclusive(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::io::AsRawFd;
    let file = std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
    // SAFETY: flock on a file descriptor we own; it blocks until the lock is free.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("lock {}", path.display()));
    }
    Ok(file)
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory, fsync, rename.
/// The file is world-readable (0644), like any build output, not the temp file's 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().context("path has no parent directory")?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("create a temp file in {}", dir.display()))?;
    temp.write_all(bytes)
        .and_then(|()| {
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        })
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("write {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("rename into {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_of_the_temp_dir_is_known() {
        let temp = tempfile::tempdir().expect("tempdir");
        assert!(free_space_mib(temp.path()).expect("statvfs") > 0);
        let err = require_free_space(temp.path(), u64::MAX / 2).unwrap_err();
        assert!(err.to_string().starts_with("disk full:"), "{err}");
    }

    #[test]
    fn enospc_is_reported_as_disk_full() {
        let io = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let err = anyhow::Error::new(io).context("write rootfs/usr/bin/gcc");
        let named = name_disk_full(err, Path::new("/var/cache/berth-build"));
        assert_eq!(
            named.to_string(),
            "disk full: no space left on the device holding /var/cache/berth-build"
        );
    }

    #[test]
    fn remove_tree_detaches_mounts_first() {
        let temp = tempfile::tempdir().expect("tempdir");
        let target = temp.path().join("rootfs/proc");
        std::fs::create_dir_all(&target).expect("mkdir");
        let c_target = c_path(&target).expect("path");
        let fstype = CString::new("tmpfs").expect("cstr");
        // SAFETY: valid NUL-terminated strings; a fresh tmpfs on a directory we own.
        let rc = unsafe {
            libc::mount(
                fstype.as_ptr(),
                c_target.as_ptr(),
                fstype.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        assert_eq!(
            rc,
            0,
            "mount tmpfs (the tests run as root): {}",
            std::io::Error::last_os_error()
        );
        std::fs::write(target.join("file"), b"x").expect("write into tmpfs");
        remove_tree(&temp.path().join("rootfs")).expect("remove");
        assert!(!temp.path().join("rootfs").exists());
    }
}
