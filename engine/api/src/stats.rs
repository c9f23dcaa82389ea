//! `GET /containers/{id}/stats`: moby's `StatsJSON`, the fields the docker CLI reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One sample, with the previous one's CPU figures for rates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerStats {
    /// When this sample was read (RFC 3339).
    pub read: String,
    /// When the previous one was.
    pub preread: String,
    pub pids_stats: PidsStats,
    pub blkio_stats: BlkioStats,
    pub num_procs: u32,
    pub cpu_stats: CpuStats,
    pub precpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    /// `/name`.
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PidsStats {
    pub current: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// Block I/O (not sampled by berth; empty lists as dockerd sends without data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Option<Vec<BlkioEntry>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    /// The host's CPU time since boot, in nanoseconds.
    pub system_cpu_usage: u64,
    pub online_cpus: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    /// Nanoseconds.
    pub total_usage: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_usage: Vec<u64>,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryStats {
    pub usage: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_usage: Option<u64>,
    pub stats: BTreeMap<String, u64>,
    pub limit: u64,
}

impl ContainerStats {
    /// CPU use since the previous sample, in percent of one CPU times the CPUs (as docker).
    pub fn cpu_percent(&self) -> f64 {
        let container = self
            .cpu_stats
            .cpu_usage
            .total_usage
            .saturating_sub(self.precpu_stats.cpu_usage.total_usage) as f64;
        let system = self
            .cpu_stats
            .system_cpu_usage
            .saturating_sub(self.precpu_stats.system_cpu_usage) as f64;
        if container <= 0.0 || system <= 0.0 {
            return 0.0;
        }
        container / system * f64::from(self.cpu_stats.online_cpus.max(1)) * 100.0
    }

    /// Memory in use without the page cache, as docker shows it.
    pub fn memory_used(&self) -> u64 {
        let stats = &self.memory_stats.stats;
        let cache = stats
            .get("total_inactive_file")
            .or_else(|| stats.get("inactive_file"))
            .copied()
            .unwrap_or(0);
        self.memory_stats.usage.saturating_sub(cache)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percent_is_dockers_formula() {
        let mut stats = ContainerStats::default();
        stats.precpu_stats.cpu_usage.total_usage = 1_000;
        stats.precpu_stats.system_cpu_usage = 10_000;
        stats.cpu_stats.cpu_usage.total_usage = 2_000;
        stats.cpu_stats.system_cpu_usage = 20_000;
        stats.cpu_stats.online_cpus = 2;
        assert!((stats.cpu_percent() - 20.0).abs() < 1e-9);
        stats.memory_stats.usage = 100;
        stats.memory_stats.stats.insert("inactive_file".into(), 30);
        assert_eq!(stats.memory_used(), 70);
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["cpu_stats"]["online_cpus"], 2);
        assert!(json["memory_stats"].get("limit").is_some());
    }
}
