//! The checks dockerd makes on a container's settings and resources at create
//! (verifyContainerSettings, verifyPlatformContainerResources), with dockerd's messages: a value
//! dockerd refuses is refused at create instead of being clamped, ignored or failing at start.
//! A limit the host's cgroups cannot enforce is dropped with dockerd's warning, as dockerd does.

use berth_api::container::{ContainerConfig, HostConfig};

pub use super::cgroup_support::CgroupSupport;

/// dockerd's smallest memory limit (linuxMinMemory).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// Checks a create request against `cpus` usable CPUs and adapts it as dockerd does (the
/// default swap limit, limits the host cannot enforce dropped). The error is dockerd's message;
/// the warnings are dockerd's for what was dropped.
pub fn check(
    config: &ContainerConfig,
    host: &mut HostConfig,
    cpus: usize,
    support: CgroupSupport,
) -> Result<Vec<String>, String> {
    working_dir(config)?;
    memory(host)?;
    cpu(host, cpus)?;
    other_resources(host)?;
    ulimits(host)?;
    Ok(adapt(host, support))
}

/// The CPUs this process may run on, as Go's runtime.NumCPU counts them for dockerd.
pub fn usable_cpus() -> usize {
    use nix::sched::{sched_getaffinity, CpuSet};
    match sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|cpu| set.is_set(*cpu).unwrap_or(false))
            .count()
            .max(1),
        Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

fn working_dir(config: &ContainerConfig) -> Result<(), String> {
    let dir = &config.working_dir;
    if !dir.is_empty() && !dir.starts_with('/') {
        return Err(format!(
            "the working directory '{dir}' is invalid, it needs to be an absolute path"
        ));
    }
    Ok(())
}

fn memory(host: &HostConfig) -> Result<(), String> {
    if host.memory != 0 && host.memory < MIN_MEMORY {
        return Err("Minimum memory limit allowed is 6MB".to_owned());
    }
    if host.memory > 0 && host.memory_swap > 0 && host.memory_swap < host.memory {
        return Err(
            "Minimum memoryswap limit should be larger than memory limit, see usage".to_owned(),
        );
    }
    if host.memory == 0 && host.memory_swap > 0 {
        return Err(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
                .to_owned(),
        );
    }
    Ok(())
}

fn cpu(host: &HostConfig, cpus: usize) -> Result<(), String> {
    if host.nano_cpus > 0 && host.cpu_period > 0 {
        return Err("Conflicting options: Nano CPUs and CPU Period cannot both be set".to_owned());
    }
    if host.nano_cpus > 0 && host.cpu_quota > 0 {
        return Err("Conflicting options: Nano CPUs and CPU Quota cannot both be set".to_owned());
    }
    let most = i64::try_from(cpus)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000_000_000);
    if host.nano_cpus < 0 || host.nano_cpus > most {
        return Err(format!(
            "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        ));
    }
    if host.cpu_shares < 0 {
        return Err(format!(
            "invalid CPU shares ({}): value must be a positive integer",
            host.cpu_shares
        ));
    }
    if host.cpu_period != 0 && !(1000..=1_000_000).contains(&host.cpu_period) {
        return Err(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .to_owned(),
        );
    }
    if host.cpu_quota > 0 && host.cpu_quota < 1000 {
        return Err("CPU cfs quota can not be less than 1ms (i.e. 1000)".to_owned());
    }
    Ok(())
}

fn other_resources(host: &HostConfig) -> Result<(), String> {
    if host.blkio_weight > 0 && !(10..=1000).contains(&host.blkio_weight) {
        return Err("Range of blkio weight is from 10 to 1000".to_owned());
    }
    if host.shm_size < 0 {
        return Err("SHM size can not be less than 0".to_owned());
    }
    if !(-1000..=1000).contains(&host.oom_score_adj) {
        return Err(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            host.oom_score_adj
        ));
    }
    Ok(())
}

fn ulimits(host: &HostConfig) -> Result<(), String> {
    host.ulimits
        .iter()
        .try_for_each(crate::config::check_ulimit)
}

/// dockerd's adaptContainerSettings and the sysinfo checks of verifyPlatformContainerResources:
/// swap defaults to twice the memory limit; a swap limit or blkio weight the host cannot
/// enforce is dropped with dockerd's warning.
fn adapt(host: &mut HostConfig, support: CgroupSupport) -> Vec<String> {
    let mut warnings = Vec::new();
    if host.memory > 0 && host.memory_swap == 0 {
        host.memory_swap = host.memory.saturating_mul(2);
    }
    if host.memory > 0 && host.memory_swap != -1 && !support.swap_limit {
        warnings.push("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.".to_owned());
        host.memory_swap = -1;
    }
    if host.blkio_weight > 0 && !support.blkio_weight {
        warnings.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".to_owned());
        host.blkio_weight = 0;
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::container::Ulimit;

    const FULL: CgroupSupport = CgroupSupport::ALL;

    fn refused(mut host: HostConfig) -> String {
        check(&ContainerConfig::default(), &mut host, 2, FULL).unwrap_err()
    }

    #[test]
    fn values_dockerd_refuses_are_refused_with_its_words() {
        let cases = [
            (
                HostConfig { memory: -1, ..Default::default() },
                "Minimum memory limit allowed is 6MB",
            ),
            (
                HostConfig { memory: 64 << 20, memory_swap: 32 << 20, ..Default::default() },
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ),
            (
                HostConfig { cpu_shares: -5, ..Default::default() },
                "invalid CPU shares (-5): value must be a positive integer",
            ),
            (
                HostConfig { cpu_period: 1, ..Default::default() },
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ),
            (
                HostConfig { blkio_weight: 5000, ..Default::default() },
                "Range of blkio weight is from 10 to 1000",
            ),
            (
                HostConfig { oom_score_adj: 5000, ..Default::default() },
                "Invalid value 5000, range for oom score adj is [-1000, 1000]",
            ),
            (
                HostConfig { shm_size: -1, ..Default::default() },
                "SHM size can not be less than 0",
            ),
            (
                HostConfig { nano_cpus: i64::MAX, ..Default::default() },
                "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
            ),
            (
                HostConfig {
                    ulimits: vec![Ulimit { name: "bogus".into(), soft: 1, hard: 1 }],
                    ..Default::default()
                },
                "invalid ulimit type: bogus",
            ),
        ];
        for (host, message) in cases {
            assert_eq!(refused(host), message);
        }
        let relative = ContainerConfig {
            working_dir: "work".into(),
            ..Default::default()
        };
        assert_eq!(
            check(&relative, &mut HostConfig::default(), 2, FULL).unwrap_err(),
            "the working directory 'work' is invalid, it needs to be an absolute path"
        );
    }

    #[test]
    fn sound_values_pass_and_swap_defaults_to_twice_the_memory() {
        let mut host = HostConfig {
            memory: 64 << 20,
            nano_cpus: 1_500_000_000,
            cpu_shares: 512,
            blkio_weight: 300,
            ulimits: vec![Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048,
            }],
            ..Default::default()
        };
        let warnings = check(&ContainerConfig::default(), &mut host, 2, FULL).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(host.memory_swap, 128 << 20);
        assert_eq!(host.blkio_weight, 300);
        assert!(usable_cpus() >= 1);
    }

    #[test]
    fn limits_the_host_cannot_enforce_are_dropped_with_dockerds_warnings() {
        let mut host = HostConfig {
            memory: 64 << 20,
            memory_swap: 256 << 20,
            blkio_weight: 300,
            ..Default::default()
        };
        let none = CgroupSupport {
            swap_limit: false,
            blkio_weight: false,
            ..FULL
        };
        let warnings = check(&ContainerConfig::default(), &mut host, 2, none).unwrap();
        assert_eq!(
            warnings,
            [
                "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
                "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
            ]
        );
        assert_eq!((host.memory_swap, host.blkio_weight), (-1, 0));
    }
}
