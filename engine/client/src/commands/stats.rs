//! `berth stats`: docker's usage table (CPU %, memory, PIDs) for running containers, once with
//! `--no-stream` or redrawn every second.

use anyhow::Result;
use berth_api::container::ContainerSummary;
use berth_api::stats::ContainerStats;
use berth_api::units::binary_size;
use futures_util::future::join_all;

use crate::cli::StatsArgs;
use crate::transport::{encode, Client};

const HEADER: [&str; 8] = [
    "CONTAINER ID",
    "NAME",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET I/O",
    "BLOCK I/O",
    "PIDS",
];

fn row(stats: &ContainerStats) -> [String; 8] {
    let used = stats.memory_used();
    let limit = stats.memory_stats.limit;
    let memory_percent = if limit > 0 {
        used as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    [
        stats.id.chars().take(12).collect(),
        stats.name.trim_start_matches('/').to_owned(),
        format!("{:.2}%", stats.cpu_percent()),
        format!("{} / {}", binary_size(used), binary_size(limit)),
        format!("{memory_percent:.2}%"),
        "0B / 0B".to_owned(),
        "0B / 0B".to_owned(),
        stats.pids_stats.current.to_string(),
    ]
}

/// `berth stats`.
pub async fn stats(client: &Client, args: StatsArgs) -> Result<i32> {
    let names = if args.containers.is_empty() {
        let path = if args.all {
            "/containers/json?all=1"
        } else {
            "/containers/json"
        };
        let containers: Vec<ContainerSummary> = client.get_json(path).await?;
        containers.into_iter().map(|c| c.id).collect()
    } else {
        args.containers.clone()
    };
    loop {
        // Each answer holds two samples a second apart; take them all at once.
        let samples = join_all(names.iter().map(|name| async move {
            let path = format!("/containers/{}/stats?stream=0", encode(name));
            client.get_json::<ContainerStats>(&path).await
        }))
        .await;
        let rows = samples
            .into_iter()
            .map(|sample| sample.map(|stats| row(&stats)))
            .collect::<Result<Vec<_>>>()?;
        if !args.no_stream {
            // Clear the screen and go home, as docker redraws.
            print!("\x1b[2J\x1b[H");
        }
        super::table::print(&HEADER, &rows);
        if args.no_stream {
            return Ok(0);
        }
    }
}
