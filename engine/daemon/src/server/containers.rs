//! Container endpoints: create, list, inspect, start, stop, restart, kill, wait and delete.
//! Attach and logs live in [`super::attach`].

use std::sync::Arc;

use berth_api::container::{
    ContainerCreateRequest, ContainerCreateResponse, ContainerSummary, FilesystemChange, WaitError,
    WaitResponse,
};
use berth_image::Reference;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use super::http::{
    json_response, no_content, ok_json, read_json, streaming, ApiError, ApiResult, Query,
};
use super::images::image_error;
use super::prune::filters;
use crate::containers::etc_files;
use crate::containers::security::{self, HostFacts};
use crate::containers::{self, select, spec, Entry, Record, ResizeError, RootfsRecord};
use crate::daemon::Daemon;

/// Finds a container or answers Docker's 404.
pub fn find(daemon: &Daemon, name: &str) -> Result<Arc<Entry>, ApiError> {
    daemon
        .containers
        .find(name)
        .ok_or_else(|| ApiError::not_found(format!("No such container: {name}")))
}

fn internal(err: anyhow::Error) -> ApiError {
    ApiError::internal(format!("{err:#}"))
}

/// The image's default process config from its config blob.
fn image_config(
    daemon: &Daemon,
    id: &berth_image::ImageId,
) -> Result<berth_api::container::ContainerConfig, ApiError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Blob {
        config: Option<berth_api::container::ContainerConfig>,
    }
    let bytes = daemon
        .images
        .store
        .image_config_bytes(id)
        .map_err(image_error)?;
    let blob: Blob = serde_json::from_slice(&bytes)
        .map_err(|err| ApiError::internal(format!("image config {id}: {err}")))?;
    Ok(blob.config.unwrap_or_default())
}

/// `POST /containers/create?name=..`.
pub async fn create(daemon: Arc<Daemon>, request: Request<Incoming>) -> ApiResult {
    let query = Query::parse(request.uri().query());
    let body: ContainerCreateRequest = read_json(request).await?;
    let name = query
        .get("name")
        .unwrap_or("")
        .trim_start_matches('/')
        .to_owned();
    if !name.is_empty() && !containers::valid_name(&name) {
        return Err(ApiError::bad_request(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    if body.config.image.is_empty() {
        return Err(ApiError::bad_request("config.Image is required"));
    }
    let network_mode = containers::network_mode(&body).map_err(ApiError::bad_request)?;
    let mut host_config = body.host_config.clone();
    host_config.network_mode = network_mode;
    let mut body = body;
    spec::fold_mounts(&mut host_config, &mut body.config.volumes)
        .map_err(|err| ApiError::bad_request(err.to_string()))?;
    let policy = host_config.restart_policy.name.as_str();
    if !matches!(
        policy,
        "" | "no" | "always" | "unless-stopped" | "on-failure"
    ) {
        return Err(ApiError::bad_request(format!(
            "invalid restart policy '{policy}'"
        )));
    }
    if host_config.auto_remove && !matches!(policy, "" | "no") {
        return Err(ApiError::bad_request(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    let warnings = containers::validate::check(
        &body.config,
        &mut host_config,
        containers::validate::usable_cpus(),
        containers::validate::CgroupSupport::read(),
    )
    .map_err(ApiError::bad_request)?;
    let mut binds = Vec::new();
    for bind in &host_config.binds {
        binds.push(spec::parse_bind(bind).map_err(|err| ApiError::bad_request(err.to_string()))?);
    }
    // The container's log driver and options, with the daemon's filled in, as docker does.
    let log_config = &mut host_config.log_config;
    if log_config.kind.is_empty() {
        log_config.kind = "json-file".to_owned();
    }
    if log_config.kind != "json-file" {
        return Err(ApiError::bad_request(format!(
            "logging driver \"{}\" is not supported by berthd: use json-file",
            log_config.kind
        )));
    }
    if log_config.config.is_empty() {
        log_config.config = daemon.config().log_opts.clone();
    }
    crate::config::log_rotation(&log_config.config).map_err(ApiError::bad_request)?;
    let hostname = &body.config.hostname;
    if !hostname.is_empty() && !etc_files::valid_hostname(hostname) {
        return Err(ApiError::bad_request(format!(
            "invalid hostname format: {hostname}"
        )));
    }
    security::resolve(&host_config, HostFacts::read())
        .map_err(|err| ApiError::bad_request(err.to_string()))?;

    let image_id = match daemon.images.store.resolve(&body.config.image) {
        Ok(id) => id,
        Err(berth_image::Error::NotFound(_)) => {
            let shown = Reference::parse(&body.config.image)
                .map(|reference| reference.familiar())
                .unwrap_or_else(|_| body.config.image.clone());
            let shown = if shown.contains(':') || shown.contains('@') {
                shown
            } else {
                format!("{shown}:latest")
            };
            return Err(ApiError::not_found(format!("No such image: {shown}")));
        }
        Err(err) => return Err(image_error(err)),
    };
    let image = image_config(&daemon, &image_id)?;
    let (config, path, args) = spec::merge_config(body.config.clone(), &image)
        .map_err(|err| ApiError::bad_request(err.to_string()))?;

    let id = containers::new_id().map_err(internal)?;
    // Without --name, insert picks a free generated name atomically.
    if let Some(holder) = daemon
        .containers
        .find(&name)
        .filter(|e| !name.is_empty() && e.record().name == name)
    {
        return Err(ApiError::conflict(format!(
            "Conflict. The container name \"/{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
            holder.id
        )));
    }
    let rootfs = daemon
        .images
        .store
        .prepare_rootfs(&image_id, &id)
        .await
        .map_err(image_error)?;
    // Each `Volumes` path no bind covers (the image's VOLUMEs, `-v /path`) gets an anonymous
    // volume, mounted like a named one.
    let mut anonymous = std::collections::BTreeSet::new();
    for destination in config.volumes.keys() {
        let destination = destination.trim_end_matches('/');
        if destination.is_empty() || binds.iter().any(|bind| bind.destination == destination) {
            continue;
        }
        let name = containers::new_id().map_err(internal)?;
        let bind = format!("{name}:{destination}");
        binds.push(spec::parse_bind(&bind).map_err(|err| ApiError::bad_request(err.to_string()))?);
        host_config.binds.push(bind);
        anonymous.insert(name);
    }
    // Named volumes are made on first use, as dockerd does.
    let mut volumes = std::collections::BTreeMap::new();
    for bind in &binds {
        let Some(name) = bind.volume() else { continue };
        let labels = if anonymous.contains(name) {
            [(crate::volumes::ANONYMOUS_LABEL.to_owned(), String::new())].into()
        } else {
            Default::default()
        };
        let volume = daemon
            .volumes
            .create(name, "local", labels)
            .map_err(super::volumes::volume_error);
        match volume {
            Ok(volume) => volumes.insert(name.to_owned(), volume.mountpoint),
            Err(err) => {
                let _ = daemon.images.store.remove_rootfs(&id).await;
                return Err(err);
            }
        };
    }
    let dir = daemon.containers.dir(&id);
    let record = Record {
        id: id.clone(),
        name,
        created: containers::now_rfc3339(),
        image_name: body.config.image.clone(),
        image_id: image_id.to_string(),
        config,
        host_config,
        path,
        args,
        rootfs: RootfsRecord::from_rootfs(&rootfs),
        log_path: dir.join(format!("{id}-json.log")),
        state: containers::RunState {
            status: "created".to_owned(),
            ..Default::default()
        },
        restart_count: 0,
        volumes,
    };
    if let Err(message) = daemon.containers.insert(record) {
        let _ = daemon.images.store.remove_rootfs(&id).await;
        return Err(ApiError::conflict(message));
    }
    Ok(json_response(
        StatusCode::CREATED,
        &ContainerCreateResponse { id, warnings },
    ))
}

/// `GET /containers/json?all=..&limit=..&filters=..`: the newest first; `limit` (`docker ps
/// -n N`, `-l`) takes stopped containers too, as in dockerd.
pub fn list(daemon: &Daemon, query: &Query) -> ApiResult {
    let store = &daemon.images.store;
    let limit = match query.get("limit").filter(|limit| !limit.is_empty()) {
        None => 0,
        Some(text) => text
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("limit: \"{text}\" is not an integer")))?,
    };
    let selection = select::Selection::new(
        filters(query)?,
        select::LIST_FILTERS,
        query.flag("all") || limit > 0,
        &daemon.containers,
        |image| store.resolve(image).ok().map(|id| id.to_string()),
    )
    .map_err(|err| ApiError::bad_request(err.to_string()))?;
    let mut records: Vec<Record> = daemon
        .containers
        .all()
        .iter()
        .map(|entry| entry.record())
        .filter(|record| selection.matches(record))
        .collect();
    records.sort_by(|a, b| b.created.cmp(&a.created));
    if limit > 0 {
        records.truncate(limit as usize);
    }
    let summaries: Vec<_> = if query.flag("size") {
        sized_summaries(daemon, &records)
    } else {
        records.iter().map(Record::summary).collect()
    };
    ok_json(&summaries)
}

/// List entries with `SizeRw` (what each container wrote) and `SizeRootFs` (that plus its
/// image), as `docker ps -s` and `docker system df` show them.
pub fn sized_summaries(daemon: &Daemon, records: &[Record]) -> Vec<ContainerSummary> {
    let store = &daemon.images.store;
    let image_sizes: std::collections::BTreeMap<String, u64> = store
        .images()
        .unwrap_or_default()
        .into_iter()
        .map(|image| (image.id.to_string(), image.size))
        .collect();
    records
        .iter()
        .map(|record| {
            let mut summary = record.summary();
            let written = store.rootfs_size(&record.id).unwrap_or(0);
            let image = image_sizes.get(&record.image_id).copied().unwrap_or(0);
            summary.size_rw = Some(written as i64);
            summary.size_root_fs = Some((written + image) as i64);
            summary
        })
        .collect()
}

/// `GET /containers/{id}/export`: its filesystem as a tar stream.
pub async fn export(daemon: Arc<Daemon>, name: &str) -> ApiResult {
    let entry = find(&daemon, name)?;
    let (response, body) = streaming(StatusCode::OK, "application/x-tar");
    tokio::spawn(async move {
        let writer = super::pipe::ChannelWriter::new(body);
        if let Err(err) = containers::export::export(entry, writer).await {
            tracing::warn!(error = %format!("{err:#}"), "export failed part way; the client gets a short archive");
        }
    });
    Ok(response)
}

/// Mountpoints every container gets, which the runtime makes in the writable layer when the
/// image lacks them.
const RUNTIME_MOUNTPOINTS: &[&str] = &[
    "/proc",
    "/sys",
    "/sys/fs/cgroup",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
];

/// `GET /containers/{id}/changes`: what it wrote, added and deleted in its writable layer
/// (not the mountpoints made for it).
pub fn changes(daemon: &Daemon, name: &str) -> ApiResult {
    let record = find(daemon, name)?.record();
    let mut mountpoints: Vec<String> = RUNTIME_MOUNTPOINTS
        .iter()
        .map(|path| (*path).to_owned())
        .collect();
    mountpoints.extend(
        record
            .host_config
            .binds
            .iter()
            .filter_map(|bind| spec::parse_bind(bind).ok())
            .map(|bind| bind.destination),
    );
    let changes =
        berth_image::changes(&record.rootfs.to_rootfs(), &mountpoints).map_err(image_error)?;
    let listed: Vec<FilesystemChange> = changes
        .into_iter()
        .map(|change| FilesystemChange {
            path: change.path,
            kind: change.kind as u8,
        })
        .collect();
    ok_json(&listed)
}

/// `GET /containers/{id}/json`.
pub fn inspect(daemon: &Daemon, name: &str) -> ApiResult {
    let entry = find(daemon, name)?;
    ok_json(&entry.record().inspect(&daemon.config().storage_driver))
}

/// `POST /containers/{id}/start`: 204, or 304 when already running.
pub async fn start(daemon: Arc<Daemon>, name: &str) -> ApiResult {
    let entry = find(&daemon, name)?;
    match containers::start(&daemon, &entry).await {
        Ok(true) => no_content(StatusCode::NO_CONTENT),
        Ok(false) => no_content(StatusCode::NOT_MODIFIED),
        Err(err) => Err(ApiError::bad_request(format!(
            "failed to start container {}: {err:#}",
            entry.id
        ))),
    }
}

fn timeout(query: &Query) -> Result<Option<i64>, ApiError> {
    query
        .get("t")
        .or_else(|| query.get("timeout"))
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeout: {t}")))
        })
        .transpose()
}

/// `POST /containers/{id}/stop?t=..`: 204, or 304 when not running.
pub async fn stop(daemon: Arc<Daemon>, name: &str, query: &Query) -> ApiResult {
    let entry = find(&daemon, name)?;
    let seconds = timeout(query)?;
    match containers::stop(&daemon, &entry, seconds, true).await {
        Ok(true) => no_content(StatusCode::NO_CONTENT),
        Ok(false) => no_content(StatusCode::NOT_MODIFIED),
        Err(err) => Err(internal(err)),
    }
}

/// `POST /containers/{id}/restart?t=..`.
pub async fn restart(daemon: Arc<Daemon>, name: &str, query: &Query) -> ApiResult {
    let entry = find(&daemon, name)?;
    let seconds = timeout(query)?;
    containers::stop(&daemon, &entry, seconds, false)
        .await
        .map_err(internal)?;
    containers::start(&daemon, &entry).await.map_err(|err| {
        ApiError::internal(format!("Cannot restart container {}: {err:#}", entry.id))
    })?;
    no_content(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/kill?signal=..`.
pub async fn kill(daemon: Arc<Daemon>, name: &str, query: &Query) -> ApiResult {
    let entry = find(&daemon, name)?;
    let signal = query
        .get("signal")
        .filter(|s| !s.is_empty())
        .unwrap_or("SIGKILL");
    containers::kill(&daemon, &entry, signal)
        .await
        .map_err(|message| {
            if message.contains("is not running") {
                ApiError::conflict(message)
            } else if message.contains("did not exit") {
                ApiError::internal(message)
            } else {
                ApiError::bad_request(message)
            }
        })?;
    no_content(StatusCode::NO_CONTENT)
}

/// `GET /containers/{id}/top?ps_args=..`.
pub async fn top(daemon: Arc<Daemon>, name: &str, query: &Query) -> ApiResult {
    let entry = find(&daemon, name)?;
    if !entry.record().state.running() {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            entry.id
        )));
    }
    let ps_args = query.get("ps_args").unwrap_or_default().to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let pids = daemon.containers.pids(&entry.id)?;
        containers::top::top(&pids, &ps_args)
    })
    .await
    .map_err(|err| ApiError::internal(err.to_string()))?
    .map_err(|err| ApiError::internal(format!("{err:#}")))?;
    ok_json(&answer)
}

/// `POST /containers/{id}/rename?name=..`.
pub fn rename(daemon: &Daemon, name: &str, query: &Query) -> ApiResult {
    let entry = find(daemon, name)?;
    let new_name = query.get("name").unwrap_or_default();
    daemon
        .containers
        .rename(&entry, new_name)
        .map_err(|message| {
            if message.starts_with("Conflict") {
                ApiError::conflict(message)
            } else {
                ApiError::bad_request(message)
            }
        })?;
    no_content(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/pause` and `/unpause`.
pub async fn set_paused(daemon: Arc<Daemon>, name: &str, paused: bool) -> ApiResult {
    let entry = find(&daemon, name)?;
    containers::pause::set_paused(&daemon, &entry, paused)
        .await
        .map_err(|err| match err {
            containers::pause::PauseError::Failed(_) => ApiError::internal(err.to_string()),
            _ => ApiError::conflict(err.to_string()),
        })?;
    no_content(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/resize?h=..&w=..`: the size of the container's terminal.
pub fn resize(daemon: &Daemon, name: &str, query: &Query) -> ApiResult {
    let entry = find(daemon, name)?;
    let (height, width) = terminal_size(query)?;
    entry.resize(height, width).map_err(resize_error)?;
    no_content(StatusCode::OK)
}

/// A refused resize is a conflict (nothing runs, no terminal); a failed one a server error.
pub fn resize_error(err: ResizeError) -> ApiError {
    match err {
        ResizeError::Failed(..) => ApiError::internal(err.to_string()),
        _ => ApiError::conflict(err.to_string()),
    }
}

/// The `h` and `w` of a resize request.
pub fn terminal_size(query: &Query) -> Result<(u16, u16), ApiError> {
    let dimension = |key: &str| -> Result<u16, ApiError> {
        let text = query.get(key).unwrap_or_default();
        text.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid {key}: {text:?} (a number from 0 to 65535)"
            ))
        })
    };
    Ok((dimension("h")?, dimension("w")?))
}

/// `DELETE /containers/{id}?force=..&v=..`.
pub async fn remove(daemon: Arc<Daemon>, name: &str, query: &Query) -> ApiResult {
    let entry = find(&daemon, name)?;
    containers::remove(&daemon, &entry, query.flag("force"), query.flag("v"))
        .await
        .map_err(|message| {
            if message.starts_with("You cannot remove") {
                ApiError::conflict(message)
            } else {
                ApiError::internal(message)
            }
        })?;
    no_content(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/wait?condition=..`: headers go out at once; the body follows when
/// the condition (not-running, next-exit or removed) is met.
pub async fn wait(daemon: Arc<Daemon>, name: &str, query: &Query) -> ApiResult {
    let entry = find(&daemon, name)?;
    let condition = query.get("condition").unwrap_or("not-running").to_owned();
    if !matches!(
        condition.as_str(),
        "" | "not-running" | "next-exit" | "removed"
    ) {
        return Err(ApiError::bad_request(format!(
            "invalid condition: \"{condition}\""
        )));
    }
    let mut phase = entry.watch();
    let start = phase.borrow().clone();
    drop(entry);
    let (response, body) = streaming(StatusCode::OK, "application/json");
    tokio::spawn(async move {
        let reached = phase
            .wait_for(|now| match condition.as_str() {
                "next-exit" => now.exits > start.exits || now.removed,
                "removed" => now.removed,
                _ => !now.running || now.removed,
            })
            .await
            .map(|now| now.clone());
        let answer = match reached {
            Ok(now) => WaitResponse {
                status_code: now.exit_code,
                error: None,
            },
            Err(_) => WaitResponse {
                status_code: start.exit_code,
                error: Some(WaitError {
                    message: "container disappeared while waiting".to_owned(),
                }),
            },
        };
        if let Ok(json) = serde_json::to_vec(&answer) {
            let _ = body.send(Bytes::from(json)).await;
        }
    });
    Ok(response)
}
