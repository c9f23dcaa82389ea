//! cgroup v2 (the unified tree): enabling controllers down the path and writing memory, cpu,
//! cpuset, pids, io weight and `unified` limits, and the device rules as an eBPF filter.

use std::fs;
use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::device_filter::{self, Rule};
use super::v1::{pids_max, DEFAULT_DEVICE_RULES};
use super::{make_dir, write, Cgroup, Dir};
use crate::error::{Error, Result};

const ROOT: &str = "/sys/fs/cgroup";
const CONTROLLERS: [&str; 5] = ["memory", "cpu", "cpuset", "pids", "io"];

pub(super) fn create(
    cgroup: &mut Cgroup,
    relative: &Path,
    resources: Option<&LinuxResources>,
) -> Result<()> {
    create_under(Path::new(ROOT), cgroup, relative, resources)
}

/// The directory at `relative` in the unified tree, if it exists.
pub(super) fn existing(relative: &Path) -> Vec<Dir> {
    let path = Path::new(ROOT).join(relative);
    if !path.is_dir() {
        return Vec::new();
    }
    vec![Dir {
        hierarchy: String::new(),
        path,
        created: true,
    }]
}

fn create_under(
    root: &Path,
    cgroup: &mut Cgroup,
    relative: &Path,
    resources: Option<&LinuxResources>,
) -> Result<()> {
    let path = root.join(relative);
    // Enable the controllers in every ancestor so the leaf gets their files.
    let mut ancestor = root.to_path_buf();
    for component in relative.parent().into_iter().flat_map(|p| p.components()) {
        enable_controllers(&ancestor);
        ancestor.push(component);
        make_dir(&ancestor)?;
    }
    enable_controllers(&ancestor);
    let created = make_dir(&path)?;
    cgroup.dirs.push(Dir {
        hierarchy: String::new(),
        path: path.clone(),
        created,
    });
    if let Some(resources) = resources {
        apply(&path, resources)?;
    }
    Ok(())
}

fn enable_controllers(dir: &Path) {
    let available = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let wanted: Vec<String> = available
        .split_whitespace()
        .filter(|c| CONTROLLERS.contains(c))
        .map(|c| format!("+{c}"))
        .collect();
    if !wanted.is_empty() {
        if let Err(err) = write(dir, "cgroup.subtree_control", &wanted.join(" ")) {
            tracing::debug!(%err, "cannot enable cgroup controllers");
        }
    }
}

/// cgroup v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000).
pub(super) fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// cgroup v1 blkio.weight (10..1000) to v2 io.weight (1..10000).
pub(super) fn blkio_to_io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight.clamp(10, 1000)) - 10) * 9999 / 990
}

fn apply(path: &Path, resources: &LinuxResources) -> Result<()> {
    if let Some(memory) = resources.memory() {
        if let Some(limit) = memory.limit() {
            write(path, "memory.max", &limit.to_string())?;
        }
        if let Some(reservation) = memory.reservation() {
            write(path, "memory.low", &reservation.to_string())?;
        }
        match (memory.swap(), memory.limit()) {
            (Some(-1), _) => write(path, "memory.swap.max", "max")?,
            (Some(swap), Some(limit)) => {
                if swap < limit {
                    return Err(Error::spec(
                        "linux.resources.memory.swap",
                        "must be at least the memory limit (it counts memory plus swap)",
                    ));
                }
                write(path, "memory.swap.max", &(swap - limit).to_string())?;
            }
            _ => {}
        }
    }
    if let Some(cpu) = resources.cpu() {
        if let Some(shares) = cpu.shares() {
            write(path, "cpu.weight", &shares_to_weight(shares).to_string())?;
        }
        if cpu.quota().is_some() || cpu.period().is_some() {
            let quota = match cpu.quota() {
                Some(quota) if quota > 0 => quota.to_string(),
                _ => "max".to_owned(),
            };
            let period = cpu.period().unwrap_or(100_000);
            write(path, "cpu.max", &format!("{quota} {period}"))?;
        }
        if let Some(cpus) = cpu.cpus() {
            write(path, "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = cpu.mems() {
            write(path, "cpuset.mems", mems)?;
        }
    }
    if let Some(pids) = resources.pids() {
        write(path, "pids.max", &pids_max(pids.limit()))?;
    }
    if let Some(weight) = resources.block_io().as_ref().and_then(|b| b.weight()) {
        // BFQ's io.bfq.weight takes v1's range; io.weight (blk-iocost) its own, as runc maps it.
        if path.join("io.bfq.weight").exists() {
            write(path, "io.bfq.weight", &weight.to_string())?;
        } else {
            write(path, "io.weight", &blkio_to_io_weight(weight).to_string())?;
        }
    }
    let devices = resources.devices().as_deref().unwrap_or_default();
    if !devices.is_empty() {
        // The spec's rules, then the standard nodes (as on v1), as an eBPF filter.
        let rules: Vec<Rule> = devices
            .iter()
            .map(Rule::from_oci)
            .chain(
                DEFAULT_DEVICE_RULES
                    .iter()
                    .filter_map(|text| Rule::allowing(text)),
            )
            .collect();
        device_filter::attach(path, &rules)?;
    }
    for (file, value) in resources.unified().iter().flatten() {
        if file.contains('/') || file.starts_with('.') {
            return Err(Error::spec(
                format!("linux.resources.unified.{file}"),
                "not a cgroup file name",
            ));
        }
        write(path, file, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder,
        LinuxResourcesBuilder,
    };

    #[test]
    fn limits_are_written_in_v2_syntax() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("cgroup.controllers"), "cpu memory pids io").unwrap();
        let resources = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(32i64 << 20)
                    .swap(48i64 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(1024u64)
                    .quota(50_000i64)
                    .period(100_000u64)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(0i64).build().unwrap())
            .block_io(
                LinuxBlockIoBuilder::default()
                    .weight(500u16)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let mut cgroup = Cgroup::default();
        create_under(
            root.path(),
            &mut cgroup,
            Path::new("berth/c1"),
            Some(&resources),
        )
        .unwrap();
        let read = |file: &str| std::fs::read_to_string(root.path().join(file)).unwrap();
        assert_eq!(read("cgroup.subtree_control"), "+cpu +memory +pids +io");
        assert_eq!(read("berth/c1/memory.max"), "33554432");
        assert_eq!(read("berth/c1/memory.swap.max"), "16777216");
        assert_eq!(read("berth/c1/cpu.weight"), "39");
        assert_eq!(read("berth/c1/io.weight"), "4950");
        assert_eq!(read("berth/c1/cpu.max"), "50000 100000");
        assert_eq!(read("berth/c1/pids.max"), "max");
        assert_eq!(cgroup.dirs.len(), 1);
        assert!(cgroup.dirs[0].created);
    }

    #[test]
    fn shares_map_to_weights() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
    }
}
