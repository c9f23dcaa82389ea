//! `docker cp`'s endpoints on `/containers/{id}/archive?path=P`: HEAD gives the path's stat in
//! `X-Docker-Container-Path-Stat`, GET that and a tar of the path, and PUT extracts a tar into
//! the directory at the path.

use std::sync::Arc;

use base64::Engine as _;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, StatusCode};

use super::containers::find;
use super::http::{no_content, streaming, ApiError, ApiResult, Query};
use super::pipe::{BodyReader, ChannelWriter};
use crate::containers::archive::{self, CopyError, PathStat};
use crate::daemon::Daemon;

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

fn path_of(query: &Query) -> Result<String, ApiError> {
    query
        .get("path")
        .filter(|path| !path.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("path: a path in the container is required"))
}

fn copy_error(err: anyhow::Error) -> ApiError {
    match err.downcast_ref::<CopyError>() {
        Some(CopyError::NotFound(_)) => ApiError::not_found(err.to_string()),
        Some(CopyError::NotADirectory(_)) => ApiError::bad_request(err.to_string()),
        None => ApiError::internal(format!("{err:#}")),
    }
}

fn with_stat(mut response: super::http::ApiResponse, stat: &PathStat) -> ApiResult {
    let json = serde_json::to_vec(stat).map_err(|err| ApiError::internal(err.to_string()))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(json);
    let value =
        HeaderValue::from_str(&encoded).map_err(|err| ApiError::internal(err.to_string()))?;
    response.headers_mut().insert(STAT_HEADER, value);
    Ok(response)
}

/// `HEAD /containers/{id}/archive?path=P`.
pub async fn stat(daemon: Arc<Daemon>, name: &str, query: &Query) -> ApiResult {
    let entry = find(&daemon, name)?;
    let path = path_of(query)?;
    let stat = archive::with_files(&daemon, &entry, move |view| {
        let resolved = view.resolve(&path, false)?;
        PathStat::of(view, &resolved)
    })
    .await
    .map_err(copy_error)?;
    with_stat(no_content(StatusCode::OK)?, &stat)
}

/// `GET /containers/{id}/archive?path=P`: the stat header, then the tar, streamed while the
/// container is held still.
pub async fn get(daemon: Arc<Daemon>, name: &str, query: &Query) -> ApiResult {
    let entry = find(&daemon, name)?;
    let path = path_of(query)?;
    let (response, body) = streaming(StatusCode::OK, "application/x-tar");
    let (stat_sender, stat_receiver) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let copied = archive::with_files(&daemon, &entry, move |view| {
            let resolved = view.resolve(&path, false)?;
            let stat = match PathStat::of(view, &resolved) {
                Ok(stat) => stat,
                Err(err) => {
                    let _ = stat_sender.send(Err(err));
                    return Ok(());
                }
            };
            let name = stat.name.clone();
            if stat_sender.send(Ok(stat)).is_err() {
                return Ok(());
            }
            archive::archive(view, &resolved, &name, ChannelWriter::new(body))
        })
        .await;
        if let Err(err) = copied {
            tracing::warn!(error = %format!("{err:#}"), "copy from a container failed part way");
        }
    });
    let stat = stat_receiver
        .await
        .map_err(|_| ApiError::internal("the copy failed before it began"))?
        .map_err(copy_error)?;
    with_stat(response, &stat)
}

/// `PUT /containers/{id}/archive?path=DIR[&copyUIDGID=1]`: the body's tar extracted into DIR.
pub async fn put(
    daemon: Arc<Daemon>,
    name: &str,
    query: &Query,
    request: Request<Incoming>,
) -> ApiResult {
    let entry = find(&daemon, name)?;
    let path = path_of(query)?;
    let keep_owners = query.flag("copyUIDGID");
    let reader = BodyReader::new(request.into_body());
    archive::with_files(&daemon, &entry, move |view| {
        archive::extract(view, &path, reader, keep_owners)
    })
    .await
    .map_err(copy_error)?;
    no_content(StatusCode::OK)
}
