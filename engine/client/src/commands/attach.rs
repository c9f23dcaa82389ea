//! `berth attach` and `berth start -a [-i]`: our stdio joined to a container's, as docker does
//! it (raw mode and resizes with a terminal), until the container's output ends; the exit code
//! is the container's.

use anyhow::{bail, Result};
use berth_api::container::{ContainerInspect, WaitResponse};
use hyper::Method;

use super::stdio::{detach_keys, Ended, Session};
use crate::cli::AttachArgs;
use crate::terminal;
use crate::transport::{check, encode, read_json, Client};

/// `berth attach`.
pub async fn attach(client: &Client, args: AttachArgs) -> Result<i32> {
    let inspect: ContainerInspect = client
        .get_json(&format!("/containers/{}/json", encode(&args.container)))
        .await?;
    if !inspect.state.running {
        bail!("You cannot attach to a stopped container, start it first");
    }
    let stdin = inspect.config.open_stdin && !args.no_stdin;
    let keys = detach_keys(args.detach_keys.as_deref())?;
    session(client, &inspect, stdin, false, &keys).await
}

/// `berth start -a [-i] CONTAINER`: attached before it starts, so no output is missed.
pub async fn start_attached(
    client: &Client,
    name: &str,
    interactive: bool,
    detach_keys: &[u8],
) -> Result<i32> {
    let inspect: ContainerInspect = client
        .get_json(&format!("/containers/{}/json", encode(name)))
        .await?;
    let stdin = interactive && inspect.config.open_stdin;
    session(client, &inspect, stdin, true, detach_keys).await
}

async fn session(
    client: &Client,
    container: &ContainerInspect,
    stdin: bool,
    start: bool,
    detach_keys: &[u8],
) -> Result<i32> {
    let tty = container.config.tty;
    if tty && stdin && !terminal::stdin_is_terminal() {
        eprintln!("the input device is not a TTY");
        return Ok(1);
    }
    let id = &container.id;
    let stdin_query = if stdin { "&stdin=1" } else { "" };
    let response = client
        .send(
            Method::POST,
            &format!("/containers/{id}/attach?stream=1&stdout=1&stderr=1{stdin_query}"),
            None,
            true,
        )
        .await?;
    let response = check(response).await?;
    let mut session = Session::open(response, tty, stdin, detach_keys, "attach").await?;
    if start {
        if let Err(err) = client.post_empty(&format!("/containers/{id}/start")).await {
            drop(session);
            return Err(err);
        }
    }
    session.follow_terminal_size(client, format!("/containers/{id}/resize"));
    if session.finish().await? == Ended::Detached {
        return Ok(0);
    }
    // The output ended with the process: its exit code is recorded by now.
    let wait = client
        .call(
            Method::POST,
            &format!("/containers/{id}/wait?condition=not-running"),
            None,
        )
        .await?;
    let answer: WaitResponse = read_json(wait).await?;
    Ok(answer.status_code as i32)
}
