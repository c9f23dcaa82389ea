//! Paths inside a container's root, resolved so that nothing leads out of it: the kernel's
//! openat2(RESOLVE_IN_ROOT) where it has one, a userspace walk with the kernel's limit of 40
//! symlinks elsewhere (kernels before 5.6, CentOS 7's 3.10), and directories made along a walk
//! that never follows a symlink, so a file is created or mounted on only where it resolved.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::syscall::{Kernel, Linux};

/// Symlinks followed in one resolution before failing with ELOOP: Linux's own limit, which
/// openat2(RESOLVE_IN_ROOT) applies too.
pub(crate) const MAX_SYMLINKS: usize = 40;

/// Resolves `path` as if `root` were `/`: `..` stops at the root and symlinks (absolute or
/// relative) are followed inside the root. What does not exist yet is kept as named. Fails
/// with ELOOP after [`MAX_SYMLINKS`] links, as the kernel does.
pub fn resolve_in_root(root: &Path, path: &Path) -> io::Result<PathBuf> {
    resolve_with(&Linux, root, path)
}

/// [`resolve_in_root`] through `k`: the kernel's answer when openat2 finds the whole path,
/// the userspace walk when the kernel has no openat2 or part of the path does not exist.
pub(crate) fn resolve_with(k: &dyn Kernel, root: &Path, path: &Path) -> io::Result<PathBuf> {
    let root_dir = open_dir(root)?;
    match k.open_in_root(root_dir.as_fd(), path) {
        Ok(found) => {
            let real_root = fs::read_link(fd_path(root_dir.as_fd()))?;
            let real = fs::read_link(fd_path(found.as_fd()))?;
            match real.strip_prefix(&real_root) {
                Ok(inside) => Ok(root.join(inside)),
                Err(_) => Err(io::Error::other(format!(
                    "{} resolved to {}, outside the root",
                    path.display(),
                    real.display()
                ))),
            }
        }
        Err(Errno::ELOOP) => Err(Errno::ELOOP.into()),
        // ENOSYS (no openat2), a seccomp EPERM, ENOENT for a path still to be made, EXDEV
        // or EAGAIN under a concurrent rename: the walk answers all of them.
        Err(_) => walk(root, path),
    }
}

/// The userspace resolution: component by component, reading each existing symlink and
/// following it inside the root.
pub(crate) fn walk(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let mut resolved: Vec<OsString> = Vec::new();
    let mut pending: Vec<OsString> = components(path);
    pending.reverse();
    let mut links_followed = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = join(root, &resolved).join(&part);
        match fs::read_link(&candidate) {
            Ok(target) => {
                links_followed += 1;
                if links_followed > MAX_SYMLINKS {
                    return Err(Errno::ELOOP.into());
                }
                if target.is_absolute() {
                    resolved.clear();
                }
                let mut target_parts = components(&target);
                target_parts.reverse();
                pending.extend(target_parts);
            }
            Err(_) => resolved.push(part),
        }
    }
    Ok(join(root, &resolved))
}

/// Resolves `path` in `root` and makes every missing directory of it (mode 0755), walking
/// down from the root with O_NOFOLLOW so a symlink swapped in meanwhile fails the walk instead
/// of being followed. Returns the resolved path and an O_PATH handle on the directory.
pub(crate) fn mkdir_all(
    k: &dyn Kernel,
    root: &Path,
    path: &Path,
) -> io::Result<(PathBuf, OwnedFd)> {
    let resolved = resolve_with(k, root, path)?;
    let inside = resolved
        .strip_prefix(root)
        .map_err(|_| io::Error::other(format!("{} is outside the root", resolved.display())))?;
    let mut dir = open_dir(root)?;
    for part in inside.components() {
        let Component::Normal(name) = part else {
            continue;
        };
        dir = match open_child_dir(dir.as_fd(), Path::new(name)) {
            Err(Errno::ENOENT) => {
                match nix::sys::stat::mkdirat(dir.as_fd(), name, Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(errno) => return Err(errno.into()),
                }
                open_child_dir(dir.as_fd(), Path::new(name))?
            }
            other => other?,
        };
    }
    Ok((resolved, dir))
}

/// Makes the empty file `path` resolves to in `root` (its directories too) unless something
/// is there already, never following a symlink. Returns the resolved path and an O_PATH
/// handle on what is there.
pub(crate) fn create_file(
    k: &dyn Kernel,
    root: &Path,
    path: &Path,
) -> io::Result<(PathBuf, OwnedFd)> {
    let resolved = resolve_with(k, root, path)?;
    let (Some(parent), Some(name)) = (resolved.parent(), resolved.file_name()) else {
        return mkdir_all(k, root, path);
    };
    let inside_parent = parent.strip_prefix(root).unwrap_or(Path::new(""));
    let (_, dir) = mkdir_all(k, root, &Path::new("/").join(inside_parent))?;
    let create = OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match nix::fcntl::openat(dir.as_fd(), name, create, Mode::from_bits_truncate(0o644)) {
        Ok(_) | Err(Errno::EISDIR) => {}
        Err(errno) => return Err(errno.into()),
    }
    let handle = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let file = nix::fcntl::openat(dir.as_fd(), name, handle, Mode::empty())?;
    Ok((resolved, file))
}

/// The `/proc/self/fd` path of `fd`, through which a path-taking call reaches exactly that
/// file.
pub(crate) fn fd_path(fd: BorrowedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    Ok(nix::fcntl::open(path, flags, Mode::empty())?)
}

fn open_child_dir(dir: BorrowedFd, name: &Path) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    nix::fcntl::openat(dir, name, flags, Mode::empty())
}

fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|component| match component {
            Component::Normal(part) => Some(part.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[OsString]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(parts);
    path
}

#[cfg(test)]
mod tests;
