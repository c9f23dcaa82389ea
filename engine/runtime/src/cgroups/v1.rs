//! cgroup v1 (CentOS 7, and hybrid hosts): one directory per mounted hierarchy and the
//! controller files for memory, cpu, cpuset, pids, blkio and devices.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

use super::{make_dir, write, Cgroup, Dir};
use crate::error::{Context, Result};

/// The hierarchies a container joins (cpuset only when asked for: it needs cpus and mems set).
const CONTROLLERS: [&str; 7] = [
    "memory", "cpu", "cpuacct", "pids", "devices", "freezer", "blkio",
];

/// A mounted v1 hierarchy: its mount point and the controllers bound to it.
#[derive(Debug, PartialEq, Eq)]
struct Hierarchy {
    mount_point: PathBuf,
    controllers: Vec<String>,
}

fn hierarchies(mountinfo: &str) -> Vec<Hierarchy> {
    let mut found: Vec<Hierarchy> = Vec::new();
    for line in mountinfo.lines() {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let mut after = after.split(' ');
        if after.next() != Some("cgroup") {
            continue;
        }
        let super_options = after.nth(1).unwrap_or_default();
        let Some(mount_point) = before.split(' ').nth(4) else {
            continue;
        };
        let controllers: Vec<String> = super_options
            .split(',')
            .filter(|option| CONTROLLERS.contains(option) || *option == "cpuset")
            .map(str::to_owned)
            .collect();
        let mount_point = PathBuf::from(mount_point.replace("\\040", " "));
        if !controllers.is_empty() && !found.iter().any(|h| h.controllers == controllers) {
            found.push(Hierarchy {
                mount_point,
                controllers,
            });
        }
    }
    found
}

/// The directories at `relative` that exist in any mounted v1 hierarchy (cpuset included).
pub(super) fn existing(relative: &Path) -> Vec<Dir> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    hierarchies(&mountinfo)
        .into_iter()
        .map(|hierarchy| Dir {
            hierarchy: hierarchy
                .mount_point
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: hierarchy.mount_point.join(relative),
            created: true,
        })
        .filter(|dir| dir.path.is_dir())
        .collect()
}

pub(super) fn create(
    cgroup: &mut Cgroup,
    relative: &Path,
    resources: Option<&LinuxResources>,
) -> Result<()> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .ctx(|| "reading /proc/self/mountinfo".to_owned())?;
    let wants_cpuset = resources
        .and_then(|r| r.cpu().as_ref())
        .is_some_and(|cpu| cpu.cpus().is_some() || cpu.mems().is_some());
    for hierarchy in hierarchies(&mountinfo) {
        let is_cpuset = hierarchy.controllers.iter().any(|c| c == "cpuset");
        if is_cpuset && !wants_cpuset {
            continue;
        }
        let path = hierarchy.mount_point.join(relative);
        let created = make_dir(&path)?;
        let name = hierarchy
            .mount_point
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        cgroup.dirs.push(Dir {
            hierarchy: name,
            path: path.clone(),
            created,
        });
        if is_cpuset {
            inherit_cpuset(&path)?;
        }
        if let Some(resources) = resources {
            for controller in &hierarchy.controllers {
                apply(controller, &path, resources)?;
            }
        }
    }
    Ok(())
}

/// A new cpuset cgroup starts with empty cpus and mems; copy them from the parent.
fn inherit_cpuset(path: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let current = fs::read_to_string(path.join(file)).unwrap_or_default();
        if current.trim().is_empty() {
            if let Some(parent) = path.parent() {
                let value = fs::read_to_string(parent.join(file))
                    .ctx(|| format!("reading {}", parent.join(file).display()))?;
                write(path, file, value.trim())?;
            }
        }
    }
    Ok(())
}

fn apply(controller: &str, path: &Path, resources: &LinuxResources) -> Result<()> {
    match controller {
        "memory" => {
            let Some(memory) = resources.memory() else {
                return Ok(());
            };
            if let Some(limit) = memory.limit() {
                write(path, "memory.limit_in_bytes", &limit.to_string())?;
            }
            if let Some(reservation) = memory.reservation() {
                write(path, "memory.soft_limit_in_bytes", &reservation.to_string())?;
            }
            if let Some(swap) = memory.swap() {
                if path.join("memory.memsw.limit_in_bytes").exists() {
                    write(path, "memory.memsw.limit_in_bytes", &swap.to_string())?;
                }
            }
            if let Some(swappiness) = memory.swappiness() {
                write(path, "memory.swappiness", &swappiness.to_string())?;
            }
            if memory.disable_oom_killer() == Some(true) {
                write(path, "memory.oom_control", "1")?;
            }
        }
        "cpu" => {
            let Some(cpu) = resources.cpu() else {
                return Ok(());
            };
            if let Some(shares) = cpu.shares() {
                write(path, "cpu.shares", &shares.to_string())?;
            }
            if let Some(period) = cpu.period() {
                write(path, "cpu.cfs_period_us", &period.to_string())?;
            }
            if let Some(quota) = cpu.quota() {
                write(path, "cpu.cfs_quota_us", &quota.to_string())?;
            }
        }
        "cpuset" => {
            if let Some(cpu) = resources.cpu() {
                if let Some(cpus) = cpu.cpus() {
                    write(path, "cpuset.cpus", cpus)?;
                }
                if let Some(mems) = cpu.mems() {
                    write(path, "cpuset.mems", mems)?;
                }
            }
        }
        "pids" => {
            if let Some(pids) = resources.pids() {
                write(path, "pids.max", &pids_max(pids.limit()))?;
            }
        }
        "blkio" => {
            if let Some(weight) = resources.block_io().as_ref().and_then(|b| b.weight()) {
                // CFQ's blkio.weight, or BFQ's blkio.bfq.weight on blk-mq kernels (same range).
                let file = if path.join("blkio.weight").exists() {
                    "blkio.weight"
                } else {
                    "blkio.bfq.weight"
                };
                write(path, file, &weight.to_string())?;
            }
        }
        "devices" => {
            for rule in resources.devices().iter().flatten() {
                let file = if rule.allow() {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                write(path, file, &device_rule(rule))?;
            }
            if resources
                .devices()
                .as_ref()
                .is_some_and(|rules| !rules.is_empty())
            {
                for rule in DEFAULT_DEVICE_RULES {
                    write(path, "devices.allow", rule)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

pub(super) fn pids_max(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_owned()
    }
}

/// Allowed after the spec's own device rules, as runc adds them: creating any node (`m`; using
/// one still needs its own rule), the standard nodes the runtime creates in /dev (null, zero,
/// full, random, urandom, tty), /dev/ptmx and /dev/pts/*, and /dev/net/tun. Without them a
/// spec that denies all devices (as `runc spec` writes) could not even get its /dev/null.
pub(super) const DEFAULT_DEVICE_RULES: [&str; 11] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

/// A device rule in the `devices.allow` syntax: `c 1:3 rwm`, `a *:* rwm`.
fn device_rule(rule: &LinuxDeviceCgroup) -> String {
    let typ = rule
        .typ()
        .map(|t| t.as_str().to_owned())
        .unwrap_or("a".to_owned());
    let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or("*".to_owned());
    let access = rule.access().clone().unwrap_or("rwm".to_owned());
    format!(
        "{typ} {}:{} {access}",
        number(rule.major()),
        number(rule.minor())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_hierarchies_in_mountinfo() {
        let mountinfo = "\
30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup rw,cpu,cpuacct
32 25 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
33 25 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
34 25 0:26 / /other/memory rw - cgroup cgroup rw,memory";
        let found = hierarchies(mountinfo);
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[1].mount_point,
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(found[1].controllers, ["cpu", "cpuacct"]);
    }

    #[test]
    fn limits_are_written_per_controller() {
        use oci_spec::runtime::{
            LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxMemoryBuilder,
            LinuxResourcesBuilder,
        };
        let dir = tempfile::tempdir().unwrap();
        let resources = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1i64 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(512u64)
                    .quota(-1i64)
                    .build()
                    .unwrap(),
            )
            .devices(vec![
                LinuxDeviceCgroupBuilder::default()
                    .allow(false)
                    .access("rwm")
                    .build()
                    .unwrap(),
                LinuxDeviceCgroupBuilder::default()
                    .allow(true)
                    .typ(LinuxDeviceType::C)
                    .major(1i64)
                    .minor(3i64)
                    .access("rwm")
                    .build()
                    .unwrap(),
            ])
            .build()
            .unwrap();
        for controller in ["memory", "cpu", "devices", "pids"] {
            apply(controller, dir.path(), &resources).unwrap();
        }
        let read = |file: &str| std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert_eq!(read("memory.limit_in_bytes"), "1048576");
        assert_eq!(read("cpu.shares"), "512");
        assert_eq!(read("cpu.cfs_quota_us"), "-1");
        // A plain file keeps the last rule written (the last default allowance); the kernel
        // file applies each write.
        assert_eq!(read("devices.allow"), "c 10:200 rwm");
        assert_eq!(read("devices.deny"), "a *:* rwm");
        assert!(
            !dir.path().join("pids.max").exists(),
            "no pids limit asked for"
        );
    }

    #[test]
    fn device_rules_use_wildcards() {
        let rule = LinuxDeviceCgroup::default();
        assert_eq!(device_rule(&rule), "a *:* rwm");
        assert_eq!(pids_max(0), "max");
        assert_eq!(pids_max(32), "32");
    }
}
