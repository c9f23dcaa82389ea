//! The kernel calls that build a container's root file system, behind one trait: [`Linux`]
//! makes them, and the test double [`Recorder`] writes them down, so the rootfs logic is
//! unit-tested without root. Plain file creation (directories, files, symlinks) stays on
//! `std::fs`, which tests run in temp directories.

use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

/// The mount-namespace and device-node calls of rootfs setup.
pub(crate) trait Kernel {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    fn umount_detach(&self, target: &Path) -> nix::Result<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    fn chroot(&self, path: &Path) -> nix::Result<()>;
    /// Makes a device node with exactly `mode` (not masked by the umask).
    fn mknod(&self, path: &Path, kind: SFlag, mode: u32, device: u64) -> nix::Result<()>;
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> nix::Result<()>;
}

/// The real kernel.
pub(crate) struct Linux;

impl Kernel for Linux {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount_detach(&self, target: &Path) -> nix::Result<()> {
        nix::mount::umount2(target, MntFlags::MNT_DETACH)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn chroot(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chroot(path)
    }

    fn mknod(&self, path: &Path, kind: SFlag, mode: u32, device: u64) -> nix::Result<()> {
        let mode = Mode::from_bits_truncate(mode);
        nix::sys::stat::mknod(path, kind, mode, device)?;
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            path,
            mode,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
    }

    fn chown(&self, path: &Path, uid: u32, gid: u32) -> nix::Result<()> {
        nix::unistd::chown(
            path,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )
    }
}

/// A test double that records each call as a line and succeeds (or fails pivot_root).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Recorder {
    pub calls: std::cell::RefCell<Vec<String>>,
    pub pivot_error: Option<nix::errno::Errno>,
}

#[cfg(test)]
impl Recorder {
    fn push(&self, call: String) {
        self.calls.borrow_mut().push(call);
    }

    /// The recorded calls, with `root` shown as `ROOT`.
    pub fn calls(&self, root: &Path) -> Vec<String> {
        let root = root.to_string_lossy();
        self.calls
            .borrow()
            .iter()
            .map(|call| call.replace(root.as_ref(), "ROOT"))
            .collect()
    }
}

#[cfg(test)]
impl Kernel for Recorder {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        let names: Vec<&str> = flags.iter_names().map(|(name, _)| name).collect();
        let flags = if names.is_empty() {
            "0".to_owned()
        } else {
            names.join(" | ")
        };
        self.push(format!(
            "mount {} {} {} {flags} {}",
            source.map_or("-".into(), |s| s.display().to_string()),
            target.display(),
            fstype.unwrap_or("-"),
            data.unwrap_or("-")
        ));
        Ok(())
    }

    fn umount_detach(&self, target: &Path) -> nix::Result<()> {
        self.push(format!("umount {}", target.display()));
        Ok(())
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        self.push(format!(
            "pivot_root {} {}",
            new_root.display(),
            put_old.display()
        ));
        self.pivot_error.map_or(Ok(()), Err)
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        self.push(format!("chdir {}", path.display()));
        Ok(())
    }

    fn chroot(&self, path: &Path) -> nix::Result<()> {
        self.push(format!("chroot {}", path.display()));
        Ok(())
    }

    fn mknod(&self, path: &Path, kind: SFlag, mode: u32, device: u64) -> nix::Result<()> {
        self.push(format!(
            "mknod {} {kind:?} {mode:o} {device:#x}",
            path.display()
        ));
        Ok(())
    }

    fn chown(&self, path: &Path, uid: u32, gid: u32) -> nix::Result<()> {
        self.push(format!("chown {} {uid}:{gid}", path.display()));
        Ok(())
    }
}
