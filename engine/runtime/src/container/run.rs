//! `run`: create, start, wait and delete in one call; the result is the process's exit status.

use super::wait::wait_pid;
use super::{CreateOptions, ExitStatus};
use crate::error::Result;
use crate::spec::Bundle;
use crate::Runtime;

impl Runtime {
    /// Runs a container to completion and deletes it. Stdio as in `options`.
    pub fn run(&self, id: &str, bundle: &Bundle, options: CreateOptions) -> Result<ExitStatus> {
        let container = self.create(id, bundle, options)?;
        let result = self.start(id).and_then(|()| wait_pid(container.pid));
        let deleted = self.delete(id, true);
        let status = result?;
        deleted?;
        Ok(status)
    }
}
