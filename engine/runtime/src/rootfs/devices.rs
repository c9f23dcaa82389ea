//! /dev inside the container: the standard nodes (null, zero, full, random, urandom, tty),
//! `linux.devices`, and the fd/stdio/ptmx symlinks.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use nix::fcntl::AtFlags;
use nix::sys::stat::{makedev, SFlag};
use nix::unistd::UnlinkatFlags;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::error::{Context, Error, Result};
use crate::in_root;
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

/// Creates the spec's devices under the rootfs's /dev, and with `standard` (a fresh /dev file
/// system) the standard nodes and symlinks too. Without one, the image's own /dev is left alone.
/// Every node and link is made relative to a handle on the /dev directory resolved inside the
/// rootfs, so an image whose /dev (or a directory under it) is a symlink cannot have them made
/// on the host.
pub(crate) fn create(
    k: &dyn Kernel,
    rootfs: &Path,
    standard: bool,
    devices: &[LinuxDevice],
) -> Result<()> {
    if standard {
        let (_, dev) = in_root::mkdir_all(k, rootfs, Path::new("/dev"))
            .ctx(|| "resolving /dev in the rootfs".to_owned())?;
        for (name, major, minor) in STANDARD {
            if exists(dev.as_fd(), name) {
                continue;
            }
            k.mknod(
                dev.as_fd(),
                Path::new(name),
                SFlag::S_IFCHR,
                0o666,
                makedev(major, minor),
            )
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
        let (_, dev) = in_root::mkdir_all(k, rootfs, Path::new("/dev"))
            .ctx(|| "resolving /dev in the rootfs".to_owned())?;
        for (target, name) in LINKS {
            if !exists(dev.as_fd(), name) {
                nix::unistd::symlinkat(target, dev.as_fd(), name)
                    .ctx(|| format!("creating /dev/{name}"))?;
            }
        }
    }
    Ok(())
}

fn create_device(k: &dyn Kernel, rootfs: &Path, device: &LinuxDevice) -> Result<()> {
    let path = in_root::resolve_with(k, rootfs, device.path()).ctx(|| "resolving".to_owned())?;
    let dev =
        in_root::resolve_with(k, rootfs, Path::new("/dev")).ctx(|| "resolving /dev".to_owned())?;
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Error::spec("path", "devices must be under /dev"));
    };
    if !parent.starts_with(&dev) {
        return Err(Error::spec("path", "devices must be under /dev"));
    }
    let inside_parent = Path::new("/").join(parent.strip_prefix(rootfs).unwrap_or(parent));
    let (_, dir) = in_root::mkdir_all(k, rootfs, &inside_parent)
        .ctx(|| format!("creating {}", inside_parent.display()))?;
    let kind = match device.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => return Err(Error::spec("type", "\"a\" is not a device type")),
    };
    let _ = nix::unistd::unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir);
    let number = makedev(device.major() as u64, device.minor() as u64);
    let name = Path::new(name);
    k.mknod(
        dir.as_fd(),
        name,
        kind,
        device.file_mode().unwrap_or(0o666),
        number,
    )
    .ctx(|| "mknod".to_owned())?;
    k.chown(
        dir.as_fd(),
        name,
        device.uid().unwrap_or(0),
        device.gid().unwrap_or(0),
    )
    .ctx(|| "chown".to_owned())
}

/// Whether `name` exists in `dir` (a symlink counts, dangling or not).
fn exists(dir: BorrowedFd, name: &str) -> bool {
    nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
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
