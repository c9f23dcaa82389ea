//! The kernel calls that build a container's root file system, behind one trait: [`Linux`]
//! makes them, and the test double [`Recorder`] writes them down, so the rootfs logic is
//! unit-tested without root. Plain file creation (directories, files, symlinks) stays outside
//! the trait, on `std::fs` and the `*at` calls, which tests run in temp directories.

use std::os::fd::{BorrowedFd, OwnedFd};
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
    /// Makes the device node `name` in the directory `dir` with exactly `mode` (not masked
    /// by the umask).
    fn mknod(
        &self,
        dir: BorrowedFd,
        name: &Path,
        kind: SFlag,
        mode: u32,
        device: u64,
    ) -> nix::Result<()>;
    /// Changes the owner of `name` in the directory `dir`, not following a symlink.
    fn chown(&self, dir: BorrowedFd, name: &Path, uid: u32, gid: u32) -> nix::Result<()>;
    /// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): an O_PATH handle on `path` resolved
    /// with `root` as `/`. ENOSYS on kernels before 5.6.
    fn open_in_root(&self, root: BorrowedFd, path: &Path) -> nix::Result<OwnedFd>;
    /// Sets IFF_UP on `lo` in the current network namespace (a new one has it down).
    fn bring_loopback_up(&self) -> nix::Result<()>;
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

    fn mknod(
        &self,
        dir: BorrowedFd,
        name: &Path,
        kind: SFlag,
        mode: u32,
        device: u64,
    ) -> nix::Result<()> {
        let mode = Mode::from_bits_truncate(mode);
        nix::sys::stat::mknodat(dir, name, kind, mode, device)?;
        // The node was just made in a directory no symlink led to; fchmodat cannot refuse to
        // follow one on Linux, so the node is opened without following instead.
        let node = nix::fcntl::openat(
            dir,
            name,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_NOFOLLOW
                | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            &crate::in_root::fd_path(std::os::fd::AsFd::as_fd(&node)),
            mode,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
    }

    fn chown(&self, dir: BorrowedFd, name: &Path, uid: u32, gid: u32) -> nix::Result<()> {
        nix::unistd::fchownat(
            dir,
            name,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
    }

    fn open_in_root(&self, root: BorrowedFd, path: &Path) -> nix::Result<OwnedFd> {
        use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        nix::fcntl::openat2(root, path, how)
    }

    fn bring_loopback_up(&self) -> nix::Result<()> {
        use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
        use std::os::fd::AsRawFd;
        let sock = socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        // SAFETY: ifreq is plain data, valid zeroed; the name is "lo" and its NUL.
        let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
        for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
            *slot = *byte as libc::c_char;
        }
        // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write the ifreq passed to them.
        unsafe {
            nix::errno::Errno::result(libc::ioctl(
                sock.as_raw_fd(),
                libc::SIOCGIFFLAGS as _,
                &mut request,
            ))?;
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            nix::errno::Errno::result(libc::ioctl(
                sock.as_raw_fd(),
                libc::SIOCSIFFLAGS as _,
                &request,
            ))?;
        }
        Ok(())
    }
}

/// A test double that records each call as a line and succeeds (or fails pivot_root).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Recorder {
    pub calls: std::cell::RefCell<Vec<String>>,
    pub pivot_error: Option<nix::errno::Errno>,
    /// Whether open_in_root is the real openat2; without, it fails with ENOSYS as on a
    /// kernel before 5.6, and resolution takes the userspace walk.
    pub openat2: bool,
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
        // A mount made through a /proc/self/fd handle is shown at the path it reaches.
        let target = if target.starts_with("/proc/self/fd") {
            std::fs::read_link(target).unwrap_or_else(|_| target.to_path_buf())
        } else {
            target.to_path_buf()
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

    fn mknod(
        &self,
        dir: BorrowedFd,
        name: &Path,
        kind: SFlag,
        mode: u32,
        device: u64,
    ) -> nix::Result<()> {
        self.push(format!(
            "mknod {} {kind:?} {mode:o} {device:#x}",
            shown(dir, name).display()
        ));
        Ok(())
    }

    fn chown(&self, dir: BorrowedFd, name: &Path, uid: u32, gid: u32) -> nix::Result<()> {
        self.push(format!("chown {} {uid}:{gid}", shown(dir, name).display()));
        Ok(())
    }

    fn open_in_root(&self, root: BorrowedFd, path: &Path) -> nix::Result<OwnedFd> {
        if self.openat2 {
            Linux.open_in_root(root, path)
        } else {
            Err(nix::errno::Errno::ENOSYS)
        }
    }

    fn bring_loopback_up(&self) -> nix::Result<()> {
        self.push("loopback up".to_owned());
        Ok(())
    }
}

/// `name` in the directory `dir`, as a path.
#[cfg(test)]
fn shown(dir: BorrowedFd, name: &Path) -> std::path::PathBuf {
    std::fs::read_link(crate::in_root::fd_path(dir))
        .unwrap_or_default()
        .join(name)
}
