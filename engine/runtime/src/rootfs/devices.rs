//! /dev inside the container: the standard nodes (null, zero, full, random, urandom, tty),
//! `linux.devices`, and the fd/stdio/ptmx symlinks.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use nix::sys::stat::{makedev, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::error::{Context, Error, Result};
use crate::fsutil::resolve_in_root;
use crate::syscall::Kernel;

const STANDARD: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

const LINKS: [(&str, &str); 5] = [
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
    ("pts/ptmx", "ptmx"),
];

/// Creates the spec's devices under `rootfs/dev`, and with `standard` (a fresh /dev file
/// system) the standard nodes and symlinks too. Without one, the image's own /dev is left alone.
pub(crate) fn create(
    k: &dyn Kernel,
    rootfs: &Path,
    standard: bool,
    devices: &[LinuxDevice],
) -> Result<()> {
    let dev = rootfs.join("dev");
    if standard {
        for (name, major, minor) in STANDARD {
            let path = dev.join(name);
            if path.symlink_metadata().is_ok() {
                continue;
            }
            k.mknod(&path, SFlag::S_IFCHR, 0o666, makedev(major, minor))
                .ctx(|| format!("creating /dev/{name}"))?;
        }
    }
    for (index, device) in devices.iter().enumerate() {
        create_device(k, rootfs, device).map_err(|err| {
            Error::Init(format!(
                "linux.devices[{index}] ({}): {err}",
                device.path().display()
            ))
        })?;
    }
    if standard {
        for (target, name) in LINKS {
            let path = dev.join(name);
            if path.symlink_metadata().is_err() {
                symlink(target, &path).ctx(|| format!("creating /dev/{name}"))?;
            }
        }
    }
    Ok(())
}

fn create_device(k: &dyn Kernel, rootfs: &Path, device: &LinuxDevice) -> Result<()> {
    let path = resolve_in_root(rootfs, device.path());
    if !path.starts_with(rootfs.join("dev")) {
        return Err(Error::spec("path", "devices must be under /dev"));
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
    }
    let kind = match device.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => return Err(Error::spec("type", "\"a\" is not a device type")),
    };
    let _ = fs::remove_file(&path);
    let number = makedev(device.major() as u64, device.minor() as u64);
    k.mknod(&path, kind, device.file_mode().unwrap_or(0o666), number)
        .ctx(|| "mknod".to_owned())?;
    k.chown(&path, device.uid().unwrap_or(0), device.gid().unwrap_or(0))
        .ctx(|| "chown".to_owned())
}

/// Whether the spec mounts a new file system (not a bind mount) on /dev.
pub(crate) fn dev_is_a_new_file_system(mounts: &[oci_spec::runtime::Mount]) -> bool {
    mounts.iter().any(|mount| {
        mount.destination() == Path::new("/dev")
            && mount.typ().as_deref() != Some("bind")
            && !mount
                .options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind")
    })
}
