//! A sealed, in-memory copy of the runtime binary for init to run from, so that a container
//! can never reach the host binary through /proc/PID/exe (CVE-2019-5736).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::error::{Context, Result};

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
}
