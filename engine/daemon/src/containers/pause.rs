//! `pause` and `unpause`: freezing a running container's processes through the runtime, with
//! docker's refusals for a container that is not running, already paused or not paused.

use std::sync::Arc;

use super::Entry;
use crate::daemon::Daemon;

/// Why a pause or unpause was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum PauseError {
    #[error("Container {0} is not running")]
    NotRunning(String),
    #[error("Container {0} is already paused")]
    AlreadyPaused(String),
    #[error("Container {0} is not paused")]
    NotPaused(String),
    #[error("{0}")]
    Failed(String),
}

/// Freezes (`paused`) or thaws a container.
pub async fn set_paused(
    daemon: &Arc<Daemon>,
    entry: &Arc<Entry>,
    paused: bool,
) -> Result<(), PauseError> {
    let _guard = entry.operation.lock().await;
    let record = entry.record();
    let id = entry.id.clone();
    if !record.state.running() {
        return Err(PauseError::NotRunning(id));
    }
    match (paused, record.state.paused) {
        (true, true) => return Err(PauseError::AlreadyPaused(id)),
        (false, false) => return Err(PauseError::NotPaused(id)),
        _ => {}
    }
    let (daemon_ref, runtime_id) = (Arc::clone(daemon), id.clone());
    tokio::task::spawn_blocking(move || {
        let runtime = &daemon_ref.containers.runtime;
        if paused {
            runtime.pause(&runtime_id)
        } else {
            runtime.resume(&runtime_id)
        }
    })
    .await
    .map_err(|err| PauseError::Failed(err.to_string()))?
    .map_err(|err| PauseError::Failed(err.to_string()))?;
    entry.update(&daemon.containers.dir(&id), |record| {
        record.state.paused = paused;
    });
    Ok(())
}
