//! What the host's cgroups can enforce, read from the cgroup file systems as dockerd's
//! pkg/sysinfo reads them: v1 by the files of each controller's hierarchy, v2 by the
//! controllers enabled for berthd's own cgroup. Create's checks and `/info` both use it.

use std::path::{Path, PathBuf};

/// The cgroup file systems' mount point.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// What the host's cgroups can enforce, as dockerd's sysinfo reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CgroupSupport {
    /// A memory limit (v1 memory hierarchy, v2 memory controller).
    pub memory_limit: bool,
    /// A memory+swap limit (v1 memory.memsw.*, v2 memory.swap.max).
    pub swap_limit: bool,
    /// A kernel TCP buffer limit (v1 memory.kmem.tcp.limit_in_bytes; v2 has none).
    pub kernel_memory_tcp: bool,
    /// Disabling the OOM killer (v1 memory.oom_control; v2 has none).
    pub oom_kill_disable: bool,
    /// CFS quota and period (v1 cpu.cfs_quota_us and cpu.cfs_period_us, v2 cpu controller).
    pub cpu_cfs: bool,
    /// CPU shares (v1 cpu.shares, v2 cpu controller's cpu.weight).
    pub cpu_shares: bool,
    /// cpuset (v1 cpuset hierarchy, v2 cpuset controller).
    pub cpuset: bool,
    /// A pids limit (v1 pids hierarchy, v2 pids controller).
    pub pids_limit: bool,
    /// A block I/O weight (v1 blkio.weight or blkio.bfq.weight, v2 io.weight).
    pub blkio_weight: bool,
    /// Per-device block I/O throttling: read bps, write bps, read iops, write iops
    /// (v1 blkio.throttle.*_device, v2 io controller's io.max).
    pub blkio_throttle: [bool; 4],
}

/// The v1 blkio throttle files, in [`CgroupSupport::blkio_throttle`]'s order.
const BLKIO_THROTTLE_FILES: [&str; 4] = [
    "blkio.throttle.read_bps_device",
    "blkio.throttle.write_bps_device",
    "blkio.throttle.read_iops_device",
    "blkio.throttle.write_iops_device",
];

impl CgroupSupport {
    /// A host that enforces every limit (for tests).
    #[cfg(test)]
    pub const ALL: CgroupSupport = CgroupSupport {
        memory_limit: true,
        swap_limit: true,
        kernel_memory_tcp: true,
        oom_kill_disable: true,
        cpu_cfs: true,
        cpu_shares: true,
        cpuset: true,
        pids_limit: true,
        blkio_weight: true,
        blkio_throttle: [true; 4],
    };

    /// Reads the host's cgroup file systems.
    pub fn read() -> CgroupSupport {
        let root = Path::new(CGROUP_ROOT);
        if is_unified(root) {
            let own = own_v2_cgroup();
            Self::from_v2(own.as_deref().unwrap_or(root))
        } else {
            Self::from_v1(root)
        }
    }

    /// A v1 (or hybrid) host: one hierarchy per controller under `root`.
    fn from_v1(root: &Path) -> CgroupSupport {
        let memory = root.join("memory");
        let cpu = root.join("cpu");
        let blkio = root.join("blkio");
        let cpu_cfs =
            cpu.join("cpu.cfs_quota_us").exists() && cpu.join("cpu.cfs_period_us").exists();
        CgroupSupport {
            memory_limit: memory.is_dir(),
            swap_limit: memory.join("memory.memsw.limit_in_bytes").exists(),
            kernel_memory_tcp: memory.join("memory.kmem.tcp.limit_in_bytes").exists(),
            oom_kill_disable: memory.join("memory.oom_control").exists(),
            cpu_cfs,
            cpu_shares: cpu.join("cpu.shares").exists(),
            cpuset: root.join("cpuset").is_dir(),
            pids_limit: root.join("pids").is_dir(),
            blkio_weight: blkio.join("blkio.weight").exists()
                || blkio.join("blkio.bfq.weight").exists(),
            blkio_throttle: BLKIO_THROTTLE_FILES.map(|file| blkio.join(file).exists()),
        }
    }

    /// A unified host: the controllers `cgroup.controllers` of berthd's cgroup lists.
    fn from_v2(own: &Path) -> CgroupSupport {
        let controllers = std::fs::read_to_string(own.join("cgroup.controllers"))
            .or_else(|_| std::fs::read_to_string(Path::new(CGROUP_ROOT).join("cgroup.controllers")))
            .unwrap_or_default();
        let has = |name: &str| controllers.split_whitespace().any(|c| c == name);
        let io = has("io");
        CgroupSupport {
            memory_limit: has("memory"),
            swap_limit: has("memory") && own.join("memory.swap.max").exists(),
            kernel_memory_tcp: false,
            oom_kill_disable: false,
            cpu_cfs: has("cpu"),
            cpu_shares: has("cpu"),
            cpuset: has("cpuset"),
            pids_limit: has("pids"),
            // berth-runtime writes io.bfq.weight or io.weight; blk-iocost or BFQ provides them.
            blkio_weight: io
                && (own.join("io.weight").exists() || own.join("io.bfq.weight").exists()),
            blkio_throttle: [io; 4],
        }
    }
}

/// Whether `root` is a cgroup2 mount (a unified host).
fn is_unified(root: &Path) -> bool {
    nix::sys::statfs::statfs(root)
        .is_ok_and(|stat| stat.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// berthd's own cgroup on a unified (v2-only) host: `0::/PATH` in /proc/self/cgroup.
fn own_v2_cgroup() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = text.lines().find_map(|line| line.strip_prefix("0::"))?;
    Some(Path::new(CGROUP_ROOT).join(path.trim_start_matches('/')))
}
