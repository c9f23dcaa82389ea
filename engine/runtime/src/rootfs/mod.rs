//! The container's root file system: mount propagation, the rootfs bind mount, the spec's
//! mounts and devices, the working directory, pivot_root (or MS_MOVE + chroot where pivot_root
//! cannot work), masked and read-only paths, and a read-only root.

mod devices;
mod mounts;
mod options;

use std::path::Path;

use nix::mount::MsFlags;
use oci_spec::runtime::Spec;

pub(crate) use mounts::Target;

use crate::error::{Context, Error, Result};
use crate::in_root;
use crate::syscall::Kernel;

/// Everything done before the root changes: propagation, the rootfs bind mount, the spec's
/// mounts and /dev.
pub(crate) fn prepare(k: &dyn Kernel, spec: &Spec, target: &Target) -> Result<()> {
    let linux = spec.linux().as_ref();
    let propagation = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        None | Some("") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some(keyword) => options::propagation(keyword).ok_or_else(|| {
            Error::spec(
                "linux.rootfsPropagation",
                format!("unknown propagation {keyword:?}"),
            )
        })?,
    };
    k.mount(
        None,
        Path::new("/"),
        None,
        propagation | MsFlags::MS_REC,
        None,
    )
    .ctx(|| "linux.rootfsPropagation: changing / propagation".to_owned())?;
    k.mount(
        Some(target.rootfs),
        target.rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .ctx(|| format!("root.path: bind mounting {}", target.rootfs.display()))?;
    let spec_mounts = spec.mounts().as_deref().unwrap_or_default();
    mounts::mount_all(k, spec_mounts, target)?;
    let devices = linux
        .and_then(|l| l.devices().as_deref())
        .unwrap_or_default();
    let standard = devices::dev_is_a_new_file_system(spec_mounts);
    devices::create(k, target.rootfs, standard, devices)?;
    if let Some(process) = spec.process() {
        // As dockerd does for -w: a missing working directory is made (root's, 0755), resolved
        // inside the rootfs like any other path.
        in_root::mkdir_all(k, target.rootfs, process.cwd())
            .ctx(|| format!("process.cwd: creating {}", process.cwd().display()))?;
    }
    Ok(())
}

/// Makes `rootfs` the root: pivot_root, or MS_MOVE + chroot when asked (`no_pivot`) or when
/// pivot_root is refused (a rootfs on ramfs/initramfs).
pub(crate) fn enter(k: &dyn Kernel, rootfs: &Path, no_pivot: bool) -> Result<()> {
    let here = Path::new(".");
    k.chdir(rootfs)
        .ctx(|| format!("chdir {}", rootfs.display()))?;
    if !no_pivot {
        match k.pivot_root(here, here) {
            Ok(()) => {
                // The old root is now stacked under the new one: detach it without letting
                // the unmount propagate to the host.
                k.mount(None, here, None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)
                    .ctx(|| "making the old root a slave".to_owned())?;
                k.umount_detach(here)
                    .ctx(|| "unmounting the old root".to_owned())?;
                return k.chdir(Path::new("/")).ctx(|| "chdir /".to_owned());
            }
            Err(nix::errno::Errno::EINVAL) => {
                tracing::debug!("pivot_root refused, falling back to MS_MOVE + chroot");
            }
            Err(errno) => return Err(errno).ctx(|| "pivot_root".to_owned()),
        }
    }
    k.mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
        .ctx(|| format!("moving {} to /", rootfs.display()))?;
    k.chroot(here).ctx(|| "chroot".to_owned())?;
    k.chdir(Path::new("/")).ctx(|| "chdir /".to_owned())
}

/// What is done inside the new root: masked and read-only paths, then a read-only root.
pub(crate) fn finish(k: &dyn Kernel, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    for path in linux
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or_default()
    {
        mask(k, Path::new(path))
            .map_err(|err| Error::Init(format!("linux.maskedPaths ({path}): {err}")))?;
    }
    for path in linux
        .and_then(|l| l.readonly_paths().as_deref())
        .unwrap_or_default()
    {
        make_readonly(k, Path::new(path))
            .map_err(|err| Error::Init(format!("linux.readonlyPaths ({path}): {err}")))?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        mounts::remount_bind(k, Path::new("/"), MsFlags::MS_RDONLY)
            .map_err(|err| Error::Init(format!("root.readonly: {err}")))?;
    }
    Ok(())
}

fn mask(k: &dyn Kernel, path: &Path) -> Result<()> {
    let Ok(metadata) = path.metadata() else {
        return Ok(());
    };
    if metadata.is_dir() {
        k.mount(
            Some(Path::new("tmpfs")),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
        )
    } else {
        k.mount(
            Some(Path::new("/dev/null")),
            path,
            None,
            MsFlags::MS_BIND,
            None,
        )
    }
    .ctx(|| "masking".to_owned())
}

fn make_readonly(k: &dyn Kernel, path: &Path) -> Result<()> {
    if path.symlink_metadata().is_err() {
        return Ok(());
    }
    k.mount(
        Some(path),
        path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .ctx(|| "bind mounting".to_owned())?;
    mounts::remount_bind(k, path, MsFlags::MS_RDONLY | MsFlags::MS_REC)
}

#[cfg(test)]
mod tests;
