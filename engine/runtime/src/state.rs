//! Container state: what is persisted in `<root>/<id>/state.json`, the status derived from the
//! live process, and the runc-shaped [`State`] that `state` prints.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::fsutil;

const STATE_FILE: &str = "state.json";
/// The socket the waiting init listens on until `start`.
pub(crate) const START_SOCKET: &str = "start.sock";
/// Written by `create` before it makes the cgroup: the cgroups path, so that `delete` can
/// clean up a create whose caller died before the state was saved.
pub(crate) const CGROUPS_PATH_FILE: &str = "cgroups-path";
/// An empty file `start` creates: cheaper than rewriting (and fsyncing) state.json.
pub(crate) const STARTED_MARKER: &str = "started";

/// The lifecycle status of a container, as in the runtime spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The container is being created.
    Creating,
    /// Created and waiting for `start`.
    Created,
    /// The user process is running.
    Running,
    /// Its processes are frozen (`pause`).
    Paused,
    /// The container process has exited.
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The state of a container in the shape `runc state` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The runtime-spec version of the container's config.
    pub oci_version: String,
    /// The container id.
    pub id: String,
    /// The pid of the container's init on the host; 0 once stopped.
    pub pid: i32,
    /// The lifecycle status.
    pub status: Status,
    /// The absolute bundle directory.
    pub bundle: PathBuf,
    /// The absolute root file system.
    pub rootfs: PathBuf,
    /// When the container was created (RFC 3339).
    pub created: String,
    /// The annotations of the config.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
    /// The owner (runc prints the user name of a rootless owner; always empty here).
    pub owner: String,
}

/// What the runtime records about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    /// Field 22 of /proc/PID/stat, to tell our process from a reused pid.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Set from the `started` marker when loading.
    #[serde(skip)]
    pub started: bool,
    /// Whether init has a pid namespace of its own (killing it then kills everything).
    pub own_pid_namespace: bool,
    pub cgroup: Cgroup,
}

impl Record {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(STATE_FILE)
    }

    pub fn load(state_dir: &Path, id: &str) -> Result<Record> {
        let path = Record::path(state_dir);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_owned()))
            }
            Err(err) => return Err(err).ctx(|| format!("reading {}", path.display())),
        };
        let mut record: Record = serde_json::from_slice(&text).map_err(|err| Error::Io {
            context: format!("reading {}", path.display()),
            source: err.into(),
        })?;
        record.started |= state_dir.join(STARTED_MARKER).exists();
        Ok(record)
    }

    pub fn save(&self, state_dir: &Path) -> Result<()> {
        let json = serde_json::to_vec(self).map_err(|err| Error::Io {
            context: "encoding state".to_owned(),
            source: err.into(),
        })?;
        fsutil::write_atomic(&Record::path(state_dir), &json)
    }

    /// Whether the recorded init process is still alive (a zombie counts as dead).
    pub fn init_alive(&self) -> bool {
        proc_stat(self.pid).is_some_and(|stat| stat.start_time == self.start_time && !stat.zombie)
    }

    pub fn status(&self) -> Status {
        if !self.init_alive() {
            Status::Stopped
        } else if self.started && self.cgroup.is_frozen() {
            Status::Paused
        } else if self.started {
            Status::Running
        } else {
            Status::Created
        }
    }

    pub fn to_state(&self) -> State {
        let status = self.status();
        State {
            oci_version: self.oci_version.clone(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            annotations: self.annotations.clone(),
            owner: String::new(),
        }
    }
}

/// The bits of /proc/PID/stat the runtime needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub start_time: u64,
    pub zombie: bool,
}

pub(crate) fn proc_stat(pid: i32) -> Option<ProcStat> {
    if pid <= 0 {
        return None;
    }
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<ProcStat> {
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); start time is field 22.
    Some(ProcStat {
        zombie: matches!(fields.first(), Some(&"Z") | Some(&"X")),
        start_time: fields.get(19)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_with_odd_names() {
        let line = "42 (a) b) c) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 2 3";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                start_time: 98765,
                zombie: false
            })
        );
        let zombie = "7 (sh) Z 1 7 7 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 5 1 2 3";
        assert!(parse_stat(zombie).unwrap().zombie);
    }

    #[test]
    fn own_process_is_alive() {
        let pid = std::process::id() as i32;
        assert!(proc_stat(pid).is_some_and(|stat| !stat.zombie));
    }
}
