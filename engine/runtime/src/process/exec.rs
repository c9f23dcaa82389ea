//! The last steps before init becomes the user's process: no inherited fd survives exec
//! (CVE-2024-21626), the working directory lies inside the container, signals are reset,
//! and the program is found on the container's PATH.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Marks every fd above stdio close-on-exec. Runs first thing in init, while /proc is the
/// host's; with no /proc it walks the whole fd table.
pub(crate) fn mark_fds_cloexec() {
    let fds: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => {
            // SAFETY: sysconf has no preconditions.
            let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(1024, 1 << 20) as i32;
            (3..max).collect()
        }
    };
    for fd in fds.into_iter().filter(|fd| *fd > 2) {
        // SAFETY: F_SETFD on a possibly-closed fd just fails with EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

/// Changes to `cwd` and checks that the kernel sees it under the container root: a directory
/// reached through a leaked host fd shows as "(unreachable)" (CVE-2024-21626).
pub(crate) fn enter_cwd(cwd: &Path) -> Result<()> {
    nix::unistd::chdir(cwd).ctx(|| format!("process.cwd: chdir {}", cwd.display()))?;
    let actual = nix::unistd::getcwd().ctx(|| "process.cwd: getcwd".to_owned())?;
    if !actual.is_absolute() {
        return Err(Error::spec(
            "process.cwd",
            format!("{} lies outside the container", cwd.display()),
        ));
    }
    Ok(())
}

/// Resets every signal to its default action and unblocks them all, so the user's process
/// does not inherit the runtime's choices (Rust ignores SIGPIPE, for one).
pub(crate) fn reset_signals() {
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: resetting a disposition to SIG_DFL; invalid numbers just fail.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
    let empty = nix::sys::signal::SigSet::empty();
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&empty),
        None,
    );
}

/// Finds `program` the way execvp would, using the container's PATH.
pub(crate) fn find_program(program: &str, env: &[String]) -> Result<PathBuf> {
    let candidates: Vec<PathBuf> = if program.contains('/') {
        vec![PathBuf::from(program)]
    } else {
        let path = env
            .iter()
            .find_map(|var| var.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        path.split(':')
            .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(program))
            .collect()
    };
    for candidate in &candidates {
        let Ok(metadata) = std::fs::metadata(candidate) else {
            continue;
        };
        if metadata.is_file() && metadata.permissions().mode() & 0o111 != 0 {
            return Ok(candidate.clone());
        }
    }
    Err(Error::spec(
        "process.args[0]",
        format!("executable {program:?} not found in the container"),
    ))
}

pub(crate) fn cstrings<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<CString>> {
    items
        .into_iter()
        .map(|item| {
            CString::new(item).map_err(|_| Error::spec("process", format!("{item:?} contains NUL")))
        })
        .collect()
}

pub(crate) fn path_cstring(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::spec("process.args[0]", "contains NUL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_path() {
        let env = vec!["PATH=/nonexistent:/bin".to_owned()];
        assert_eq!(find_program("sh", &env).unwrap(), Path::new("/bin/sh"));
        assert!(find_program("no-such-program-here", &env).is_err());
        assert_eq!(find_program("/bin/sh", &[]).unwrap(), Path::new("/bin/sh"));
    }
}
