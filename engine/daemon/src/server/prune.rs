//! The prune endpoints: `POST /containers/prune` removes every stopped container the filters
//! take; `POST /images/prune` removes unused dangling images, or with `dangling=false` every
//! image no container uses. Both report what they removed and the bytes that freed.
//! `POST /build/prune` answers that there is no build cache (berthd builds no images).

use std::collections::BTreeSet;
use std::sync::Arc;

use berth_api::container::ContainersPruneResponse;
use berth_api::filters::Filters;
use berth_api::image::{ImageDeleteItem, ImagesPruneResponse};
use berth_image::RemoveAction;

use super::http::{ok_json, ApiError, ApiResult, Query};
use super::image_filters::{self, image_labels, ImageSelection};
use super::images::image_error;
use crate::containers::{self, select};
use crate::daemon::Daemon;

/// Container states a prune removes; running, paused and restarting ones stay.
const STOPPED: &[&str] = &["created", "exited", "dead"];

/// The request's `filters`, or Docker's 400.
pub fn filters(query: &Query) -> Result<Filters, ApiError> {
    Filters::parse(query.get("filters")).map_err(|err| ApiError::bad_request(err.to_string()))
}

/// `POST /containers/prune?filters=..` (`until`, `label`, `label!`).
pub async fn containers(daemon: Arc<Daemon>, query: &Query) -> ApiResult {
    let selection = select::Selection::new(
        filters(query)?,
        select::PRUNE_FILTERS,
        true,
        &daemon.containers,
        |_| None,
    )
    .map_err(|err| ApiError::bad_request(err.to_string()))?;
    let mut response = ContainersPruneResponse::default();
    for entry in daemon.containers.all() {
        let record = entry.record();
        if !STOPPED.contains(&record.state.status.as_str()) || !selection.matches(&record) {
            continue;
        }
        let size = daemon.images.store.rootfs_size(&record.id).unwrap_or(0);
        // A container started since the listing is refused by remove, and kept.
        match containers::remove(&daemon, &entry, false, false).await {
            Ok(()) => {
                response.containers_deleted.push(record.id);
                response.space_reclaimed += size;
            }
            Err(message) => tracing::info!(container = %record.id, "prune kept it: {message}"),
        }
    }
    ok_json(&response)
}

/// `POST /images/prune?filters=..` (`dangling`, `until`, `label`, `label!`).
pub async fn images(daemon: Arc<Daemon>, query: &Query) -> ApiResult {
    let store = &daemon.images.store;
    let selection = ImageSelection::new(filters(query)?, image_filters::PRUNE_FILTERS, store)
        .map_err(|err| ApiError::bad_request(err.to_string()))?;
    // Without the filter a prune takes only dangling images; `dangling=false` takes all.
    let dangling_only = selection.dangling() != Some(false);
    let in_use: BTreeSet<String> = daemon
        .containers
        .all()
        .iter()
        .map(|entry| entry.record().image_id)
        .collect();
    let mut response = ImagesPruneResponse::default();
    for image in store.images().map_err(image_error)? {
        let id = image.id.to_string();
        let candidate = !in_use.contains(&id)
            && (!dangling_only || image.repo_tags.is_empty())
            && selection.matches_besides_dangling(&image, &image_labels(store, &image.id));
        if !candidate {
            continue;
        }
        // By id, so every tag goes; no container uses it, so force only skips the
        // several-repositories check.
        match store.remove_image(&id, true).await {
            Ok(removal) => {
                response.space_reclaimed += removal.space_reclaimed;
                response
                    .images_deleted
                    .extend(removal.actions.into_iter().map(delete_item));
            }
            Err(err) => tracing::info!(image = %id, "prune kept it: {err}"),
        }
    }
    ok_json(&response)
}

/// One `rmi` step as the API reports it.
pub fn delete_item(action: RemoveAction) -> ImageDeleteItem {
    match action {
        RemoveAction::Untagged(reference) => ImageDeleteItem {
            untagged: Some(reference),
            deleted: None,
        },
        RemoveAction::Deleted(id) => ImageDeleteItem {
            untagged: None,
            deleted: Some(id.to_string()),
        },
    }
}

/// `POST /build/prune`: berthd builds no images, so there is no build cache to free.
pub fn build_cache() -> ApiResult {
    ok_json(&serde_json::json!({"CachesDeleted": [], "SpaceReclaimed": 0}))
}
