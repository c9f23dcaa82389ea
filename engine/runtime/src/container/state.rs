//! `state` and `list`: the runc-shaped state of one container or of all of them; `pids` and `stats`.

use super::validate_id;
use crate::error::{Context, Result};
use crate::state::{Record, State};
use crate::Runtime;

impl Runtime {
    /// The state of one container.
    pub fn state(&self, id: &str) -> Result<State> {
        validate_id(id)?;
        Ok(Record::load(&self.root.join(id), id)?.to_state())
    }

    /// The host pids of every process in the container (from its cgroup), as `runc ps`.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        validate_id(id)?;
        Ok(Record::load(&self.root.join(id), id)?.cgroup.pids())
    }

    /// A sample of the container's CPU, memory and process usage, from its cgroup.
    pub fn stats(&self, id: &str) -> Result<crate::Stats> {
        validate_id(id)?;
        Ok(Record::load(&self.root.join(id), id)?.cgroup.stats())
    }

    /// The states of all containers under the state root, oldest first.
    pub fn list(&self) -> Result<Vec<State>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(err).ctx(|| format!("reading {}", self.root.display())),
        };
        let mut states: Vec<State> = entries
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let id = entry.file_name().into_string().ok()?;
                Record::load(&entry.path(), &id).ok().map(|r| r.to_state())
            })
            .collect();
        states.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        Ok(states)
    }
}
