//! A container's privileges as Docker decides them: the capability set (Docker's default set
//! with `CapAdd` and `CapDrop` applied, then cut to the host's bounding set), the seccomp profile
//! (Docker's default allow-list, a profile passed as `--security-opt seccomp=<json>`, or none
//! with `seccomp=unconfined`), `no-new-privileges`, and `--privileged` (every capability the
//! host has, no seccomp).
//!
//! Seccomp profiles use Docker's JSON format, whose rules can depend on capabilities, the
//! architecture and the kernel version; they are resolved here into a plain OCI
//! `linux.seccomp`. The built-in default profile lives in [`default_profile`].

mod default_profile;

use std::collections::BTreeSet;

use berth_api::container::HostConfig;
use berth_runtime::oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscallBuilder,
};
use serde::Deserialize;

pub use default_profile::default_profile;

/// Every capability the kernel defines, by bit number.
const ALL_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Docker's default capability set.
const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SYS_CHROOT",
    "CAP_MKNOD",
    "CAP_AUDIT_WRITE",
    "CAP_SETFCAP",
];

/// A request whose privileges cannot be granted as asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecurityError {
    #[error("invalid {field}: unknown capability: \"{name}\"")]
    UnknownCapability { field: &'static str, name: String },
    #[error("invalid --security-opt: \"{0}\"")]
    InvalidOption(String),
    #[error("decoding seccomp profile failed: {0}")]
    InvalidProfile(String),
}

/// What a container may do, ready for its OCI spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Privileges {
    /// Capability names (`CAP_…`): bounding, effective and permitted set.
    pub capabilities: BTreeSet<String>,
    /// The seccomp filter; `None` for `seccomp=unconfined`.
    pub seccomp: Option<LinuxSeccomp>,
    pub no_new_privileges: bool,
}

/// The facts about this host that privileges depend on.
#[derive(Debug, Clone, Copy)]
pub struct HostFacts {
    /// The bounding set of berthd (CapBnd): a capability outside it cannot be granted.
    pub bounding_set: u64,
    /// The running kernel's (major, minor) version.
    pub kernel: (u32, u32),
}

impl HostFacts {
    /// Reads CapBnd from /proc/self/status and the kernel release from uname.
    pub fn read() -> HostFacts {
        let bounding_set = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("CapBnd:"))
                    .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            })
            .unwrap_or(u64::MAX);
        let kernel = nix::sys::utsname::uname()
            .ok()
            .and_then(|uts| parse_kernel_version(&uts.release().to_string_lossy()))
            .unwrap_or((0, 0));
        HostFacts {
            bounding_set,
            kernel,
        }
    }
}

/// "6.1.0-18-amd64" → (6, 1).
fn parse_kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Decides the privileges of a container created with `host`, as Docker does.
pub fn resolve(host: &HostConfig, facts: HostFacts) -> Result<Privileges, SecurityError> {
    let mut seccomp_option = None;
    let mut no_new_privileges = false;
    for option in &host.security_opt {
        let (key, value) = option
            .split_once(['=', ':'])
            .unwrap_or((option.as_str(), ""));
        match (key, value) {
            ("no-new-privileges", "" | "true") => no_new_privileges = true,
            ("no-new-privileges", "false") => no_new_privileges = false,
            ("seccomp", profile) if !profile.is_empty() => seccomp_option = Some(profile),
            // AppArmor and SELinux are not in use on the hosts berth targets: accepted, no-op,
            // as dockerd does when the LSM is disabled.
            ("apparmor" | "label", _) => {}
            _ => return Err(SecurityError::InvalidOption(option.clone())),
        }
    }

    // `--privileged` gets every capability the host has (CapAdd and CapDrop do not apply)
    // and no seccomp filter, as with dockerd; the spec also drops the masked paths and opens
    // every device.
    let capabilities = if host.privileged {
        let all = [String::from("ALL")];
        capabilities(&all, &[], facts.bounding_set)?
    } else {
        capabilities(&host.cap_add, &host.cap_drop, facts.bounding_set)?
    };
    let seccomp = match seccomp_option {
        _ if host.privileged => None,
        Some("unconfined") => None,
        Some(json) => {
            let profile: Profile = serde_json::from_str(json)
                .map_err(|e| SecurityError::InvalidProfile(e.to_string()))?;
            Some(profile.resolve(&capabilities, facts.kernel)?)
        }
        None => Some(default_profile().resolve(&capabilities, facts.kernel)?),
    };
    Ok(Privileges {
        capabilities,
        seccomp,
        no_new_privileges,
    })
}

/// Docker's default set, plus `add`, minus `drop` ("ALL" allowed in either), cut to the
/// host's bounding set. Names may omit the CAP_ prefix and use any case.
fn capabilities(
    add: &[String],
    drop: &[String],
    bounding_set: u64,
) -> Result<BTreeSet<String>, SecurityError> {
    let normalize = |field: &'static str, names: &[String]| {
        names
            .iter()
            .map(|name| {
                let upper = name.to_ascii_uppercase();
                if upper == "ALL" {
                    return Ok(upper);
                }
                let full = if upper.starts_with("CAP_") {
                    upper
                } else {
                    format!("CAP_{upper}")
                };
                if ALL_CAPABILITIES.contains(&full.as_str()) {
                    Ok(full)
                } else {
                    Err(SecurityError::UnknownCapability {
                        field,
                        name: name.clone(),
                    })
                }
            })
            .collect::<Result<BTreeSet<String>, _>>()
    };
    let add = normalize("CapAdd", add)?;
    let drop = normalize("CapDrop", drop)?;
    let mut set: BTreeSet<String> = if drop.contains("ALL") {
        BTreeSet::new()
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .map(|name| (*name).to_owned())
            .filter(|name| !drop.contains(name))
            .collect()
    };
    if add.contains("ALL") {
        set.extend(
            ALL_CAPABILITIES
                .iter()
                .map(|name| (*name).to_owned())
                .filter(|name| !drop.contains(name)),
        );
    } else {
        // An explicit add wins over a drop of ALL (`--cap-drop ALL --cap-add NET_RAW`).
        set.extend(
            add.into_iter()
                .filter(|name| !drop.contains(name) || name == "ALL"),
        );
    }
    set.retain(|name| {
        ALL_CAPABILITIES
            .iter()
            .position(|known| known == name)
            .is_some_and(|bit| bit < 64 && bounding_set & (1u64 << bit) != 0)
    });
    Ok(set)
}

/// A seccomp profile in Docker's JSON format.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: LinuxSeccompAction,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub syscalls: Vec<Rule>,
}

/// One rule: syscalls, an action, argument conditions, and when it applies.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub names: Vec<String>,
    /// The older single-name form.
    #[serde(default)]
    pub name: Option<String>,
    pub action: LinuxSeccompAction,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Vec<Arg>,
    /// The rule applies only when all of these hold...
    #[serde(default)]
    pub includes: Condition,
    /// ...and none of these.
    #[serde(default)]
    pub excludes: Condition,
}

/// `includes`/`excludes`: capabilities held, architectures, minimum kernel.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(default)]
    pub caps: Vec<String>,
    #[serde(default)]
    pub arches: Vec<String>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// A condition on one syscall argument.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: usize,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: LinuxSeccompOperator,
}

/// Docker's names for this build's architecture.
fn native_arches() -> &'static [&'static str] {
    if cfg!(target_arch = "x86_64") {
        &["amd64", "x86_64", "SCMP_ARCH_X86_64"]
    } else if cfg!(target_arch = "aarch64") {
        &["arm64", "aarch64", "SCMP_ARCH_AARCH64"]
    } else {
        &[]
    }
}

impl Condition {
    fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }

    /// Whether every part of the condition holds (caps all held, arch listed, kernel recent).
    fn holds(
        &self,
        capabilities: &BTreeSet<String>,
        kernel: (u32, u32),
    ) -> Result<bool, SecurityError> {
        let caps = self.caps.iter().all(|cap| capabilities.contains(cap));
        let arch = self.arches.is_empty() || self.names_this_arch();
        let recent = self.min_kernel_reached(kernel)?.unwrap_or(true);
        Ok(caps && arch && recent)
    }

    /// Whether any part of the condition holds (a cap held, arch listed, kernel recent).
    fn any_holds(
        &self,
        capabilities: &BTreeSet<String>,
        kernel: (u32, u32),
    ) -> Result<bool, SecurityError> {
        let caps = self.caps.iter().any(|cap| capabilities.contains(cap));
        let recent = self.min_kernel_reached(kernel)?.unwrap_or(false);
        Ok(caps || self.names_this_arch() || recent)
    }

    fn names_this_arch(&self) -> bool {
        self.arches
            .iter()
            .any(|arch| native_arches().contains(&arch.as_str()))
    }

    /// `None` without a minKernel.
    fn min_kernel_reached(&self, kernel: (u32, u32)) -> Result<Option<bool>, SecurityError> {
        let Some(min) = &self.min_kernel else {
            return Ok(None);
        };
        let wanted = parse_kernel_version(min).ok_or_else(|| {
            SecurityError::InvalidProfile(format!("minKernel: invalid kernel version {min}"))
        })?;
        Ok(Some(kernel >= wanted))
    }
}

impl Profile {
    /// The OCI filter for a container holding `capabilities` on a `kernel`.
    pub fn resolve(
        &self,
        capabilities: &BTreeSet<String>,
        kernel: (u32, u32),
    ) -> Result<LinuxSeccomp, SecurityError> {
        let invalid = |e: String| SecurityError::InvalidProfile(e);
        let mut syscalls = Vec::new();
        for (index, rule) in self.syscalls.iter().enumerate() {
            if !rule.includes.holds(capabilities, kernel)? {
                continue;
            }
            if !rule.excludes.is_empty() && rule.excludes.any_holds(capabilities, kernel)? {
                continue;
            }
            let names: Vec<String> = rule.names.iter().chain(rule.name.iter()).cloned().collect();
            if names.is_empty() {
                return Err(invalid(format!("syscalls[{index}]: no names")));
            }
            let mut args = Vec::new();
            for arg in &rule.args {
                if arg.index > 5 {
                    return Err(invalid(format!(
                        "syscalls[{index}].args: index {} is not a syscall argument (0-5)",
                        arg.index
                    )));
                }
                args.push(
                    LinuxSeccompArgBuilder::default()
                        .index(arg.index)
                        .value(arg.value)
                        .value_two(arg.value_two)
                        .op(arg.op)
                        .build()
                        .map_err(|e| invalid(e.to_string()))?,
                );
            }
            let mut syscall = LinuxSyscallBuilder::default()
                .names(names)
                .action(rule.action)
                .args(args);
            if let Some(errno) = rule.errno_ret {
                syscall = syscall.errno_ret(errno);
            }
            syscalls.push(syscall.build().map_err(|e| invalid(e.to_string()))?);
        }
        let mut profile = LinuxSeccompBuilder::default()
            .default_action(self.default_action)
            .syscalls(syscalls);
        if let Some(errno) = self.default_errno_ret {
            profile = profile.default_errno_ret(errno);
        }
        profile.build().map_err(|e| invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests;
