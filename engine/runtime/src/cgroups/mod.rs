//! cgroups with the cgroupfs driver: a container's cgroup directories (one per v1 hierarchy, or
//! one in the v2 unified tree), its resource limits, its processes, and removal on delete.

mod device_filter;
mod stats;
mod v1;
mod v2;

pub use stats::Stats;

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Result};

/// The cgroup v2 file-system magic number (statfs f_type).
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// One cgroup directory of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Dir {
    /// The hierarchy's name as it appears under /sys/fs/cgroup ("memory", "cpu,cpuacct", or ""
    /// for the v2 unified tree).
    pub hierarchy: String,
    /// The host path of the container's cgroup.
    pub path: PathBuf,
    /// Whether the runtime made this directory (and so removes it on delete).
    pub created: bool,
}

/// A container's cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cgroup {
    pub unified: bool,
    pub dirs: Vec<Dir>,
}

impl Cgroup {
    /// Makes the cgroup at `cgroups_path` (relative to each hierarchy's root) and writes the
    /// limits. On failure nothing is left behind.
    pub fn create(cgroups_path: &Path, resources: Option<&LinuxResources>) -> Result<Cgroup> {
        let relative = cgroups_path.strip_prefix("/").unwrap_or(cgroups_path);
        let mut cgroup = Cgroup {
            unified: is_unified(),
            dirs: Vec::new(),
        };
        let result = if cgroup.unified {
            v2::create(&mut cgroup, relative, resources)
        } else {
            v1::create(&mut cgroup, relative, resources)
        };
        if let Err(err) = result {
            cgroup.remove();
            return Err(err);
        }
        Ok(cgroup)
    }

    /// Moves the calling process, which must be single-threaded, into the cgroup: container
    /// init does this itself. On v1, writing "0" to `tasks` moves just the calling thread, and
    /// the kernel then skips the global threadgroup lock, whose RCU grace period (10-25 ms)
    /// otherwise dominates a container's start; moving the whole process through
    /// `cgroup.procs` from outside always pays it. v2 has no such file; `cgroup.procs` there.
    pub fn join_self(&self) -> Result<()> {
        for dir in &self.dirs {
            let file = if self.unified {
                "cgroup.procs"
            } else {
                "tasks"
            };
            write(&dir.path, file, "0")?;
        }
        Ok(())
    }

    /// The directories at `cgroups_path` that exist now, in every hierarchy (v1) or the
    /// unified tree, all owned by the caller: what a create interrupted before it saved its
    /// state may have made.
    pub fn existing(cgroups_path: &Path) -> Cgroup {
        let relative = cgroups_path.strip_prefix("/").unwrap_or(cgroups_path);
        let unified = is_unified();
        let dirs = if unified {
            v2::existing(relative)
        } else {
            v1::existing(relative)
        };
        Cgroup { unified, dirs }
    }

    /// SIGKILLs every process in the cgroup until none is left (at most `timeout`).
    pub fn kill_all(&self, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let pids = self.pids();
            if pids.is_empty() || std::time::Instant::now() >= deadline {
                return;
            }
            for pid in pids {
                let pid = nix::unistd::Pid::from_raw(pid);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The processes in the cgroup (from the first hierarchy that lists any).
    pub fn pids(&self) -> Vec<i32> {
        for dir in &self.dirs {
            if let Ok(text) = fs::read_to_string(dir.path.join("cgroup.procs")) {
                return text.lines().filter_map(|line| line.parse().ok()).collect();
            }
        }
        Vec::new()
    }

    /// Freezes (or thaws) every process in the cgroup: v2's `cgroup.freeze`, v1's freezer.
    /// Returns once the kernel reports the change done.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        let (dir, file, value) = self.freezer(frozen)?;
        write(dir, file, value)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.is_frozen() != frozen {
            if std::time::Instant::now() >= deadline {
                return Err(crate::Error::Init(format!(
                    "{} did not reach {value:?} within 10 s",
                    dir.join(file).display()
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Whether the cgroup is frozen.
    pub fn is_frozen(&self) -> bool {
        let Ok((dir, _, _)) = self.freezer(true) else {
            return false;
        };
        if self.unified {
            fs::read_to_string(dir.join("cgroup.events"))
                .is_ok_and(|events| events.lines().any(|line| line == "frozen 1"))
        } else {
            fs::read_to_string(dir.join("freezer.state"))
                .is_ok_and(|state| state.trim() == "FROZEN")
        }
    }

    /// The directory, file and value that freeze or thaw the cgroup.
    fn freezer(&self, frozen: bool) -> Result<(&Path, &'static str, &'static str)> {
        if self.unified {
            let dir = self.dirs.first().ok_or_else(no_freezer)?;
            return Ok((&dir.path, "cgroup.freeze", if frozen { "1" } else { "0" }));
        }
        let dir = self
            .dirs
            .iter()
            .find(|dir| dir.hierarchy.split(',').any(|name| name == "freezer"))
            .ok_or_else(no_freezer)?;
        Ok((
            &dir.path,
            "freezer.state",
            if frozen { "FROZEN" } else { "THAWED" },
        ))
    }

    /// Removes the directories the runtime created, retrying while the kernel still counts
    /// exiting processes.
    pub fn remove(&self) {
        for dir in self.dirs.iter().rev().filter(|dir| dir.created) {
            for attempt in 0..100 {
                match fs::remove_dir(&dir.path) {
                    Ok(()) => {
                        if attempt > 0 {
                            tracing::debug!(path = %dir.path.display(), attempt, "cgroup removed after retries");
                        }
                        break;
                    }
                    Err(err) if err.kind() == ErrorKind::NotFound => break,
                    Err(err) => {
                        if attempt == 99 {
                            tracing::warn!(path = %dir.path.display(), %err, "cannot remove cgroup");
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        }
    }
}

fn is_unified() -> bool {
    is_cgroup2(Path::new("/sys/fs/cgroup"))
}

/// Whether `path` is a cgroup2 mount.
// f_type is i64 on x86_64 but narrower on some architectures.
#[allow(clippy::unnecessary_cast)]
fn is_cgroup2(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .is_ok_and(|fs| fs.filesystem_type().0 as i64 == CGROUP2_SUPER_MAGIC)
}

fn no_freezer() -> crate::Error {
    crate::Error::Init("the container has no freezer cgroup".to_owned())
}

/// Makes `path` and any missing parents; tells whether the leaf was new.
fn make_dir(path: &Path) -> Result<bool> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).ctx(|| format!("creating cgroup {}", parent.display()))?;
    }
    match fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(err) => Err(err).ctx(|| format!("creating cgroup {}", path.display())),
    }
}

fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    fs::write(&path, value).ctx(|| format!("writing {value:?} to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_an_empty_cgroup_is_a_no_op() {
        Cgroup::default().remove();
        assert!(Cgroup::default().pids().is_empty());
    }
}
