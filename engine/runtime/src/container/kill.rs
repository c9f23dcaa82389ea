//! `kill`: send a signal to the container's init, or with `all` to every process in its
//! cgroup.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::validate_id;
use crate::error::{Context, Error, Result};
use crate::state::{Record, Status};
use crate::Runtime;

impl Runtime {
    /// Sends `signal` to a created or running container.
    pub fn kill(&self, id: &str, signal: Signal, all: bool) -> Result<()> {
        validate_id(id)?;
        let record = Record::load(&self.root.join(id), id)?;
        let status = record.status();
        if status == Status::Stopped {
            return Err(Error::InvalidStatus {
                id: id.to_owned(),
                status: status.to_string(),
                operation: "kill",
            });
        }
        if all {
            for pid in record.cgroup.pids() {
                let _ = kill(Pid::from_raw(pid), signal);
            }
            return Ok(());
        }
        kill(Pid::from_raw(record.pid), signal).ctx(|| format!("kill {} {signal}", record.pid))
    }
}
