//! Linux namespaces: which ones a container gets new (clone flags), which ones it joins by path
//! (setns), and which sysctls each namespace makes safe to set.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Context, Error, Result};

/// The namespace plan of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Namespaces created by `clone` (pid, net, ipc, uts, mount).
    pub clone_flags: CloneFlags,
    /// A new cgroup namespace, unshared by init once it sits in its cgroup.
    pub new_cgroup: bool,
    /// A pid namespace to join: entered by the parent thread around `clone`.
    pub join_pid: Option<PathBuf>,
    /// Other namespaces to join, entered by init.
    pub joins: Vec<(CloneFlags, PathBuf)>,
}

pub(crate) fn flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // Time namespaces are refused by validation; CLONE_NEWTIME is 0x80.
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

/// Works out the namespace plan from a validated spec.
pub(crate) fn plan(spec: &Spec) -> Plan {
    let mut plan = Plan {
        clone_flags: CloneFlags::empty(),
        new_cgroup: false,
        join_pid: None,
        joins: Vec::new(),
    };
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    for namespace in namespaces.into_iter().flatten() {
        let typ = namespace.typ();
        match (typ, namespace.path()) {
            (LinuxNamespaceType::Pid, Some(path)) => plan.join_pid = Some(path.clone()),
            (LinuxNamespaceType::Cgroup, None) => plan.new_cgroup = true,
            (_, Some(path)) => plan.joins.push((flag(typ), path.clone())),
            (_, None) => plan.clone_flags |= flag(typ),
        }
    }
    plan
}

/// Enters the namespace at `path` (a `/proc/PID/ns/TYPE` file or a bind mount of one).
pub(crate) fn enter(path: &Path, flag: CloneFlags) -> Result<()> {
    let file = File::open(path).ctx(|| format!("opening namespace {}", path.display()))?;
    nix::sched::setns(file, flag).ctx(|| format!("joining namespace {}", path.display()))
}

/// Enters all of `joins`: every file is opened first (a joined mount namespace would hide the
/// host's /proc), and the mount namespace is entered last.
pub(crate) fn enter_all(joins: &[(CloneFlags, PathBuf)]) -> Result<()> {
    let mut files = joins
        .iter()
        .map(|(flag, path)| {
            let file = File::open(path).ctx(|| format!("opening namespace {}", path.display()))?;
            Ok((*flag, path, file))
        })
        .collect::<Result<Vec<_>>>()?;
    files.sort_by_key(|(flag, _, _)| *flag == CloneFlags::CLONE_NEWNS);
    for (flag, path, file) in files {
        nix::sched::setns(file, flag).ctx(|| format!("joining namespace {}", path.display()))?;
    }
    Ok(())
}

/// Refuses sysctls that are not namespaced by a namespace the container has: setting them would
/// change the host.
pub(crate) fn check_sysctl(key: &str, namespaces: &HashSet<LinuxNamespaceType>) -> Result<()> {
    let field = format!("linux.sysctl.{key}");
    if key.is_empty()
        || key
            .split(['.', '/'])
            .any(|part| part.is_empty() || part == "..")
    {
        return Err(Error::spec(field, "not a valid sysctl name"));
    }
    let ipc_keys = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let needed = if key.starts_with("net.") {
        LinuxNamespaceType::Network
    } else if key.starts_with("fs.mqueue.") || ipc_keys.contains(&key) {
        LinuxNamespaceType::Ipc
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        LinuxNamespaceType::Uts
    } else {
        return Err(Error::spec(field, "is not namespaced; refusing to set it"));
    };
    if !namespaces.contains(&needed) {
        return Err(Error::spec(field, format!("needs a {needed} namespace")));
    }
    Ok(())
}

/// The `/proc/sys` file of a sysctl key.
pub(crate) fn sysctl_path(key: &str) -> PathBuf {
    Path::new("/proc/sys").join(key.replace('.', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctls_need_their_namespace() {
        let net: HashSet<_> = [LinuxNamespaceType::Network].into();
        assert!(check_sysctl("net.ipv4.ip_forward", &net).is_ok());
        assert!(check_sysctl("kernel.shmmax", &net).is_err());
        assert!(check_sysctl("vm.swappiness", &net).is_err());
        assert!(check_sysctl("net.../x", &net).is_err());
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward"),
            Path::new("/proc/sys/net/ipv4/ip_forward")
        );
    }

    #[test]
    fn plan_splits_new_and_joined() {
        let spec = crate::spec::default_spec();
        let plan = plan(&spec);
        assert!(plan.new_cgroup);
        assert!(plan
            .clone_flags
            .contains(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS));
        assert!(!plan.clone_flags.contains(CloneFlags::CLONE_NEWCGROUP));
        assert!(plan.joins.is_empty());
    }
}
