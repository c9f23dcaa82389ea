//! Volume endpoints: `GET /volumes`, `POST /volumes/create`, `GET` and `DELETE
//! /volumes/{name}`, and `POST /volumes/prune`.

use std::sync::Arc;

use berth_api::volume::{VolumeCreateOptions, VolumeListResponse, VolumesPruneResponse};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use super::http::{json_response, no_content, ok_json, read_json, ApiError, ApiResult, Query};
use super::prune::filters;
use crate::daemon::Daemon;
use crate::volumes::VolumeError;

/// Maps a volume error to Docker's status codes.
pub fn volume_error(err: VolumeError) -> ApiError {
    match err {
        VolumeError::NotFound(_) => ApiError::not_found(err.to_string()),
        VolumeError::InvalidName(_) | VolumeError::UnsupportedDriver { .. } => {
            ApiError::bad_request(err.to_string())
        }
        VolumeError::Io(err) => ApiError::internal(format!("{err:#}")),
    }
}

/// Ids of the containers whose binds use volume `name`.
fn users_of(daemon: &Daemon, name: &str) -> Vec<String> {
    daemon
        .containers
        .all()
        .iter()
        .map(|entry| entry.record())
        .filter(|record| record.volumes.contains_key(name))
        .map(|record| record.id)
        .collect()
}

/// `GET /volumes?filters=..` (`name`, `label`, `dangling`).
pub fn list(daemon: &Daemon, query: &Query) -> ApiResult {
    let filters = filters(query)?;
    filters
        .only(&["name", "label", "label!", "dangling"])
        .and_then(|()| filters.boolean("dangling"))
        .map_err(|err| ApiError::bad_request(err.to_string()))?;
    let dangling = filters.boolean("dangling").ok().flatten();
    let volumes = daemon
        .volumes
        .list()
        .into_iter()
        .filter(|volume| {
            filters.any_or_absent("name", |part| volume.name.contains(part))
                && filters.labels_match(&volume.labels)
                && dangling.is_none_or(|wanted| users_of(daemon, &volume.name).is_empty() == wanted)
        })
        .collect();
    ok_json(&VolumeListResponse {
        volumes,
        warnings: Vec::new(),
    })
}

/// `POST /volumes/create`.
pub async fn create(daemon: Arc<Daemon>, request: Request<Incoming>) -> ApiResult {
    let options: VolumeCreateOptions = read_json(request).await?;
    let volume = daemon
        .volumes
        .create(&options.name, &options.driver, options.labels)
        .map_err(volume_error)?;
    Ok(json_response(StatusCode::CREATED, &volume))
}

/// `GET /volumes/{name}`.
pub fn inspect(daemon: &Daemon, name: &str) -> ApiResult {
    ok_json(&daemon.volumes.get(name).map_err(volume_error)?)
}

/// `DELETE /volumes/{name}?force=..`: refused while a container uses it; `force` only
/// forgives a missing volume, as in dockerd.
pub fn remove(daemon: &Daemon, name: &str, query: &Query) -> ApiResult {
    let users = users_of(daemon, name);
    if !users.is_empty() {
        return Err(ApiError::conflict(format!(
            "remove {name}: volume is in use - [{}]",
            users.join(", ")
        )));
    }
    match daemon.volumes.remove(name) {
        Ok(_) => no_content(StatusCode::NO_CONTENT),
        Err(VolumeError::NotFound(_)) if query.flag("force") => no_content(StatusCode::NO_CONTENT),
        Err(err) => Err(volume_error(err)),
    }
}

/// `POST /volumes/prune?filters=..`: as in dockerd (API 1.42 on), only unused anonymous
/// volumes go unless the `all=true` filter asks for every unused one: a named volume holds
/// data someone chose to keep.
pub fn prune(daemon: &Daemon, query: &Query) -> ApiResult {
    let filters = filters(query)?;
    let all = filters
        .only(&["label", "label!", "all"])
        .and_then(|()| filters.boolean("all"))
        .map_err(|err| ApiError::bad_request(err.to_string()))?
        .unwrap_or(false);
    let mut response = VolumesPruneResponse::default();
    for volume in daemon.volumes.list() {
        let anonymous = volume.labels.contains_key(crate::volumes::ANONYMOUS_LABEL);
        if !(all || anonymous)
            || !filters.labels_match(&volume.labels)
            || !users_of(daemon, &volume.name).is_empty()
        {
            continue;
        }
        match daemon.volumes.remove(&volume.name) {
            Ok(size) => {
                response.volumes_deleted.push(volume.name);
                response.space_reclaimed += size;
            }
            Err(err) => tracing::info!(volume = %volume.name, "prune kept it: {err}"),
        }
    }
    ok_json(&response)
}
