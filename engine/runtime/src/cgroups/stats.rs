//! Usage figures of a container's cgroup for `docker stats`: CPU time, memory and processes,
//! from the v1 controllers or the v2 unified files.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Cgroup;

/// One sample of a container's usage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU time used, in nanoseconds.
    pub cpu_total_ns: u64,
    /// Per-CPU time used, in nanoseconds (v1 only).
    pub cpu_per_cpu_ns: Vec<u64>,
    /// CPU time in user and kernel mode, in nanoseconds.
    pub cpu_user_ns: u64,
    pub cpu_kernel_ns: u64,
    /// Memory in use, in bytes (including the page cache, as the kernel counts it).
    pub memory_usage: u64,
    /// The highest memory use seen (v1 only).
    pub memory_max_usage: u64,
    /// The memory limit; `None` without one.
    pub memory_limit: Option<u64>,
    /// memory.stat, key by key.
    pub memory_stat: BTreeMap<String, u64>,
    /// Processes in the cgroup, and their limit.
    pub pids: u64,
    pub pids_limit: Option<u64>,
}

fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()
}

fn key_values(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(' ')?;
            Some((key.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

impl Cgroup {
    /// The directory of the v1 hierarchy holding `controller`, or the v2 directory.
    fn dir_of(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|dir| self.unified || dir.hierarchy.split(',').any(|name| name == controller))
            .map(|dir| dir.path.as_path())
    }

    /// Samples the cgroup's usage; figures a controller does not offer stay zero.
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        if self.unified {
            let Some(dir) = self.dir_of("") else {
                return stats;
            };
            let cpu = key_values(dir, "cpu.stat");
            let micros = |key: &str| cpu.get(key).copied().unwrap_or(0) * 1000;
            stats.cpu_total_ns = micros("usage_usec");
            stats.cpu_user_ns = micros("user_usec");
            stats.cpu_kernel_ns = micros("system_usec");
            stats.memory_usage = read_u64(dir, "memory.current").unwrap_or(0);
            stats.memory_max_usage = read_u64(dir, "memory.peak").unwrap_or(0);
            stats.memory_limit = read_u64(dir, "memory.max");
            stats.memory_stat = key_values(dir, "memory.stat");
            stats.pids = read_u64(dir, "pids.current").unwrap_or(0);
            stats.pids_limit = read_u64(dir, "pids.max");
            return stats;
        }
        if let Some(dir) = self.dir_of("cpuacct") {
            stats.cpu_total_ns = read_u64(dir, "cpuacct.usage").unwrap_or(0);
            stats.cpu_per_cpu_ns = fs::read_to_string(dir.join("cpuacct.usage_percpu"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            // cpuacct.stat counts in USER_HZ ticks.
            let ticks = key_values(dir, "cpuacct.stat");
            let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
                .ok()
                .flatten()
                .unwrap_or(100)
                .max(1) as u64;
            let to_ns = |key: &str| ticks.get(key).copied().unwrap_or(0) * 1_000_000_000 / hz;
            stats.cpu_user_ns = to_ns("user");
            stats.cpu_kernel_ns = to_ns("system");
        }
        if let Some(dir) = self.dir_of("memory") {
            stats.memory_usage = read_u64(dir, "memory.usage_in_bytes").unwrap_or(0);
            stats.memory_max_usage = read_u64(dir, "memory.max_usage_in_bytes").unwrap_or(0);
            // v1 reports "no limit" as a huge page-aligned number.
            stats.memory_limit =
                read_u64(dir, "memory.limit_in_bytes").filter(|limit| *limit < (1 << 62));
            stats.memory_stat = key_values(dir, "memory.stat");
        }
        if let Some(dir) = self.dir_of("pids") {
            stats.pids = read_u64(dir, "pids.current").unwrap_or(0);
            stats.pids_limit = read_u64(dir, "pids.max");
        }
        stats
    }
}
