//! The parent side: clones init into its new namespaces as a direct child of the caller and
//! execs it from an unwritable handle on the runtime binary, with the caller's stdio fds.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sched::CloneFlags;

pub(crate) use super::channel::{recv, send, InitConfig, Report};
pub(crate) use super::exe::unwritable_exe;
use super::init::INIT_ENV;
use crate::error::{Context, Result};
use crate::namespaces::Plan;

/// The stdio fds for init (and so for the user's process); `None` inherits the caller's.
#[derive(Debug, Default)]
pub(crate) struct Stdio {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// A cloned init and the runtime's end of its channel.
pub(crate) struct Spawned {
    pub pid: i32,
    pub channel: UnixStream,
}

/// Returns `fd` as a close-on-exec fd numbered 3 or above, so that the child's dup2 onto
/// 0..=2 cannot clobber it.
pub(crate) fn above_stdio(fd: OwnedFd) -> Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC returns a new fd or -1.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "duplicating an fd".to_owned());
    }
    // SAFETY: `new` is a fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Clones init. `exe` is the unwritable handle on the runtime binary. Safe to call from a multithreaded process:
/// between clone and exec the child only calls dup2, fcntl and execve.
pub(crate) fn spawn(exe: &OwnedFd, plan: &Plan, stdio: Stdio) -> Result<Spawned> {
    let (parent_end, child_end) =
        UnixStream::pair().ctx(|| "creating the init channel".to_owned())?;
    let child_end = above_stdio(child_end.into())?;
    let stdio: Vec<Option<OwnedFd>> = [stdio.stdin, stdio.stdout, stdio.stderr]
        .into_iter()
        .map(|fd| fd.map(above_stdio).transpose())
        .collect::<Result<_>>()?;
    let exe_path = CString::new(format!("/proc/self/fd/{}", exe.as_raw_fd())).unwrap_or_default();
    let arg0 = c"berth-runtime-init";
    let env = CString::new(format!("{INIT_ENV}={}", child_end.as_raw_fd())).unwrap_or_default();
    let argv = [arg0.as_ptr(), std::ptr::null()];
    let envp = [env.as_ptr(), std::ptr::null()];
    let stdio_raw: [RawFd; 3] =
        [0, 1, 2].map(|i| stdio[i].as_ref().map_or(-1, |fd| fd.as_raw_fd()));
    let child_raw = child_end.as_raw_fd();

    let restore_pid_namespace = match &plan.join_pid {
        Some(path) => Some(enter_pid_namespace(path)?),
        None => None,
    };
    let flags = plan.clone_flags.bits() as libc::c_long | libc::SIGCHLD as libc::c_long;
    // SAFETY: a fork-like clone (no CLONE_VM, no new stack). The child runs only
    // async-signal-safe calls on memory prepared above and then execs or exits.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
    if pid == 0 {
        // SAFETY: (child) dup2/fcntl/execve/_exit on prepared fds and strings.
        unsafe {
            for (target, source) in stdio_raw.iter().enumerate() {
                if *source >= 0 {
                    libc::dup2(*source, target as i32);
                }
            }
            libc::fcntl(child_raw, libc::F_SETFD, 0);
            libc::execve(exe_path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    let clone_error = std::io::Error::last_os_error();
    if let Some(own) = restore_pid_namespace {
        let _ = nix::sched::setns(own, CloneFlags::CLONE_NEWPID);
    }
    if pid < 0 {
        return Err(clone_error).ctx(|| "linux.namespaces: clone".to_owned());
    }
    Ok(Spawned {
        pid: pid as i32,
        channel: parent_end,
    })
}

/// Moves this thread's children into the pid namespace at `path`; returns the thread's own
/// pid namespace to move back to.
fn enter_pid_namespace(path: &Path) -> Result<File> {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    let own_path = format!("/proc/self/task/{tid}/ns/pid");
    let own = File::open(&own_path).ctx(|| format!("opening {own_path}"))?;
    crate::namespaces::enter(path, CloneFlags::CLONE_NEWPID)?;
    Ok(own)
}
