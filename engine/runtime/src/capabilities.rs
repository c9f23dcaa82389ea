//! Linux capabilities: the five sets from `process.capabilities`, minus any capability the
//! host's bounding set lacks (dropped with a debug log, never demanded), applied with
//! prctl and capset.

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

use crate::error::{Error, Result};

/// The kernel's number for a capability.
pub(crate) fn number(cap: Capability) -> u32 {
    use Capability::*;
    match cap {
        Chown => 0,
        DacOverride => 1,
        DacReadSearch => 2,
        Fowner => 3,
        Fsetid => 4,
        Kill => 5,
        Setgid => 6,
        Setuid => 7,
        Setpcap => 8,
        LinuxImmutable => 9,
        NetBindService => 10,
        NetBroadcast => 11,
        NetAdmin => 12,
        NetRaw => 13,
        IpcLock => 14,
        IpcOwner => 15,
        SysModule => 16,
        SysRawio => 17,
        SysChroot => 18,
        SysPtrace => 19,
        SysPacct => 20,
        SysAdmin => 21,
        SysBoot => 22,
        SysNice => 23,
        SysResource => 24,
        SysTime => 25,
        SysTtyConfig => 26,
        Mknod => 27,
        Lease => 28,
        AuditWrite => 29,
        AuditControl => 30,
        Setfcap => 31,
        MacOverride => 32,
        MacAdmin => 33,
        Syslog => 34,
        WakeAlarm => 35,
        BlockSuspend => 36,
        AuditRead => 37,
        Perfmon => 38,
        Bpf => 39,
        CheckpointRestore => 40,
    }
}

/// The five capability sets as bit masks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Sets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// Whether the calling process's bounding set holds capability `cap` (false past the last
/// capability the kernel knows).
fn host_has(cap: u32) -> bool {
    // SAFETY: PR_CAPBSET_READ only reads.
    unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) == 1 }
}

/// Resolves the spec's sets against the host's bounding set. No capabilities in the spec
/// means none at all, as with runc.
pub(crate) fn resolve(caps: Option<&LinuxCapabilities>) -> Sets {
    resolve_with(caps, host_has)
}

fn resolve_with(caps: Option<&LinuxCapabilities>, host_has: impl Fn(u32) -> bool) -> Sets {
    let Some(caps) = caps else {
        return Sets::default();
    };
    let mask = |name: &str, set: &Option<Capabilities>| -> u64 {
        let mut bits = 0;
        for cap in set.iter().flatten() {
            let bit = number(*cap);
            if host_has(bit) {
                bits |= 1 << bit;
            } else {
                tracing::debug!(capability = %format!("CAP_{cap}"), set = name, "not in the host bounding set, dropped");
            }
        }
        bits
    };
    Sets {
        bounding: mask("bounding", caps.bounding()),
        effective: mask("effective", caps.effective()),
        permitted: mask("permitted", caps.permitted()),
        inheritable: mask("inheritable", caps.inheritable()),
        ambient: mask("ambient", caps.ambient()),
    }
}

/// Drops every capability outside `sets.bounding` from the bounding set (needs CAP_SETPCAP,
/// so it runs before the user switch).
pub(crate) fn apply_bounding(sets: &Sets) -> Result<()> {
    for cap in 0..64u32 {
        if !host_has(cap) {
            if cap > 40 {
                break;
            }
            continue;
        }
        if sets.bounding & (1 << cap) == 0 {
            // SAFETY: PR_CAPBSET_DROP takes a capability number.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } < 0 {
                return Err(sys_error(format!(
                    "dropping capability {cap} from the bounding set"
                )));
            }
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Sets the effective, permitted and inheritable sets, then raises the ambient ones.
pub(crate) fn apply_sets(sets: &Sets) -> Result<()> {
    let header = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let word = |mask: u64, high: bool| {
        if high {
            (mask >> 32) as u32
        } else {
            mask as u32
        }
    };
    let data = [false, true].map(|high| CapData {
        effective: word(sets.effective, high),
        permitted: word(sets.permitted, high),
        inheritable: word(sets.inheritable, high),
    });
    // SAFETY: capset reads a v3 header and two data structs, which we pass.
    if unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) } < 0 {
        return Err(sys_error("setting process capabilities".to_owned()));
    }
    for cap in (0..64u32).filter(|cap| sets.ambient & (1 << cap) != 0) {
        // SAFETY: PR_CAP_AMBIENT_RAISE takes a capability number.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                cap as libc::c_ulong,
                0,
                0,
            )
        };
        if rc < 0 {
            // Kernels before 4.3 have no ambient capabilities.
            tracing::debug!(cap, err = %nix::errno::Errno::last(), "cannot raise ambient capability");
        }
    }
    Ok(())
}

fn sys_error(context: String) -> Error {
    Error::Sys {
        context,
        errno: nix::errno::Errno::last(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxCapabilitiesBuilder;

    #[test]
    fn caps_missing_on_the_host_are_dropped() {
        let set: Capabilities =
            [Capability::Chown, Capability::SysResource, Capability::Kill].into();
        let caps = LinuxCapabilitiesBuilder::default()
            .bounding(set.clone())
            .effective(set)
            .ambient(Capabilities::new())
            .build()
            .unwrap();
        let sets = resolve_with(Some(&caps), |cap| cap != 24);
        assert_eq!(sets.bounding, (1 << 0) | (1 << 5));
        assert_eq!(sets.effective, sets.bounding);
        assert_eq!(sets.ambient, 0);
        assert_eq!(resolve_with(None, |_| true), Sets::default());
    }
}
