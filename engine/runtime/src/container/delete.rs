//! `delete`: stop what is left of a container (a created one always, a running one with
//! `force`, one whose create was interrupted always), wait until its processes are gone, then
//! remove its cgroup and state.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::validate_id;
use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::state::{proc_stat, Record, Status, CGROUPS_PATH_FILE};
use crate::Runtime;

const GONE_TIMEOUT: Duration = Duration::from_secs(10);

impl Runtime {
    /// Deletes a container. A running one needs `force` (it is then SIGKILLed).
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        validate_id(id)?;
        let state_dir = self.root.join(id);
        let record = match Record::load(&state_dir, id) {
            Ok(record) => record,
            Err(Error::NotFound(_)) if state_dir.is_dir() => {
                return delete_interrupted_create(id, &state_dir)
            }
            Err(err) => return Err(err),
        };
        let status = record.status();
        if matches!(status, Status::Running | Status::Paused) && !force {
            return Err(Error::InvalidStatus {
                id: id.to_owned(),
                status: status.to_string(),
                operation: "delete without --force",
            });
        }
        if status != Status::Stopped {
            let _ = kill(Pid::from_raw(record.pid), Signal::SIGKILL);
        }
        if status == Status::Paused {
            // Frozen processes (v1) only die once thawed.
            let _ = record.cgroup.set_frozen(false);
        }
        wait_gone(&record);
        if !record.own_pid_namespace {
            // Without its own pid namespace, a container's other processes survive init.
            record.cgroup.kill_all(GONE_TIMEOUT);
        }
        record.cgroup.remove();
        std::fs::remove_dir_all(&state_dir).ctx(|| format!("removing {}", state_dir.display()))?;
        tracing::debug!(id, "container deleted");
        Ok(())
    }
}

/// A create whose caller died before it saved the state: kills whatever joined the cgroup the
/// create said it would make, removes that cgroup in every hierarchy, then the state dir.
fn delete_interrupted_create(id: &str, state_dir: &Path) -> Result<()> {
    if let Ok(cgroups_path) = std::fs::read(state_dir.join(CGROUPS_PATH_FILE)) {
        let cgroup = Cgroup::existing(Path::new(OsStr::from_bytes(&cgroups_path)));
        cgroup.kill_all(GONE_TIMEOUT);
        cgroup.remove();
    }
    std::fs::remove_dir_all(state_dir).ctx(|| format!("removing {}", state_dir.display()))?;
    tracing::debug!(id, "interrupted create deleted");
    Ok(())
}

/// Waits until init has exited: reaps it if it is our child, else watches /proc.
fn wait_gone(record: &Record) {
    let deadline = Instant::now() + GONE_TIMEOUT;
    let pid = Pid::from_raw(record.pid);
    while Instant::now() < deadline {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(_) => return,
            Err(_) => {
                let alive = proc_stat(record.pid)
                    .is_some_and(|stat| stat.start_time == record.start_time && !stat.zombie);
                if !alive {
                    return;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    tracing::warn!(pid = record.pid, "container init did not exit");
}
