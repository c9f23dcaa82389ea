//! `pause` and `resume`: freeze and thaw every process of a running container through its
//! cgroup (v1 freezer or v2 `cgroup.freeze`).

use super::validate_id;
use crate::error::{Error, Result};
use crate::state::{Record, Status};
use crate::Runtime;

impl Runtime {
    /// Freezes a running container.
    pub fn pause(&self, id: &str) -> Result<()> {
        self.set_frozen(id, true)
    }

    /// Thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<()> {
        self.set_frozen(id, false)
    }

    fn set_frozen(&self, id: &str, frozen: bool) -> Result<()> {
        validate_id(id)?;
        let record = Record::load(&self.root.join(id), id)?;
        let status = record.status();
        let (wanted, operation) = if frozen {
            (Status::Running, "pause")
        } else {
            (Status::Paused, "resume")
        };
        if status != wanted {
            return Err(Error::InvalidStatus {
                id: id.to_owned(),
                status: status.to_string(),
                operation,
            });
        }
        record.cgroup.set_frozen(frozen)
    }
}
