//! Which devices a container may use. By default none beyond the runtime's standard nodes
//! (null, zero, full, random, urandom, tty, ptmx and pts, net/tun): the device cgroup denies
//! the rest, so a node made with CAP_MKNOD cannot be opened. `--privileged` gets every host
//! device, as nodes in its /dev and in the cgroup, as with dockerd.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use berth_runtime::oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
};

/// The runtime makes these itself in a fresh /dev.
const STANDARD_NODES: [&str; 7] = ["null", "zero", "full", "random", "urandom", "tty", "ptmx"];

/// Directories of /dev that are file systems or links of their own, not devices.
const SKIPPED_DIRS: [&str; 6] = ["pts", "shm", "mqueue", "fd", "hugepages", ".udev"];

/// The device cgroup rules: deny all (the runtime then allows its standard nodes), or allow
/// all for a privileged container.
pub fn cgroup_rules(privileged: bool) -> Result<Vec<LinuxDeviceCgroup>> {
    Ok(vec![LinuxDeviceCgroupBuilder::default()
        .allow(privileged)
        .access("rwm")
        .build()?])
}

/// Every character and block device under `dev` (the host's /dev), for a privileged
/// container's /dev; the standard nodes, /dev/console and the file systems mounted inside
/// /dev are left out.
pub fn host_devices(dev: &Path) -> Result<Vec<LinuxDevice>> {
    let mut devices = Vec::new();
    let mut pending = vec![dev.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(metadata) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let kind = metadata.file_type();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() {
                if !(dir == dev && SKIPPED_DIRS.contains(&name.as_ref())) {
                    pending.push(path);
                }
                continue;
            }
            if dir == dev && (STANDARD_NODES.contains(&name.as_ref()) || name == "console") {
                continue;
            }
            let typ = if kind.is_char_device() {
                LinuxDeviceType::C
            } else if kind.is_block_device() {
                LinuxDeviceType::B
            } else {
                continue;
            };
            let relative = path.strip_prefix(dev).unwrap_or(&path);
            let rdev = metadata.rdev();
            devices.push(
                LinuxDeviceBuilder::default()
                    .path(PathBuf::from("/dev").join(relative))
                    .typ(typ)
                    .major(nix::sys::stat::major(rdev) as i64)
                    .minor(nix::sys::stat::minor(rdev) as i64)
                    .file_mode(metadata.mode() & 0o7777)
                    .uid(metadata.uid())
                    .gid(metadata.gid())
                    .build()?,
            );
        }
    }
    devices.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_hosts_devices_but_not_the_standard_ones() {
        let devices = host_devices(Path::new("/dev")).unwrap();
        let paths: Vec<String> = devices
            .iter()
            .map(|device| device.path().display().to_string())
            .collect();
        assert!(!paths.is_empty());
        assert!(!paths.contains(&"/dev/null".to_owned()));
        assert!(paths.iter().all(|path| !path.starts_with("/dev/pts/")));
        // /dev/kmsg is a character device on every Linux host.
        let kmsg = devices
            .iter()
            .find(|device| device.path() == Path::new("/dev/kmsg"))
            .unwrap();
        assert_eq!(kmsg.typ(), LinuxDeviceType::C);
        assert_eq!((kmsg.major(), kmsg.minor()), (1, 11));
    }
}
