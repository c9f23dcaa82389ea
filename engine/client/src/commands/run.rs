//! `berth create` and `berth run`: the create request from docker's flags, pulling a missing
//! image, then (for run) attach, wait and start in the order the docker CLI uses, with
//! `-i` our stdin and with `-t` our terminal (raw mode, resizes), exiting with the
//! container's exit code.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use berth_api::container::{
    ContainerCreateRequest, ContainerCreateResponse, HostConfig, RestartPolicy, WaitResponse,
};
use hyper::Method;

use super::images::pull_image;
use super::stdio::{detach_keys, Ended, Session};
use crate::cli::{ContainerFlags, CreateArgs, RunArgs};
use crate::terminal;
use crate::transport::{check, encode, read_json, Client, DaemonError};

/// Parses docker's `--mount type=...,source=...,target=...[,readonly][,tmpfs-size=N]`.
fn parse_mount(text: &str) -> Result<berth_api::container::Mount> {
    let mut mount = berth_api::container::Mount {
        kind: "volume".to_owned(),
        ..Default::default()
    };
    for field in text.split(',') {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        match key {
            "type" => mount.kind = value.to_owned(),
            "source" | "src" => mount.source = value.to_owned(),
            "target" | "destination" | "dst" => mount.target = value.to_owned(),
            "readonly" | "ro" => mount.read_only = matches!(value, "" | "1" | "true"),
            "tmpfs-size" => {
                let size = berth_api::units::parse_ram_bytes(value)
                    .map_err(|_| anyhow!("invalid --mount tmpfs-size: {value}"))?;
                mount
                    .tmpfs_options
                    .get_or_insert_with(Default::default)
                    .size_bytes = size as i64;
            }
            "tmpfs-mode" => {
                let mode = u32::from_str_radix(value, 8)
                    .map_err(|_| anyhow!("invalid --mount tmpfs-mode: {value}"))?;
                mount
                    .tmpfs_options
                    .get_or_insert_with(Default::default)
                    .mode = mode;
            }
            _ => bail!("invalid --mount field: {field}"),
        }
    }
    if mount.target.is_empty() {
        bail!("invalid --mount {text}: target is required");
    }
    Ok(mount)
}

/// Reads `--env-file` lines: `KEY=VALUE`, or `KEY` taken from our environment.
fn env_file(path: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("open {}: no such file or directory", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(expand_env)
        .collect())
}

/// `KEY=VALUE` as is; a bare `KEY` takes our value, or is dropped when unset.
fn expand_env(entry: &str) -> Option<String> {
    if entry.contains('=') {
        Some(entry.to_owned())
    } else {
        std::env::var(entry)
            .ok()
            .map(|value| format!("{entry}={value}"))
    }
}

/// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
fn restart_policy(text: &str) -> Result<RestartPolicy> {
    let (name, count) = text.split_once(':').unwrap_or((text, ""));
    let maximum_retry_count = if count.is_empty() {
        0
    } else {
        count.parse().map_err(|_| {
            anyhow!("invalid restart policy format: maximum retry count must be an integer")
        })?
    };
    if !matches!(name, "no" | "always" | "unless-stopped" | "on-failure") {
        bail!("invalid restart policy format: unknown policy '{name}'");
    }
    if maximum_retry_count != 0 && name != "on-failure" {
        bail!(
            "invalid restart policy format: maximum retry count can only be used with 'on-failure'"
        );
    }
    Ok(RestartPolicy {
        name: name.to_owned(),
        maximum_retry_count,
    })
}

/// The create body for docker-style flags.
fn create_request(flags: &ContainerFlags, attach: bool) -> Result<ContainerCreateRequest> {
    let mut env = Vec::new();
    for path in &flags.env_file {
        env.extend(env_file(path)?);
    }
    env.extend(flags.env.iter().filter_map(|entry| expand_env(entry)));
    let mut ulimits = Vec::new();
    for text in &flags.ulimit {
        let (name, limits) = text
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid ulimit argument: {text}"))?;
        let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
        ulimits.push(berth_api::container::Ulimit {
            name: name.to_owned(),
            soft: soft
                .parse()
                .map_err(|_| anyhow!("invalid ulimit argument: {text}"))?,
            hard: hard
                .parse()
                .map_err(|_| anyhow!("invalid ulimit argument: {text}"))?,
        });
    }
    let memory = match &flags.memory {
        Some(text) => berth_api::units::parse_ram_bytes(text)? as i64,
        None => 0,
    };
    let nano_cpus = match flags.cpus {
        Some(cpus) if cpus < 0.0 => bail!("invalid argument for --cpus: must be positive"),
        Some(cpus) => (cpus * 1e9) as i64,
        None => 0,
    };
    let restart = match &flags.restart {
        Some(text) => restart_policy(text)?,
        None => RestartPolicy {
            name: "no".to_owned(),
            maximum_retry_count: 0,
        },
    };
    if flags.rm && !matches!(restart.name.as_str(), "no" | "") {
        bail!("Conflicting options: --restart and --rm");
    }
    let mut request = ContainerCreateRequest::default();
    let config = &mut request.config;
    config.image = flags.image().to_owned();
    config.env = env;
    config.cmd = (!flags.command().is_empty()).then(|| flags.command().to_vec());
    config.entrypoint = flags.entrypoint.clone().map(|entrypoint| vec![entrypoint]);
    config.working_dir = flags.workdir.clone().unwrap_or_default();
    config.hostname = flags.hostname.clone().unwrap_or_default();
    config.user = flags.user.clone().unwrap_or_default();
    config.tty = flags.tty;
    config.open_stdin = flags.interactive;
    config.attach_stdin = flags.interactive && attach;
    config.stdin_once = flags.interactive && attach;
    config.attach_stdout = attach;
    config.attach_stderr = attach;
    config.labels = super::labels(&flags.label);
    config.volumes = flags
        .volume
        .iter()
        .filter(|volume| !volume.contains(':'))
        .map(|path| (path.clone(), serde_json::json!({})))
        .collect();
    request.host_config = HostConfig {
        // `-v /path` (no source) is an anonymous volume: docker's CLI sends it in Volumes.
        binds: flags
            .volume
            .iter()
            .filter(|volume| volume.contains(':'))
            .cloned()
            .collect(),
        network_mode: flags
            .network
            .clone()
            .unwrap_or_else(|| "default".to_owned()),
        restart_policy: restart,
        auto_remove: flags.rm,
        memory,
        nano_cpus,
        cpu_shares: flags.cpu_shares.unwrap_or(0),
        pids_limit: flags.pids_limit,
        ulimits,
        privileged: flags.privileged,
        cap_add: flags.cap_add.clone(),
        cap_drop: flags.cap_drop.clone(),
        security_opt: security_options(&flags.security_opt)?,
        log_config: log_config(flags)?,
        console_size: terminal::console_size(flags.tty),
        mounts: flags
            .mount
            .iter()
            .map(|text| parse_mount(text))
            .collect::<Result<_>>()?,
        tmpfs: flags
            .tmpfs
            .iter()
            .map(|text| match text.split_once(':') {
                Some((path, options)) => (path.to_owned(), options.to_owned()),
                None => (text.clone(), String::new()),
            })
            .collect(),
        readonly_rootfs: flags.read_only,
        ..Default::default()
    };
    Ok(request)
}

/// `--log-driver` and `--log-opt KEY=VALUE` as HostConfig.LogConfig.
fn log_config(flags: &ContainerFlags) -> Result<berth_api::container::LogConfig> {
    let mut config = BTreeMap::new();
    for option in &flags.log_opts {
        let (key, value) = option
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid log opt \"{option}\": expected KEY=VALUE"))?;
        config.insert(key.to_owned(), value.to_owned());
    }
    Ok(berth_api::container::LogConfig {
        kind: flags.log_driver.clone().unwrap_or_default(),
        config,
    })
}

/// `--security-opt` values as the API takes them: a seccomp profile is sent as its JSON text,
/// read from the file the flag names, as docker does.
fn security_options(options: &[String]) -> Result<Vec<String>> {
    options
        .iter()
        .map(|option| match option.split_once(['=', ':']) {
            Some(("seccomp", path)) if path != "unconfined" => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("opening seccomp profile ({path}) failed"))?;
                let json: serde_json::Value = serde_json::from_str(&text).with_context(|| {
                    format!("compacting json for seccomp profile ({path}) failed")
                })?;
                Ok(format!("seccomp={json}"))
            }
            _ => Ok(option.clone()),
        })
        .collect()
}

/// Creates the container, pulling its image first when the daemon does not have it.
async fn create_container(client: &Client, flags: &ContainerFlags, attach: bool) -> Result<String> {
    let request = create_request(flags, attach)?;
    let path = match &flags.name {
        Some(name) => format!("/containers/create?name={}", encode(name)),
        None => "/containers/create".to_owned(),
    };
    let answer: Result<ContainerCreateResponse> = client.post_json(&path, &request).await;
    let answer = match answer {
        Err(err)
            if err
                .downcast_ref::<DaemonError>()
                .is_some_and(|e| e.status == 404 && e.message.starts_with("No such image")) =>
        {
            eprintln!(
                "Unable to find image '{}' locally",
                shown_image(flags.image())
            );
            pull_to_stderr(client, flags.image()).await?;
            client.post_json(&path, &request).await?
        }
        other => other?,
    };
    for warning in &answer.warnings {
        eprintln!("WARNING: {warning}");
    }
    Ok(answer.id)
}

fn shown_image(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// Pull progress goes to stderr during `run`, like docker.
async fn pull_to_stderr(client: &Client, image: &str) -> Result<()> {
    // The progress renderer prints to stdout; keep stdout for the container's output by
    // pulling quietly and saying what happened on stderr.
    pull_image(client, image, true).await?;
    eprintln!("Status: Downloaded image for {}", shown_image(image));
    Ok(())
}

/// `berth create`.
pub async fn create(client: &Client, args: CreateArgs) -> Result<i32> {
    // As docker create: attached streams by default, for a later `start -a`.
    let id = create_container(client, &args.container, true).await?;
    println!("{id}");
    Ok(0)
}

/// `berth run`.
pub async fn run(client: &Client, args: RunArgs) -> Result<i32> {
    let flags = &args.container;
    if flags.tty && flags.interactive && !args.detach && !terminal::stdin_is_terminal() {
        eprintln!("the input device is not a TTY");
        return Ok(1);
    }
    let detach_keys = match detach_keys(args.detach_keys.as_deref()) {
        Ok(keys) => keys,
        Err(err) => {
            eprintln!("{err}");
            return Ok(125);
        }
    };
    let id = match create_container(client, flags, !args.detach).await {
        Ok(id) => id,
        Err(err) => {
            eprintln!("{err}");
            return Ok(125);
        }
    };
    if args.detach {
        if let Err(err) = client.post_empty(&format!("/containers/{id}/start")).await {
            eprintln!("{err}");
            return Ok(125);
        }
        println!("{id}");
        return Ok(0);
    }
    // Attach first, then wait (headers arrive at once), then start: nothing is missed.
    let stdin = if flags.interactive { "&stdin=1" } else { "" };
    let attach = client
        .send(
            Method::POST,
            &format!("/containers/{id}/attach?stream=1&stdout=1&stderr=1{stdin}"),
            None,
            true,
        )
        .await?;
    let attach = check(attach).await?;
    let mut session =
        Session::open(attach, flags.tty, flags.interactive, &detach_keys, "attach").await?;
    let condition = if flags.rm { "removed" } else { "next-exit" };
    let wait = client
        .call(
            Method::POST,
            &format!("/containers/{id}/wait?condition={condition}"),
            None,
        )
        .await?;
    if let Err(err) = client.post_empty(&format!("/containers/{id}/start")).await {
        drop(session);
        eprintln!("{err}");
        return Ok(126);
    }
    session.follow_terminal_size(client, format!("/containers/{id}/resize"));
    if session.finish().await? == Ended::Detached {
        return Ok(0);
    }
    let answer: WaitResponse = read_json(wait).await?;
    if let Some(error) = answer.error.filter(|error| !error.message.is_empty()) {
        eprintln!("Error response from daemon: {}", error.message);
    }
    Ok(answer.status_code as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse() {
        assert_eq!(
            restart_policy("on-failure:3").unwrap().maximum_retry_count,
            3
        );
        assert_eq!(restart_policy("always").unwrap().name, "always");
        assert!(restart_policy("always:2").is_err());
        assert!(restart_policy("sometimes").is_err());
    }

    #[test]
    fn shown_image_adds_latest() {
        assert_eq!(shown_image("hello-world"), "hello-world:latest");
        assert_eq!(shown_image("127.0.0.1:5000/x"), "127.0.0.1:5000/x:latest");
        assert_eq!(shown_image("x:1"), "x:1");
    }
}
