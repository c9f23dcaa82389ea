//! `wait`: the exit status of a container whose init is a child of the calling process.

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::validate_id;
use crate::error::{Context, Result};
use crate::state::Record;
use crate::Runtime;

/// How a container's process ended, shell style: its exit code, or 128 + the signal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    code: i32,
    signal: Option<i32>,
}

impl ExitStatus {
    /// The exit code, or 128 + signal for a process killed by a signal (137 for SIGKILL).
    pub fn code(&self) -> i32 {
        self.code
    }

    /// The signal that killed the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.signal
    }

    /// Converts a wait status; `None` for stops and continues.
    pub fn from_wait(status: WaitStatus) -> Option<ExitStatus> {
        match status {
            WaitStatus::Exited(_, code) => Some(ExitStatus { code, signal: None }),
            WaitStatus::Signaled(_, signal, _) => Some(ExitStatus {
                code: 128 + signal as i32,
                signal: Some(signal as i32),
            }),
            _ => None,
        }
    }
}

impl Runtime {
    /// Waits for the container's process to exit. Only the process that created the
    /// container (its init's parent) can wait for it.
    pub fn wait(&self, id: &str) -> Result<ExitStatus> {
        validate_id(id)?;
        let record = Record::load(&self.root.join(id), id)?;
        wait_pid(record.pid)
    }
}

/// Waits for child `pid` to exit, retrying on EINTR.
pub(crate) fn wait_pid(pid: i32) -> Result<ExitStatus> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => return Err(errno).ctx(|| format!("waiting for pid {pid}")),
            Ok(status) => {
                if let Some(exit) = ExitStatus::from_wait(status) {
                    return Ok(exit);
                }
            }
        }
    }
}
