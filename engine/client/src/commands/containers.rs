//! Container views and names: ps, logs, inspect, top and rename.

use anyhow::{bail, Result};
use berth_api::container::{ContainerInspect, ContainerSummary, ContainerTop, FilesystemChange};
use hyper::Method;

use super::images::created_ago;
use super::prune::filters_query;
use super::stdio::drain;
use crate::cli::{DiffArgs, ExportArgs, InspectArgs, LogsArgs, PsArgs, RenameArgs, TopArgs};
use crate::transport::{encode, Client, DaemonError};

/// `berth ps`.
pub async fn ps(client: &Client, args: PsArgs) -> Result<i32> {
    let all = if args.all { "&all=1" } else { "" };
    let filters = filters_query(&args.filter)?;
    let containers: Vec<ContainerSummary> = client
        .get_json(&format!("/containers/json?{filters}{all}"))
        .await?;
    if args.quiet {
        for container in &containers {
            println!("{}", short_id(&container.id, args.no_trunc));
        }
        return Ok(0);
    }
    let rows: Vec<[String; 7]> = containers
        .iter()
        .map(|container| {
            let mut command = format!("\"{}\"", container.command);
            if !args.no_trunc && command.chars().count() > 20 {
                command = format!(
                    "\"{}…\"",
                    container.command.chars().take(18).collect::<String>()
                );
            }
            [
                short_id(&container.id, args.no_trunc),
                container.image.clone(),
                command,
                created_ago(container.created),
                container.status.clone(),
                String::new(),
                container
                    .names
                    .iter()
                    .map(|name| name.trim_start_matches('/'))
                    .collect::<Vec<_>>()
                    .join(","),
            ]
        })
        .collect();
    super::table::print(
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ],
        &rows,
    );
    Ok(0)
}

fn short_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_owned()
    } else {
        id.chars().take(12).collect()
    }
}

/// `berth logs`.
pub async fn logs(client: &Client, args: LogsArgs) -> Result<i32> {
    let name = encode(&args.container);
    let inspect: ContainerInspect = client.get_json(&format!("/containers/{name}/json")).await?;
    let mut query = format!("stdout=1&stderr=1&tail={}", encode(&args.tail));
    if args.follow {
        query.push_str("&follow=1");
    }
    if args.timestamps {
        query.push_str("&timestamps=1");
    }
    for (key, value) in [("since", &args.since), ("until", &args.until)] {
        let Some(text) = value else { continue };
        let Some(time) = berth_api::filters::parse_time(text, std::time::SystemTime::now()) else {
            bail!("invalid value for \"{key}\": {text}");
        };
        let since_epoch = time
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        query.push_str(&format!(
            "&{key}={}.{:09}",
            since_epoch.as_secs(),
            since_epoch.subsec_nanos()
        ));
    }
    let response = client
        .call(
            Method::GET,
            &format!("/containers/{name}/logs?{query}"),
            None,
        )
        .await?;
    drain(response, inspect.config.tty).await?;
    Ok(0)
}

/// `berth inspect`: containers first, then images, as a JSON array.
pub async fn inspect(client: &Client, args: InspectArgs) -> Result<i32> {
    let mut found = Vec::new();
    let mut code = 0;
    for name in &args.names {
        let encoded = encode(name);
        let mut attempts = Vec::new();
        if args.kind.as_deref() != Some("image") {
            attempts.push(format!("/containers/{encoded}/json"));
        }
        if args.kind.as_deref() != Some("container") {
            attempts.push(format!("/images/{name}/json"));
        }
        let mut value = None;
        for path in attempts {
            match client.get_json::<serde_json::Value>(&path).await {
                Ok(found) => {
                    value = Some(found);
                    break;
                }
                Err(err)
                    if err
                        .downcast_ref::<DaemonError>()
                        .is_some_and(|e| e.status == 404) => {}
                Err(err) => return Err(err),
            }
        }
        match value {
            Some(value) => found.push(value),
            None => {
                eprintln!("Error: No such object: {name}");
                code = 1;
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&found)?);
    Ok(code)
}

/// `berth rename`.
pub async fn rename(client: &Client, args: RenameArgs) -> Result<i32> {
    client
        .post_empty(&format!(
            "/containers/{}/rename?name={}",
            encode(&args.container),
            encode(&args.new_name)
        ))
        .await?;
    Ok(0)
}

/// `berth export`: the container's filesystem as a tar, to `-o FILE` or stdout.
pub async fn export(client: &Client, args: ExportArgs) -> Result<i32> {
    let path = format!("/containers/{}/export", encode(&args.container));
    let response = client.call(Method::GET, &path, None).await?;
    super::images::write_archive(response, args.output.as_deref(), "export").await?;
    Ok(0)
}

/// `berth diff`: `A`, `C` or `D` and the path, for each change in the writable layer.
pub async fn diff(client: &Client, args: DiffArgs) -> Result<i32> {
    let changes: Vec<FilesystemChange> = client
        .get_json(&format!("/containers/{}/changes", encode(&args.container)))
        .await?;
    for change in changes {
        let kind = match change.kind {
            0 => "C",
            1 => "A",
            _ => "D",
        };
        println!("{kind} {}", change.path);
    }
    Ok(0)
}

/// `berth top`.
pub async fn top(client: &Client, args: TopArgs) -> Result<i32> {
    let ps_args = args.ps_options.join(" ");
    let top: ContainerTop = client
        .get_json(&format!(
            "/containers/{}/top?ps_args={}",
            encode(&args.container),
            encode(&ps_args)
        ))
        .await?;
    super::table::print_rows(&top.titles, &top.processes);
    Ok(0)
}
