//! The unwritable handle on the runtime binary that init is executed from, so that a container
//! can never reach the host binary through /proc/PID/exe (CVE-2019-5736).
//!
//! Where the kernel allows it (Linux 5.2+, as root) the handle is the binary seen through a
//! private, detached, lower-only overlayfs mount: no copy, and no way to make it writable.
//! Elsewhere (CentOS 7's 3.10, rootless) it is a sealed memfd copy of the binary.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Context, Result};

/// An unwritable handle on `binary` to exec: the binary through a read-only overlay when the
/// kernel can make one, a sealed copy otherwise. `scratch_dir` is the overlay's second layer
/// or holds the fallback file.
pub(crate) fn unwritable_exe(binary: &Path, scratch_dir: &Path) -> Result<OwnedFd> {
    match read_only_overlay(binary, scratch_dir) {
        Ok(fd) => Ok(fd),
        Err(err) => {
            tracing::debug!(%err, "no read-only overlay for the runtime binary, copying it");
            sealed_copy(binary, scratch_dir)
        }
    }
}

/// Opens `binary` (O_PATH) through a detached overlayfs mount whose only layers are its own
/// directory and `scratch_dir`. An overlay without an upper layer refuses every write, and a
/// detached mount cannot be remounted read-write by anyone inside a container.
pub(crate) fn read_only_overlay(binary: &Path, scratch_dir: &Path) -> io::Result<OwnedFd> {
    let binary = std::fs::read_link(binary).unwrap_or_else(|_| binary.to_path_buf());
    let (Some(dir), Some(name)) = (binary.parent(), binary.file_name()) else {
        return Err(io::Error::other(format!(
            "{} has no directory",
            binary.display()
        )));
    };
    // Without an upper layer overlayfs needs two lower ones. The binary's directory is on top,
    // so the second one (the scratch dir, whatever it holds) cannot hide the binary.
    let lowerdir = format!("{}:{}", overlay_escape(dir), overlay_escape(scratch_dir));
    // SAFETY: fsopen takes a NUL-terminated filesystem name; it returns a new fd or -1.
    let context = owned(unsafe {
        libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), libc::FSOPEN_CLOEXEC)
    })?;
    fsconfig_string(&context, c"lowerdir", &lowerdir)?;
    // Inode-number remapping is irrelevant here and only logs noise when the layers differ.
    let _ = fsconfig_string(&context, c"xino", "off");
    // SAFETY: FSCONFIG_CMD_CREATE on our fs context takes no key or value.
    let created = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            context.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if created < 0 {
        return Err(io::Error::last_os_error());
    }
    let attributes = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;
    // SAFETY: fsmount on a created fs context; returns a new mount fd or -1.
    let mount = owned(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            context.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            attributes,
        )
    })?;
    let name = CString::new(name.as_bytes()).map_err(io::Error::other)?;
    // SAFETY: openat relative to the mount fd with a NUL-terminated name.
    let exe = owned(unsafe {
        libc::openat(
            mount.as_raw_fd(),
            name.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        ) as libc::c_long
    })?;
    same_file_contents_stat(&binary, &exe)?;
    Ok(exe)
}

/// Checks that the overlay shows a regular file of the binary's size and mtime (overlayfs
/// remaps device and inode numbers, so those cannot be compared).
fn same_file_contents_stat(binary: &Path, exe: &OwnedFd) -> io::Result<()> {
    let want = std::fs::metadata(binary)?;
    let got = File::from(exe.try_clone()?).metadata()?;
    if got.is_file()
        && got.size() == want.size()
        && (got.mtime(), got.mtime_nsec()) == (want.mtime(), want.mtime_nsec())
    {
        Ok(())
    } else {
        Err(io::Error::other("the overlay shows a different file"))
    }
}

/// Escapes a path for a `lowerdir` list, where `:` separates layers.
fn overlay_escape(path: &Path) -> String {
    let path = path.to_string_lossy();
    path.replace('\\', "\\\\").replace(':', "\\:")
}

fn fsconfig_string(context: &OwnedFd, key: &std::ffi::CStr, value: &str) -> io::Result<()> {
    let value = CString::new(value).map_err(io::Error::other)?;
    // SAFETY: FSCONFIG_SET_STRING with NUL-terminated key and value on our fs context.
    let result = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            context.as_raw_fd(),
            libc::FSCONFIG_SET_STRING,
            key.as_ptr(),
            value.as_ptr(),
            0,
        )
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Takes ownership of a syscall's returned fd, or its error.
fn owned(fd: libc::c_long) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Copies `binary` into a sealed memfd; on kernels without memfd (before 3.17) into an unlinked
/// read-only file in `scratch_dir`.
pub(crate) fn sealed_copy(binary: &Path, scratch_dir: &Path) -> Result<OwnedFd> {
    let mut source = File::open(binary).ctx(|| format!("opening {}", binary.display()))?;
    let name = c"berth-runtime";
    // SAFETY: memfd_create takes a NUL-terminated name and flags; it returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_memfd_create,
            name.as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        tracing::debug!(err = %io::Error::last_os_error(), "memfd_create failed, using a file");
        return unlinked_copy(&mut source, scratch_dir);
    }
    // SAFETY: fd was just returned by memfd_create and is owned by nobody else.
    let mut memfd = unsafe { File::from_raw_fd(fd as i32) };
    io::copy(&mut source, &mut memfd).ctx(|| "copying the runtime binary".to_owned())?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: plain fcntl on an fd we own.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error()).ctx(|| "sealing the runtime copy".to_owned());
    }
    Ok(memfd.into())
}

fn unlinked_copy(source: &mut File, scratch_dir: &Path) -> Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = scratch_dir.join(format!(".berth-runtime-exe.{}", std::process::id()));
    let result = (|| {
        let mut copy = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o500)
            .open(&path)?;
        io::copy(source, &mut copy)?;
        copy.sync_all()?;
        drop(copy);
        File::open(&path)
    })();
    let _ = std::fs::remove_file(&path);
    result
        .map(OwnedFd::from)
        .ctx(|| format!("copying the runtime binary to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_is_sealed_against_writes() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("bin");
        std::fs::write(&binary, b"#!/bin/true\n").unwrap();
        let fd = sealed_copy(&binary, dir.path()).unwrap();
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        assert_eq!(std::fs::read(&path).unwrap(), b"#!/bin/true\n");
        let reopened = std::fs::OpenOptions::new().write(true).open(&path);
        let write = reopened.and_then(|mut f| io::Write::write_all(&mut f, b"x"));
        assert!(write.is_err(), "a sealed copy must refuse writes");
    }

    #[test]
    fn the_overlay_shows_the_binary_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("bin:ary");
        std::fs::write(&binary, b"#!/bin/true\n").unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let fd = read_only_overlay(&binary, scratch.path()).unwrap();
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        assert_eq!(std::fs::read(&path).unwrap(), b"#!/bin/true\n");
        let reopened = std::fs::OpenOptions::new().write(true).open(&path);
        assert_eq!(
            reopened.unwrap_err().raw_os_error(),
            Some(libc::EROFS),
            "the overlay must refuse writes"
        );
        assert_eq!(std::fs::read(&binary).unwrap(), b"#!/bin/true\n");
        // overlayfs refuses a layer twice; the handle is then a sealed copy.
        assert!(read_only_overlay(&binary, dir.path()).is_err());
        let fd = unwritable_exe(&binary, dir.path()).unwrap();
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let target = std::fs::read_link(&path).unwrap();
        assert!(
            target.to_string_lossy().starts_with("/memfd:"),
            "{}",
            target.display()
        );
    }

    #[test]
    fn a_handle_on_another_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("bin");
        let other = dir.path().join("other");
        std::fs::write(&binary, b"#!/bin/true\n").unwrap();
        std::fs::write(&other, b"#!/bin/false, longer\n").unwrap();
        let fd = OwnedFd::from(File::open(&other).unwrap());
        assert!(same_file_contents_stat(&binary, &fd).is_err());
        let fd = OwnedFd::from(File::open(&binary).unwrap());
        assert!(same_file_contents_stat(&binary, &fd).is_ok());
    }
}
