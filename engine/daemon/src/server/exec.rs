//! Exec over HTTP: `POST /containers/{id}/exec` creates an instance, `POST /exec/{id}/start`
//! runs it (hijacking the connection for its streams unless detached), `POST
//! /exec/{id}/resize` sizes its terminal and `GET /exec/{id}/json` reports its exit code.

use std::sync::Arc;

use berth_api::exec::{ExecConfig, ExecCreateResponse, ExecStartConfig};
use berth_api::stream::StreamKind;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

use super::attach::{copy_input, frame, hijacked, send_output};
use super::containers::find;
use super::http::{json_response, no_content, ok_json, read_json, ApiError, ApiResult, Query};
use crate::containers::exec::{self, Exec, ExecError};
use crate::daemon::Daemon;

fn exec_error(err: ExecError) -> ApiError {
    match err {
        ExecError::NotRunning(_) | ExecError::AlreadyStarted(_) | ExecError::Paused(_) => {
            ApiError::conflict(err.to_string())
        }
        ExecError::NoCommand | ExecError::Invalid(_) => ApiError::bad_request(err.to_string()),
        ExecError::Failed(_) => ApiError::internal(err.to_string()),
    }
}

fn find_exec(daemon: &Daemon, id: &str) -> Result<Arc<Exec>, ApiError> {
    daemon
        .containers
        .exec(id)
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
}

/// `POST /containers/{id}/exec`.
pub async fn create(daemon: Arc<Daemon>, name: &str, request: Request<Incoming>) -> ApiResult {
    let entry = find(&daemon, name)?;
    let config: ExecConfig = read_json(request).await?;
    let exec = daemon
        .containers
        .create_exec(&entry, config)
        .map_err(exec_error)?;
    Ok(json_response(
        StatusCode::CREATED,
        &ExecCreateResponse {
            id: exec.id.clone(),
        },
    ))
}

/// `POST /exec/{id}/start`: starts the process, then streams it over the hijacked connection
/// (or answers at once with `Detach`).
pub async fn start(daemon: Arc<Daemon>, id: &str, mut request: Request<Incoming>) -> ApiResult {
    let exec = find_exec(&daemon, id)?;
    let upgrade = hyper::upgrade::on(&mut request);
    let options: ExecStartConfig = read_json(request).await?;
    exec.claim_start().map_err(exec_error)?;
    // A detached exec has no reader: a subscription would hold it back.
    let output = (!options.detach)
        .then(|| exec.output(exec.config.attach_stdout, exec.config.attach_stderr));
    let started = {
        let (daemon, exec) = (Arc::clone(&daemon), Arc::clone(&exec));
        tokio::task::spawn_blocking(move || exec::start(&daemon.containers, &exec))
    };
    if options.detach {
        started
            .await
            .map_err(|err| ApiError::internal(err.to_string()))?
            .map_err(exec_error)?;
        return no_content(StatusCode::OK);
    }
    let tty = exec.config.tty;
    // As with dockerd, the connection is hijacked first and a failed start is reported in
    // the stream, so the client shows the reason; the exit code is then 126 or 127.
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => upgraded,
            Err(err) => {
                tracing::debug!(error = %err, "exec start upgrade failed");
                return;
            }
        };
        let failure = match started.await {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(err.to_string()),
            Err(err) => Some(err.to_string()),
        };
        if let Some(message) = failure {
            let mut io = TokioIo::new(upgraded);
            let line = format!("{message}\r\n");
            let _ = io
                .write_all(&frame(tty, StreamKind::Stdout, line.as_bytes(), None))
                .await;
            let _ = io.shutdown().await;
            return;
        }
        let (mut client_input, mut io) = tokio::io::split(TokioIo::new(upgraded));
        let stdin = exec.stdin().map(|stdin| {
            let exec = Arc::clone(&exec);
            tokio::spawn(async move {
                copy_input(&mut client_input, stdin).await;
                // The client's input ended: so does the process's (a terminal gets ^D instead).
                if !exec.config.tty {
                    exec.close_stdin();
                }
            })
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

/// `POST /exec/{id}/resize?h=..&w=..`.
pub fn resize(daemon: &Daemon, id: &str, query: &Query) -> ApiResult {
    let exec = find_exec(daemon, id)?;
    let (height, width) = super::containers::terminal_size(query)?;
    exec.resize(height, width)
        .map_err(super::containers::resize_error)?;
    no_content(StatusCode::OK)
}

/// `GET /exec/{id}/json`.
pub fn inspect(daemon: &Daemon, id: &str) -> ApiResult {
    ok_json(&find_exec(daemon, id)?.inspect())
}
