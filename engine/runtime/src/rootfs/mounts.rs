//! The `mounts` of a spec, made under the rootfs before pivot_root: bind mounts (ro, rbind,
//! propagation), file systems like proc, sysfs, tmpfs, devpts and mqueue, and cgroup.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use oci_spec::runtime::Mount;

use super::options::Options;
use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::in_root::{self, fd_path};
use crate::syscall::Kernel;

/// Where mounts are made and what they may refer to.
pub(crate) struct Target<'a> {
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub cgroup: &'a Cgroup,
    pub new_cgroup_namespace: bool,
}

/// Makes every mount of the spec, in order.
pub(crate) fn mount_all(k: &dyn Kernel, mounts: &[Mount], target: &Target) -> Result<()> {
    for (index, spec_mount) in mounts.iter().enumerate() {
        mount_one(k, spec_mount, target).map_err(|err| {
            Error::Init(format!(
                "mounts[{index}] ({}): {err}",
                spec_mount.destination().display()
            ))
        })?;
    }
    Ok(())
}

fn mount_one(k: &dyn Kernel, spec_mount: &Mount, target: &Target) -> Result<()> {
    let options = Options::parse(spec_mount.options().as_deref().unwrap_or_default());
    let typ = spec_mount.typ().as_deref().unwrap_or("");
    let data = options.data.join(",");
    let in_rootfs =
        |directory: bool| create_target(k, target.rootfs, spec_mount.destination(), directory);
    // The first mount goes through the handle on the mount point the walk found, so nothing
    // swapped in since is followed; what follows it uses the path, which now reaches the mount.
    let destination = if options.bind || typ == "bind" {
        let source = spec_mount
            .source()
            .as_ref()
            .ok_or_else(|| Error::spec("source", "a bind mount needs a source"))?;
        let source = target.bundle.join(source);
        let metadata = fs::metadata(&source).ctx(|| format!("source {}", source.display()))?;
        let (destination, point) = in_rootfs(metadata.is_dir())?;
        let recursive = if options.recursive {
            MsFlags::MS_REC
        } else {
            MsFlags::empty()
        };
        k.mount(
            Some(source.as_path()),
            &fd_path(point.as_fd()),
            None,
            MsFlags::MS_BIND | recursive,
            None,
        )
        .ctx(|| format!("bind mounting {}", source.display()))?;
        let extra = options.flags & !MsFlags::MS_REMOUNT;
        if !extra.is_empty() {
            remount_bind(k, &destination, extra)?;
        }
        destination
    } else if typ == "cgroup" {
        let (destination, point) = in_rootfs(true)?;
        mount_cgroup(k, &fd_path(point.as_fd()), &destination, &options, target)?;
        destination
    } else {
        let (destination, point) = in_rootfs(true)?;
        let source = spec_mount
            .source()
            .clone()
            .unwrap_or_else(|| PathBuf::from(typ));
        k.mount(
            Some(source.as_path()),
            &fd_path(point.as_fd()),
            Some(typ),
            options.flags,
            (!data.is_empty()).then_some(data.as_str()),
        )
        .ctx(|| format!("mounting {typ}"))?;
        destination
    };
    for flag in &options.propagation {
        k.mount(None, &destination, None, *flag, None)
            .ctx(|| "changing propagation".to_owned())?;
    }
    Ok(())
}

/// Makes the mount point for `destination` inside `rootfs`, resolved there: a directory, or an
/// empty file for a bind-mounted file. Returns its path and a handle on it.
fn create_target(
    k: &dyn Kernel,
    rootfs: &Path,
    destination: &Path,
    directory: bool,
) -> Result<(PathBuf, OwnedFd)> {
    let made = if directory {
        in_root::mkdir_all(k, rootfs, destination)
    } else {
        in_root::create_file(k, rootfs, destination)
    };
    made.ctx(|| format!("creating the mount point {}", destination.display()))
}

/// Remounts a bind mount with `flags`, keeping the nosuid/nodev/noexec/atime flags it
/// already has (the kernel refuses to clear locked ones).
pub(crate) fn remount_bind(k: &dyn Kernel, path: &Path, flags: MsFlags) -> Result<()> {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let current = statvfs(path)
        .ctx(|| format!("statvfs {}", path.display()))?
        .flags();
    let mut keep = MsFlags::empty();
    for (fs_flag, ms_flag) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if current.contains(fs_flag) {
            keep |= ms_flag;
        }
    }
    k.mount(
        None,
        path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | keep | flags,
        None,
    )
    .ctx(|| format!("remounting {}", path.display()))
}

/// A cgroup mount: cgroup2 itself when the container has its own cgroup namespace on a v2
/// host, else a tmpfs with the container's own cgroup directories bound into it. The first
/// mount goes on `point` (the handle's path), what is made in it under `destination`.
fn mount_cgroup(
    k: &dyn Kernel,
    point: &Path,
    destination: &Path,
    options: &Options,
    target: &Target,
) -> Result<()> {
    let flags = options.flags | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if target.cgroup.unified && target.new_cgroup_namespace {
        return k
            .mount(
                Some(Path::new("cgroup2")),
                point,
                Some("cgroup2"),
                flags,
                None,
            )
            .ctx(|| "mounting cgroup2".to_owned());
    }
    if target.cgroup.unified {
        let dir = target.cgroup.dirs.first();
        if let Some(dir) = dir {
            k.mount(
                Some(dir.path.as_path()),
                point,
                None,
                MsFlags::MS_BIND,
                None,
            )
            .ctx(|| format!("bind mounting {}", dir.path.display()))?;
            remount_bind(k, destination, flags)?;
        }
        return Ok(());
    }
    k.mount(
        Some(Path::new("tmpfs")),
        point,
        Some("tmpfs"),
        flags & !MsFlags::MS_RDONLY,
        Some("mode=755"),
    )
    .ctx(|| "mounting tmpfs for cgroups".to_owned())?;
    for dir in &target.cgroup.dirs {
        let hierarchy = destination.join(&dir.hierarchy);
        fs::create_dir_all(&hierarchy).ctx(|| format!("creating {}", hierarchy.display()))?;
        k.mount(
            Some(dir.path.as_path()),
            &hierarchy,
            None,
            MsFlags::MS_BIND,
            None,
        )
        .ctx(|| format!("bind mounting {}", dir.path.display()))?;
        remount_bind(k, &hierarchy, flags)?;
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        remount_tmpfs_readonly(k, destination, flags)?;
    }
    Ok(())
}

fn remount_tmpfs_readonly(k: &dyn Kernel, destination: &Path, flags: MsFlags) -> Result<()> {
    k.mount(
        None,
        destination,
        None,
        MsFlags::MS_REMOUNT | flags,
        Some("mode=755"),
    )
    .ctx(|| format!("remounting {} read-only", destination.display()))
}
