//! What `/info` reports about the host, read rather than assumed: the data-root's backing
//! filesystem, the cgroup limits the host can enforce, the forwarding sysctls, and dockerd's
//! warnings for what is missing.

use std::path::Path;

use crate::containers::cgroup_support::CgroupSupport;

/// dockerd's name for the filesystem holding `path` (graphdriver's FsNames, keyed by statfs
/// magic); "<unknown>" for one dockerd does not name, as dockerd reports it.
pub fn backing_filesystem(path: &Path) -> String {
    // The magic's C type differs between glibc (long) and musl (unsigned long).
    let magic = match nix::sys::statfs::statfs(path) {
        Ok(stat) => i128::from(stat.filesystem_type().0),
        Err(_) => return "<unknown>".to_owned(),
    };
    filesystem_name(magic).to_owned()
}

/// graphdriver.FsNames.
fn filesystem_name(magic: i128) -> &'static str {
    match magic {
        0x6175_6673 => "aufs",
        0x9123_683e => "btrfs",
        0x28cd_3d45 => "cramfs",
        0xf15f => "ecryptfs",
        0xef53 => "extfs",
        0xf2f5_2010 => "f2fs",
        0x4750_4653 => "gpfs",
        0x72b6 => "jffs2",
        0x3153_464a => "jfs",
        0x6969 => "nfs",
        0x794c_7630 => "overlayfs",
        0x8584_58f6 => "ramfs",
        0x5265_4973 => "reiserfs",
        0x517b => "smb",
        0x7371_7368 => "squashfs",
        0x0102_1994 => "tmpfs",
        0xa501_fcf5 => "vxfs",
        0x5846_5342 => "xfs",
        0x2fc1_2fc1 => "zfs",
        _ => "<unknown>",
    }
}

/// The storage driver's status pairs: overlay2 names its backing filesystem; vfs reports
/// nothing, as dockerd's vfs driver does.
pub fn driver_status(driver: &str, data_root: &Path) -> Vec<[String; 2]> {
    if driver == "vfs" {
        return Vec::new();
    }
    vec![[
        "Backing Filesystem".to_owned(),
        backing_filesystem(data_root),
    ]]
}

/// Whether the sysctl file under /proc/sys reads "1" (an absent one is off).
pub fn sysctl_on(name: &str) -> bool {
    std::fs::read_to_string(Path::new("/proc/sys").join(name))
        .is_ok_and(|value| value.trim() == "1")
}

/// The forwarding sysctls `/info` reports.
#[derive(Debug, Clone, Copy)]
pub struct Forwarding {
    pub ipv4: bool,
    pub bridge_nf_iptables: bool,
    pub bridge_nf_ip6tables: bool,
}

impl Forwarding {
    pub fn read() -> Forwarding {
        Forwarding {
            ipv4: sysctl_on("net/ipv4/ip_forward"),
            bridge_nf_iptables: sysctl_on("net/bridge/bridge-nf-call-iptables"),
            bridge_nf_ip6tables: sysctl_on("net/bridge/bridge-nf-call-ip6tables"),
        }
    }
}

/// dockerd's `/info` warnings (daemon/info_unix.go) for what the host lacks, in its order and
/// words; `cgroup_v2` picks the v2 wording and drops the v1-only checks, as dockerd does.
pub fn warnings(support: &CgroupSupport, forwarding: &Forwarding, cgroup_v2: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut warn = |missing: bool, text: &str| {
        if missing {
            out.push(format!("WARNING: {text}"));
        }
    };
    warn(!support.memory_limit, "No memory limit support");
    warn(!support.swap_limit, "No swap limit support");
    warn(
        !support.kernel_memory_tcp && !cgroup_v2,
        "No kernel memory TCP limit support",
    );
    warn(
        !support.oom_kill_disable && !cgroup_v2,
        "No oom kill disable support",
    );
    warn(!support.cpu_cfs, "No cpu cfs quota support");
    warn(!support.cpu_cfs, "No cpu cfs period support");
    warn(!support.cpu_shares, "No cpu shares support");
    warn(!support.cpuset, "No cpuset support");
    // Blkio weight went from v1 with kernel 5.0; dockerd warns about it on v2 only.
    warn(!support.blkio_weight && cgroup_v2, "No io.weight support");
    warn(
        !support.blkio_weight && cgroup_v2,
        "No io.weight (per device) support",
    );
    let throttles = if cgroup_v2 {
        [
            "io.max (rbps)",
            "io.max (wbps)",
            "io.max (riops)",
            "io.max (wiops)",
        ]
    } else {
        [
            "blkio throttle.read_bps_device",
            "blkio throttle.write_bps_device",
            "blkio throttle.read_iops_device",
            "blkio throttle.write_iops_device",
        ]
    };
    for (supported, name) in support.blkio_throttle.iter().zip(throttles) {
        warn(!supported, &format!("No {name} support"));
    }
    warn(!forwarding.ipv4, "IPv4 forwarding is disabled");
    warn(
        !forwarding.bridge_nf_iptables,
        "bridge-nf-call-iptables is disabled",
    );
    warn(
        !forwarding.bridge_nf_ip6tables,
        "bridge-nf-call-ip6tables is disabled",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filesystems_get_dockerds_names() {
        assert_eq!(filesystem_name(0xef53), "extfs");
        assert_eq!(filesystem_name(0x5846_5342), "xfs");
        assert_eq!(filesystem_name(0x0102_1994), "tmpfs");
        assert_eq!(filesystem_name(0x794c_7630), "overlayfs");
        assert_eq!(filesystem_name(0x1234), "<unknown>");
        assert_eq!(backing_filesystem(Path::new("/proc")), "<unknown>");
        assert_eq!(backing_filesystem(Path::new("/nonexistent/x")), "<unknown>");
    }

    #[test]
    fn vfs_claims_no_backing_filesystem() {
        assert!(driver_status("vfs", Path::new("/")).is_empty());
        assert_eq!(
            driver_status("overlay2", Path::new("/"))[0][0],
            "Backing Filesystem"
        );
    }

    #[test]
    fn warnings_name_exactly_what_is_missing() {
        let full = CgroupSupport::ALL;
        let on = Forwarding {
            ipv4: true,
            bridge_nf_iptables: true,
            bridge_nf_ip6tables: true,
        };
        assert!(warnings(&full, &on, false).is_empty());
        let no_swap = CgroupSupport {
            swap_limit: false,
            blkio_weight: false,
            ..full
        };
        assert_eq!(
            warnings(&no_swap, &on, false),
            ["WARNING: No swap limit support"]
        );
        assert_eq!(
            warnings(&no_swap, &on, true),
            [
                "WARNING: No swap limit support",
                "WARNING: No io.weight support",
                "WARNING: No io.weight (per device) support"
            ]
        );
        let off = Forwarding { ipv4: false, ..on };
        assert_eq!(
            warnings(&full, &off, false),
            ["WARNING: IPv4 forwarding is disabled"]
        );
    }
}
