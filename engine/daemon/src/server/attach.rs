//! Container stdio over HTTP: `attach` (an HTTP upgrade to a raw stream carrying
//! multiplexed frames, or raw bytes with a TTY, and the client's input for stdin) and `logs` (stored json-file lines, then the
//! live feed with `follow`).

use std::sync::Arc;

use berth_api::stream::{encode_frame, StreamKind, MULTIPLEXED_CONTENT_TYPE, RAW_CONTENT_TYPE};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::broadcast;

use super::containers::find;
use super::http::{empty, streaming, ApiError, ApiResponse, ApiResult, Query};
use crate::containers::logs::read_all;
use crate::containers::logs::Rotation;
use crate::containers::{Entry, Output};
use crate::daemon::Daemon;

pub(super) fn frame(tty: bool, kind: StreamKind, payload: &[u8], timestamp: Option<&str>) -> Bytes {
    let mut data = Vec::with_capacity(payload.len() + 32);
    if let Some(time) = timestamp {
        data.extend_from_slice(time.as_bytes());
        data.push(b' ');
    }
    data.extend_from_slice(payload);
    if tty {
        Bytes::from(data)
    } else {
        Bytes::from(encode_frame(kind, &data))
    }
}

fn wanted(query: &Query, kind: StreamKind) -> bool {
    match kind {
        StreamKind::Stderr => query.flag("stderr"),
        _ => query.flag("stdout"),
    }
}

/// `POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1`.
pub async fn attach(daemon: Arc<Daemon>, name: &str, mut request: Request<Incoming>) -> ApiResult {
    let entry = find(&daemon, name)?;
    let query = Query::parse(request.uri().query());
    if !query.flag("stream") && !query.flag("logs") {
        return Err(ApiError::bad_request("attach needs stream=1 or logs=1"));
    }
    let record = entry.record();
    let tty = record.config.tty;
    let with_stdin = query.flag("stdin") && record.config.open_stdin;
    // StdinOnce: the container's stdin closes when this client's input ends (with a terminal
    // the client sends ^D instead, as with docker).
    let close_stdin_at_end = record.config.stdin_once && !tty;
    // Subscribe before answering so nothing the container prints after start is missed.
    let mut output = entry.output();
    let running_or_created = matches!(
        record.state.status.as_str(),
        "created" | "running" | "restarting"
    );
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => upgraded,
            Err(err) => {
                tracing::debug!(error = %err, "attach upgrade failed");
                return;
            }
        };
        let (client_input, mut io) = tokio::io::split(TokioIo::new(upgraded));
        let stdin = with_stdin.then(|| {
            tokio::spawn(feed_stdin(
                Arc::clone(&entry),
                client_input,
                close_stdin_at_end,
            ))
        });
        if running_or_created && query.flag("stream") {
            send_output(&mut io, &mut output, tty, |kind| wanted(&query, kind)).await;
        }
        if let Some(stdin) = stdin {
            stdin.abort();
        }
        let _ = io.flush().await;
        let _ = io.shutdown().await;
    });
    Ok(hijacked(tty))
}

/// The 101 answer that turns the connection into a raw stream: terminal bytes with `tty`,
/// multiplexed frames otherwise.
pub(super) fn hijacked(tty: bool) -> ApiResponse {
    let content_type = if tty {
        RAW_CONTENT_TYPE
    } else {
        MULTIPLEXED_CONTENT_TYPE
    };
    let mut response = Response::new(empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("tcp"));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Writes output to a hijacked stream until the process ends or the client goes away.
pub(super) async fn send_output<W: AsyncWrite + Unpin>(
    io: &mut W,
    output: &mut broadcast::Receiver<Output>,
    tty: bool,
    wanted: impl Fn(StreamKind) -> bool,
) {
    loop {
        match output.recv().await {
            Ok(Output::Line(kind, bytes, _)) => {
                if wanted(kind) && io.write_all(&frame(tty, kind, &bytes, None)).await.is_err() {
                    return;
                }
            }
            Ok(Output::End) | Err(broadcast::error::RecvError::Closed) => return,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "attached client too slow: output dropped");
            }
        }
    }
}

/// Copies a hijacked stream's input into a process's stdin until the input ends.
pub(super) async fn copy_input<R: AsyncRead + Unpin>(input: &mut R, stdin: std::fs::File) {
    let mut stdin = tokio::fs::File::from_std(stdin);
    if let Err(err) = tokio::io::copy(input, &mut stdin).await {
        tracing::debug!(error = %err, "attached input ended");
    }
}

/// Copies what the attached client sends into the container's stdin, from the moment it
/// runs (docker run attaches before it starts) until the client's input ends.
async fn feed_stdin<R: AsyncRead + Unpin>(entry: Arc<Entry>, mut input: R, close_at_end: bool) {
    let mut phase = entry.watch();
    if phase
        .wait_for(|phase| phase.running || phase.removed)
        .await
        .is_err()
    {
        return;
    }
    let Some(stdin) = entry.stdin() else {
        return;
    };
    copy_input(&mut input, stdin).await;
    if close_at_end {
        entry.close_stdin();
    }
}

/// A `since` or `until` value as the docker CLI sends it: Unix seconds with an optional
/// fraction (`1700000000.123456789`); empty or `0` means none.
fn log_time(query: &Query, key: &str) -> Result<Option<std::time::SystemTime>, ApiError> {
    let Some(text) = query
        .get(key)
        .filter(|text| !text.is_empty() && *text != "0")
    else {
        return Ok(None);
    };
    let invalid = || ApiError::bad_request(format!("invalid {key}: {text}"));
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    let seconds: u64 = seconds.parse().map_err(|_| invalid())?;
    let nanos: u32 = if fraction.is_empty() {
        0
    } else if fraction.len() <= 9 && fraction.bytes().all(|b| b.is_ascii_digit()) {
        format!("{fraction:0<9}").parse().map_err(|_| invalid())?
    } else {
        return Err(invalid());
    };
    Ok(Some(
        std::time::UNIX_EPOCH + std::time::Duration::new(seconds, nanos),
    ))
}

/// `GET /containers/{id}/logs?stdout=1&stderr=1&follow=..&tail=..&since=..&until=..&timestamps=..`.
pub async fn logs(daemon: Arc<Daemon>, name: &str, query: Query) -> ApiResult {
    let entry = find(&daemon, name)?;
    if !query.flag("stdout") && !query.flag("stderr") {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let record = entry.record();
    let tty = record.config.tty;
    let timestamps = query.flag("timestamps");
    let since = log_time(&query, "since")?;
    let until = log_time(&query, "until")?;
    let now = std::time::SystemTime::now();
    let follow =
        query.flag("follow") && record.state.running() && until.is_none_or(|until| until > now);
    let tail = match query.get("tail").filter(|t| !t.is_empty() && *t != "all") {
        Some(text) => Some(
            text.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid tail: {text}")))?,
        ),
        None => None,
    };
    // Live output first, so lines written while the files are read are not lost.
    let mut live = follow.then(|| entry.output());
    let max_file = Rotation::of(&record.host_config.log_config, &daemon.config()).max_file;
    let path = record.log_path.clone();
    let mut lines = tokio::task::spawn_blocking(move || read_all(&path, max_file))
        .await
        .map_err(|err| ApiError::internal(err.to_string()))?;
    let in_window = move |time: &str| {
        let time = berth_api::time::parse_rfc3339(time);
        since.is_none_or(|since| time.is_some_and(|time| time >= since))
            && until.is_none_or(|until| time.is_some_and(|time| time <= until))
    };
    lines.retain(|line| in_window(&line.time));
    if let Some(tail) = tail {
        let skip = lines.len().saturating_sub(tail);
        lines.drain(..skip);
    }
    let content_type = if tty {
        RAW_CONTENT_TYPE
    } else {
        MULTIPLEXED_CONTENT_TYPE
    };
    let (response, body) = streaming(StatusCode::OK, content_type);
    tokio::spawn(async move {
        for line in &lines {
            let kind = if line.stream == "stderr" {
                StreamKind::Stderr
            } else {
                StreamKind::Stdout
            };
            if !wanted(&query, kind) {
                continue;
            }
            let stamp = timestamps.then_some(line.time.as_str());
            if body
                .send(frame(tty, kind, line.log.as_bytes(), stamp))
                .await
                .is_err()
            {
                return;
            }
        }
        let last_time = lines
            .last()
            .map(|line| line.time.clone())
            .unwrap_or_default();
        // Following ends at `until`, as dockerd's does.
        let deadline = until.map(|until| {
            let left = until
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            tokio::time::Instant::now() + left
        });
        if let Some(live) = live.as_mut() {
            loop {
                let received = match deadline {
                    Some(deadline) => match tokio::time::timeout_at(deadline, live.recv()).await {
                        Ok(received) => received,
                        Err(_) => return,
                    },
                    None => live.recv().await,
                };
                match received {
                    Ok(Output::Line(kind, bytes, time)) => {
                        // Lines already sent from the file have a time at or before the last.
                        if time <= last_time || !wanted(&query, kind) || !in_window(&time) {
                            continue;
                        }
                        let stamp = timestamps.then_some(time.as_str());
                        if body.send(frame(tty, kind, &bytes, stamp)).await.is_err() {
                            return;
                        }
                    }
                    Ok(Output::End) | Err(broadcast::error::RecvError::Closed) => return,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                }
            }
        }
    });
    Ok(response)
}
