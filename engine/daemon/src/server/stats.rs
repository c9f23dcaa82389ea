//! `GET /containers/{id}/stats?stream=..&one-shot=..`: samples of a container's usage from its
//! cgroup, one JSON object per second while streaming, each with the previous sample's CPU
//! figures so clients can compute rates.

use std::sync::Arc;
use std::time::Duration;

use berth_api::stats::{ContainerStats, CpuStats, CpuUsage, MemoryStats, PidsStats};
use bytes::Bytes;
use hyper::StatusCode;

use super::containers::find;
use super::http::{ok_json, streaming, ApiError, ApiResult, Query};
use crate::containers::Entry;
use crate::daemon::Daemon;

const INTERVAL: Duration = Duration::from_secs(1);

/// The host's CPU time since boot in nanoseconds, and its online CPUs, from /proc/stat.
fn host_cpu() -> (u64, u32) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100)
        .max(1) as u64;
    let total = stat
        .lines()
        .find_map(|line| line.strip_prefix("cpu "))
        .map(|fields| {
            fields
                .split_whitespace()
                .filter_map(|n| n.parse::<u64>().ok())
                .sum::<u64>()
        })
        .unwrap_or(0);
    let cpus = stat
        .lines()
        .filter(|line| line.starts_with("cpu") && !line.starts_with("cpu "))
        .count() as u32;
    (total * (1_000_000_000 / ticks), cpus.max(1))
}

/// One sample; zeros for a container that does not run.
fn sample(daemon: &Daemon, entry: &Entry, previous: Option<&ContainerStats>) -> ContainerStats {
    let record = entry.record();
    let (system, cpus) = host_cpu();
    let mut stats = ContainerStats {
        read: crate::containers::now_rfc3339(),
        name: format!("/{}", record.name),
        id: record.id.clone(),
        ..Default::default()
    };
    if let Some(previous) = previous {
        stats.preread = previous.read.clone();
        stats.precpu_stats = previous.cpu_stats.clone();
    }
    if !record.state.running() {
        return stats;
    }
    let Ok(usage) = daemon.containers.stats(&record.id) else {
        return stats;
    };
    stats.cpu_stats = CpuStats {
        cpu_usage: CpuUsage {
            total_usage: usage.cpu_total_ns,
            percpu_usage: usage.cpu_per_cpu_ns,
            usage_in_kernelmode: usage.cpu_kernel_ns,
            usage_in_usermode: usage.cpu_user_ns,
        },
        system_cpu_usage: system,
        online_cpus: cpus,
    };
    let host_memory = nix::sys::sysinfo::sysinfo()
        .map(|info| info.ram_total())
        .unwrap_or(0);
    stats.memory_stats = MemoryStats {
        usage: usage.memory_usage,
        max_usage: (usage.memory_max_usage > 0).then_some(usage.memory_max_usage),
        stats: usage.memory_stat,
        limit: usage
            .memory_limit
            .unwrap_or(host_memory)
            .min(host_memory.max(1)),
    };
    stats.pids_stats = PidsStats {
        current: usage.pids,
        limit: usage.pids_limit,
    };
    stats
}

/// `GET /containers/{id}/stats`.
pub async fn stats(daemon: Arc<Daemon>, name: &str, query: &Query) -> ApiResult {
    let entry = find(&daemon, name)?;
    let stream = query.flag_or("stream", true);
    let one_shot = query.flag("one-shot");
    let take = {
        let (daemon, entry) = (Arc::clone(&daemon), Arc::clone(&entry));
        move |previous: Option<ContainerStats>| {
            let (daemon, entry) = (Arc::clone(&daemon), Arc::clone(&entry));
            async move {
                tokio::task::spawn_blocking(move || sample(&daemon, &entry, previous.as_ref()))
                    .await
                    .map_err(|err| ApiError::internal(err.to_string()))
            }
        }
    };
    if !stream {
        // Two samples a second apart, so the answer carries a CPU rate (as dockerd).
        let mut answer = take(None).await?;
        if !one_shot && entry.record().state.running() {
            tokio::time::sleep(INTERVAL).await;
            answer = take(Some(answer)).await?;
        }
        return ok_json(&answer);
    }
    let (response, body) = streaming(StatusCode::OK, "application/json");
    tokio::spawn(async move {
        let mut previous = None;
        loop {
            let Ok(current) = take(previous.take()).await else {
                return;
            };
            let Ok(mut line) = serde_json::to_vec(&current) else {
                return;
            };
            line.push(b'\n');
            if body.send(Bytes::from(line)).await.is_err() || !entry.record().state.running() {
                return;
            }
            previous = Some(current);
            tokio::time::sleep(INTERVAL).await;
        }
    });
    Ok(response)
}
