//! `berth exec`: a command in a running container, as `docker exec` runs it: create the exec
//! instance, start it on a hijacked connection (our stdin with `-i`, our terminal with `-t`),
//! and exit with its exit code.

use anyhow::{anyhow, Result};
use berth_api::exec::{ExecConfig, ExecCreateResponse, ExecInspect, ExecStartConfig};
use hyper::Method;

use super::stdio::{detach_keys, Ended, Session};
use crate::cli::ExecArgs;
use crate::terminal;
use crate::transport::{check, encode, json_body, Client};

/// `berth exec`.
pub async fn exec(client: &Client, args: ExecArgs) -> Result<i32> {
    if args.tty && args.interactive && !args.detach && !terminal::stdin_is_terminal() {
        eprintln!("the input device is not a TTY");
        return Ok(1);
    }
    let (container, command) = match args.container_and_command.split_first() {
        Some((container, command)) if !command.is_empty() => (container, command),
        _ => return Err(anyhow!("exec needs a container and a command")),
    };
    let attach = !args.detach;
    let console_size = terminal::console_size(args.tty);
    let config = ExecConfig {
        attach_stdin: args.interactive && attach,
        attach_stdout: attach,
        attach_stderr: attach,
        tty: args.tty,
        console_size,
        env: args.env.clone(),
        cmd: command.to_vec(),
        privileged: args.privileged,
        user: args.user.clone().unwrap_or_default(),
        working_dir: args.workdir.clone().unwrap_or_default(),
        detach_keys: String::new(),
    };
    let created: Result<ExecCreateResponse> = client
        .post_json(&format!("/containers/{}/exec", encode(container)), &config)
        .await;
    let id = match created {
        Ok(created) => created.id,
        Err(err) => {
            eprintln!("{err}");
            return Ok(1);
        }
    };
    let start = ExecStartConfig {
        detach: args.detach,
        tty: args.tty,
        console_size,
    };
    let body = Some((json_body(&start)?, "application/json"));
    let path = format!("/exec/{id}/start");
    let response = client.send(Method::POST, &path, body, attach).await?;
    let response = match check(response).await {
        Ok(response) => response,
        Err(err) => {
            eprintln!("{err}");
            return Ok(126);
        }
    };
    if args.detach {
        return Ok(0);
    }
    let keys = detach_keys(args.detach_keys.as_deref())?;
    let mut session =
        Session::open(response, args.tty, args.interactive, &keys, "exec start").await?;
    session.follow_terminal_size(client, format!("/exec/{id}/resize"));
    if session.finish().await? == Ended::Detached {
        return Ok(0);
    }
    let inspect: ExecInspect = client.get_json(&format!("/exec/{id}/json")).await?;
    Ok(inspect.exit_code.unwrap_or(0) as i32)
}
