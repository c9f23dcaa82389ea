//! `process.rlimits`: resource limits set on init before it execs the user's process.

use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use nix::sys::resource::{setrlimit, Resource};

use crate::error::{Context, Result};

fn resource(typ: PosixRlimitType) -> Resource {
    use PosixRlimitType::*;
    match typ {
        RlimitCpu => Resource::RLIMIT_CPU,
        RlimitFsize => Resource::RLIMIT_FSIZE,
        RlimitData => Resource::RLIMIT_DATA,
        RlimitStack => Resource::RLIMIT_STACK,
        RlimitCore => Resource::RLIMIT_CORE,
        RlimitRss => Resource::RLIMIT_RSS,
        RlimitNproc => Resource::RLIMIT_NPROC,
        RlimitNofile => Resource::RLIMIT_NOFILE,
        RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        RlimitAs => Resource::RLIMIT_AS,
        RlimitLocks => Resource::RLIMIT_LOCKS,
        RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        RlimitNice => Resource::RLIMIT_NICE,
        RlimitRtprio => Resource::RLIMIT_RTPRIO,
        RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// Applies every limit; an error names the entry.
pub(crate) fn apply(rlimits: &[PosixRlimit]) -> Result<()> {
    for (index, rlimit) in rlimits.iter().enumerate() {
        setrlimit(resource(rlimit.typ()), rlimit.soft(), rlimit.hard())
            .ctx(|| format!("process.rlimits[{index}] ({})", rlimit.typ()))?;
    }
    Ok(())
}
