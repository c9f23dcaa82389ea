//! Image endpoints: pull (`POST /images/create`) and push with Docker's JSON progress stream,
//! list, inspect, tag, delete, save (`GET /images/get`) and load.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api::container::ContainerConfig;
use berth_api::image::{ImageDeleteItem, ImageInspect, ImageSummary, ProgressMessage, RootFs};
use berth_image::{ProgressEvent, Reference};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::http::{no_content, ok_json, streaming, ApiError, ApiResult, Query};
use super::image_filters::{self, image_labels, ImageSelection};
use super::pipe::{BodyReader, ChannelWriter};
use super::prune::{delete_item, filters};
use crate::daemon::Daemon;

/// Maps an image-layer error to Docker's status codes.
pub fn image_error(err: berth_image::Error) -> ApiError {
    use berth_image::Error;
    let message = err.to_string();
    match err {
        Error::NotFound(_) => ApiError::not_found(message),
        Error::Conflict(_) => ApiError::conflict(message),
        Error::InvalidReference { .. } | Error::InvalidDigest { .. } | Error::BadArchive { .. } => {
            ApiError::bad_request(message)
        }
        _ => ApiError::internal(message),
    }
}

/// `fromImage` plus `tag` as one reference (`tag` may be a digest).
fn pull_reference(query: &Query) -> Result<Reference, ApiError> {
    let image = query
        .get("fromImage")
        .filter(|image| !image.is_empty())
        .ok_or_else(|| ApiError::bad_request("only pulling is supported: fromImage must be set"))?;
    let full = match query.get("tag").filter(|tag| !tag.is_empty()) {
        Some(tag) if tag.contains(':') => format!("{image}@{tag}"),
        Some(tag) => format!("{image}:{tag}"),
        None => image.to_owned(),
    };
    Reference::parse(&full).map_err(image_error)
}

/// Sends progress events as JSON lines until the operation finishes, then its error if any.
async fn forward_progress(
    mut events: mpsc::UnboundedReceiver<ProgressEvent>,
    body: mpsc::Sender<Bytes>,
) {
    while let Some(event) = events.recv().await {
        let mut line = event.to_docker_json().to_string();
        line.push_str("\r\n");
        if body.send(Bytes::from(line)).await.is_err() {
            break;
        }
    }
}

async fn send_line(body: &mpsc::Sender<Bytes>, message: &ProgressMessage) {
    if let Ok(mut line) = serde_json::to_string(message) {
        line.push_str("\r\n");
        let _ = body.send(Bytes::from(line)).await;
    }
}

/// `POST /images/create?fromImage=..&tag=..`: pulls, streaming progress. Each request runs
/// its own pull, so when its client disconnects nobody else waits on it: the pull is
/// dropped, which stops its downloads and removes their partial blobs, as dockerd cancels a
/// pull whose clients are all gone.
pub async fn pull(daemon: Arc<Daemon>, query: Query) -> ApiResult {
    let reference = pull_reference(&query)?;
    let (response, body) = streaming(StatusCode::OK, "application/json");
    tokio::spawn(async move {
        let (progress, events) = mpsc::unbounded_channel();
        let forward = tokio::spawn(forward_progress(events, body.clone()));
        let registry = daemon.images.registry();
        let options = berth_image::PullOptions::default();
        let pulling = berth_image::pull(
            &daemon.images.store,
            &registry,
            &reference,
            &options,
            &progress,
        );
        let result = tokio::select! {
            result = pulling => Some(result),
            () = body.closed() => None,
        };
        drop(progress);
        let _ = forward.await;
        match result {
            None => tracing::info!(reference = %reference, "pull cancelled: its client went away"),
            Some(Err(err)) => {
                tracing::warn!(reference = %reference, error = %err, "pull failed");
                send_line(&body, &ProgressMessage::failure(err.to_string())).await;
            }
            Some(Ok(_)) => {}
        }
    });
    Ok(response)
}

/// `POST /images/{name}/push?tag=..`.
pub async fn push(daemon: Arc<Daemon>, name: &str, query: Query) -> ApiResult {
    let full = match query.get("tag").filter(|tag| !tag.is_empty()) {
        Some(tag) => format!("{name}:{tag}"),
        None => name.to_owned(),
    };
    let reference = Reference::parse(&full).map_err(image_error)?;
    if daemon
        .images
        .store
        .lookup(&reference)
        .map_err(image_error)?
        .is_none()
    {
        return Err(ApiError::not_found(format!(
            "An image does not exist locally with the tag: {}",
            reference.familiar_name()
        )));
    }
    let (response, body) = streaming(StatusCode::OK, "application/json");
    tokio::spawn(async move {
        let (progress, events) = mpsc::unbounded_channel();
        let forward = tokio::spawn(forward_progress(events, body.clone()));
        let registry = daemon.images.registry();
        let result =
            berth_image::push(&daemon.images.store, &registry, &reference, None, &progress).await;
        drop(progress);
        let _ = forward.await;
        match result {
            Ok(digest) => {
                let tag = reference.tag().unwrap_or("latest").to_owned();
                let status = format!("{tag}: digest: {digest}");
                send_line(&body, &ProgressMessage::status(status, "")).await;
            }
            Err(err) => send_line(&body, &ProgressMessage::failure(err.to_string())).await,
        }
    });
    Ok(response)
}

/// The parts of an image config blob that inspect shows.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConfigBlob {
    config: Option<ContainerConfig>,
    created: Option<String>,
    author: Option<String>,
    architecture: Option<String>,
    os: Option<String>,
    rootfs: Option<RootFsBlob>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RootFsBlob {
    #[serde(rename = "type")]
    kind: String,
    diff_ids: Vec<String>,
}

/// `GET /images/json?filters=..`.
pub fn list(daemon: &Daemon, in_use: &BTreeMap<String, i64>, query: &Query) -> ApiResult {
    let store = &daemon.images.store;
    let selection = ImageSelection::new(filters(query)?, image_filters::LIST_FILTERS, store)
        .map_err(|err| ApiError::bad_request(err.to_string()))?;
    let mut summaries = Vec::new();
    for image in store.images().map_err(image_error)? {
        let labels = image_labels(store, &image.id);
        if !selection.matches(&image, &labels) {
            continue;
        }
        let containers = in_use.get(&image.id.to_string()).copied().unwrap_or(0);
        let mut summary = image_summary(image, containers, labels);
        summary.repo_tags = selection.shown_references(summary.repo_tags);
        summary.repo_digests = selection.shown_references(summary.repo_digests);
        summaries.push(summary);
    }
    ok_json(&summaries)
}

/// A list entry for `image`, used by `containers` containers (`SharedSize` unknown: -1).
pub fn image_summary(
    image: berth_image::ImageSummary,
    containers: i64,
    labels: BTreeMap<String, String>,
) -> ImageSummary {
    ImageSummary {
        containers,
        id: image.id.to_string(),
        parent_id: String::new(),
        repo_tags: image.repo_tags,
        repo_digests: image.repo_digests,
        created: image.created,
        size: image.size as i64,
        shared_size: -1,
        virtual_size: image.size as i64,
        labels,
    }
}

/// `GET /images/{name}/json`.
pub fn inspect(daemon: &Daemon, name: &str) -> ApiResult {
    let store = &daemon.images.store;
    let id = store.resolve(name).map_err(image_error)?;
    let record = store.image(&id).map_err(image_error)?;
    let bytes = store.image_config_bytes(&id).map_err(image_error)?;
    let blob: ConfigBlob = serde_json::from_slice(&bytes)
        .map_err(|err| ApiError::internal(format!("image config {id}: {err}")))?;
    let mut repo_tags = Vec::new();
    let mut repo_digests = Vec::new();
    for reference in store.references_of(&id).map_err(image_error)? {
        if reference.digest().is_some() {
            repo_digests.push(reference.familiar());
        } else {
            repo_tags.push(reference.familiar());
        }
    }
    let rootfs = blob.rootfs.unwrap_or_default();
    ok_json(&ImageInspect {
        id: id.to_string(),
        repo_tags,
        repo_digests,
        parent: String::new(),
        comment: String::new(),
        created: blob.created.unwrap_or_default(),
        author: blob.author.unwrap_or_default(),
        config: blob.config.unwrap_or_default(),
        architecture: blob.architecture.unwrap_or_default(),
        os: blob.os.unwrap_or_else(|| "linux".to_owned()),
        size: record.size as i64,
        virtual_size: record.size as i64,
        root_fs: RootFs {
            kind: if rootfs.kind.is_empty() {
                "layers".to_owned()
            } else {
                rootfs.kind
            },
            layers: rootfs.diff_ids,
        },
    })
}

/// `POST /images/{name}/tag?repo=..&tag=..`.
pub fn tag(daemon: &Daemon, name: &str, query: Query) -> ApiResult {
    let store = &daemon.images.store;
    let id = store.resolve(name).map_err(image_error)?;
    let repo = query
        .get("repo")
        .filter(|repo| !repo.is_empty())
        .ok_or_else(|| ApiError::bad_request("repo is required"))?;
    let full = match query.get("tag").filter(|tag| !tag.is_empty()) {
        Some(tag) => format!("{repo}:{tag}"),
        None => repo.to_owned(),
    };
    let reference = Reference::parse(&full).map_err(image_error)?;
    store.tag(&id, &reference).map_err(image_error)?;
    no_content(StatusCode::CREATED)
}

/// `DELETE /images/{name}?force=..`; `users` names containers still using the image.
pub async fn remove(daemon: &Daemon, name: &str, force: bool, users: Vec<String>) -> ApiResult {
    if let Some(container) = users.first() {
        let id = daemon.images.store.resolve(name).map_err(image_error)?;
        return Err(ApiError::conflict(format!(
            "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
            &container[..container.len().min(12)],
            id.short()
        )));
    }
    let removal = daemon
        .images
        .store
        .remove_image(name, force)
        .await
        .map_err(image_error)?;
    let items: Vec<ImageDeleteItem> = removal.actions.into_iter().map(delete_item).collect();
    ok_json(&items)
}

/// `GET /images/get?names=..` and `GET /images/{name}/get`: a docker-archive tar stream.
pub async fn save(daemon: Arc<Daemon>, names: Vec<String>) -> ApiResult {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names given"));
    }
    for name in &names {
        daemon.images.store.resolve(name).map_err(image_error)?;
    }
    let (response, body) = streaming(StatusCode::OK, "application/x-tar");
    tokio::spawn(async move {
        let writer = ChannelWriter::new(body);
        if let Err(err) = berth_image::save(&daemon.images.store, &names, writer).await {
            tracing::warn!(error = %err, "save failed part way; the client gets a short archive");
        }
    });
    Ok(response)
}

/// `POST /images/load`: reads a tar from the body, answers JSON lines.
pub async fn load(daemon: Arc<Daemon>, request: Request<Incoming>) -> ApiResult {
    let reader = BodyReader::new(request.into_body());
    let loaded = berth_image::load(&daemon.images.store, reader)
        .await
        .map_err(image_error)?;
    let (response, body) = streaming(StatusCode::OK, "application/json");
    tokio::spawn(async move {
        for line in loaded {
            let message = ProgressMessage {
                stream: format!("{line}\n"),
                ..Default::default()
            };
            send_line(&body, &message).await;
        }
    });
    Ok(response)
}
