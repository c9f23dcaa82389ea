//! Container stdio over HTTP: `attach` (an HTTP upgrade to a raw stream carrying
//! multiplexed frames, or raw bytes with a TTY, and the client's input for stdin; a client
//! that reads slowly holds the container back, and gets every byte) and `logs` (the
//! json-file lines, and with `follow` the lines written after, read from the file).

use std::sync::Arc;

use berth_api::stream::{encode_frame, StreamKind, MULTIPLEXED_CONTENT_TYPE, RAW_CONTENT_TYPE};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::containers::find;
use super::http::{empty, streaming, ApiError, ApiResponse, ApiResult, Query};
use crate::containers::fanout::Subscription;
use crate::containers::log_reader::LogReader;
use crate::containers::logs::{LogLine, Rotation};
use crate::containers::Entry;
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
    let running_or_created = matches!(
        record.state.status.as_str(),
        "created" | "running" | "restarting"
    );
    // Subscribe before answering so nothing the container prints after start is missed
    // (and only to stream it: a subscriber that does not read holds the container back).
    let output = (running_or_created && query.flag("stream"))
        .then(|| entry.output(query.flag("stdout"), query.flag("stderr")));
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
        if let Some(mut output) = output {
            send_output(&mut io, &mut output, tty).await;
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

/// Writes output to a hijacked stream until the process ends or the client goes away (which
/// drops the subscription, so the process goes on without it).
pub(super) async fn send_output<W: AsyncWrite + Unpin>(
    io: &mut W,
    output: &mut Subscription,
    tty: bool,
) {
    let mut chunks = Vec::new();
    let mut frames = Vec::new();
    while output.next_chunks(&mut chunks).await {
        frames.clear();
        for chunk in chunks.drain(..) {
            if tty {
                frames.extend_from_slice(&chunk.bytes);
            } else {
                frames.extend_from_slice(&encode_frame(chunk.kind, &chunk.bytes));
            }
        }
        if io.write_all(&frames).await.is_err() {
            return;
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

/// Lines read from the log file per blocking read.
const LOG_BATCH: usize = 4096;

/// How log lines are sent.
#[derive(Clone, Copy)]
struct LogFormat {
    tty: bool,
    timestamps: bool,
    stdout: bool,
    stderr: bool,
}

/// Sends the wanted `lines` as one chunk of the response; `false` once the client is gone.
async fn send_lines(
    body: &tokio::sync::mpsc::Sender<Bytes>,
    lines: impl IntoIterator<Item = LogLine>,
    format: LogFormat,
) -> bool {
    let mut data = Vec::new();
    for line in lines {
        let kind = if line.stream == "stderr" {
            StreamKind::Stderr
        } else {
            StreamKind::Stdout
        };
        let wanted = match kind {
            StreamKind::Stderr => format.stderr,
            _ => format.stdout,
        };
        if wanted {
            let stamp = format.timestamps.then_some(line.time.as_str());
            data.extend_from_slice(&frame(format.tty, kind, line.log.as_bytes(), stamp));
        }
    }
    data.is_empty() || body.send(Bytes::from(data)).await.is_ok()
}

/// `GET /containers/{id}/logs?stdout=1&stderr=1&follow=..&tail=..&since=..&until=..&timestamps=..`.
///
/// Reads the json-file log from its oldest line; with `follow`, goes on reading it as the
/// container writes (however slowly the client reads, without holding the container back),
/// until the container exits and everything it wrote has been sent, or `until`.
pub async fn logs(daemon: Arc<Daemon>, name: &str, query: Query) -> ApiResult {
    let entry = find(&daemon, name)?;
    if !query.flag("stdout") && !query.flag("stderr") {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let record = entry.record();
    let format = LogFormat {
        tty: record.config.tty,
        timestamps: query.flag("timestamps"),
        stdout: query.flag("stdout"),
        stderr: query.flag("stderr"),
    };
    let since = log_time(&query, "since")?;
    let until = log_time(&query, "until")?;
    let tail = match query.get("tail").filter(|t| !t.is_empty() && *t != "all") {
        Some(text) => Some(
            text.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid tail: {text}")))?,
        ),
        None => None,
    };
    // Watched before the file is read, so neither a line written nor the exit is missed.
    let mut phase = entry.watch();
    let mut written = entry.log_written();
    let before = phase.borrow_and_update().clone();
    let now = std::time::SystemTime::now();
    let follow = query.flag("follow") && before.running && until.is_none_or(|until| until > now);
    let max_file = Rotation::of(&record.host_config.log_config, &daemon.config()).max_file;
    let mut reader = LogReader::new(&record.log_path, max_file);
    let in_window = move |line: &LogLine| {
        let time = berth_api::time::parse_rfc3339(&line.time);
        since.is_none_or(|since| time.is_some_and(|time| time >= since))
            && until.is_none_or(|until| time.is_some_and(|time| time <= until))
    };
    // Following ends at `until`, as dockerd's does.
    let deadline = until.map(|until| {
        let left = until
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        tokio::time::Instant::now() + left
    });
    let content_type = if format.tty {
        RAW_CONTENT_TYPE
    } else {
        MULTIPLEXED_CONTENT_TYPE
    };
    let (response, body) = streaming(StatusCode::OK, content_type);
    tokio::spawn(async move {
        if let Some(tail) = tail {
            // Only the last `tail` stored lines; following goes on after them.
            let read = tokio::task::spawn_blocking(move || {
                let mut last = std::collections::VecDeque::new();
                loop {
                    let lines = reader.read(LOG_BATCH);
                    let count = lines.len();
                    for line in lines.into_iter().filter(in_window) {
                        last.push_back(line);
                        if last.len() > tail {
                            last.pop_front();
                        }
                    }
                    if count < LOG_BATCH {
                        return (reader, last);
                    }
                }
            })
            .await;
            let Ok((back, last)) = read else {
                return;
            };
            reader = back;
            if !send_lines(&body, last, format).await {
                return;
            }
        }
        let mut exited = false;
        loop {
            // Everything written so far.
            loop {
                let read = tokio::task::spawn_blocking(move || {
                    let lines = reader.read(LOG_BATCH);
                    (reader, lines)
                })
                .await;
                let Ok((back, lines)) = read else {
                    return;
                };
                reader = back;
                let count = lines.len();
                if !send_lines(&body, lines.into_iter().filter(in_window), format).await {
                    return;
                }
                if count < LOG_BATCH {
                    break;
                }
            }
            if !follow || exited {
                return;
            }
            let past_deadline = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = written.changed() => exited = changed.is_err(),
                // Its pumps have written every line by the time the exit is recorded: one
                // more read drains the log.
                _ = phase.wait_for(|now| {
                    !now.running || now.exits != before.exits || now.removed
                }) => exited = true,
                _ = past_deadline => return,
            }
        }
    });
    Ok(response)
}
