//! The systemd cgroup driver (`exec-opts: ["native.cgroupdriver=systemd"]`), as runc's: a
//! container's cgroup is the transient unit `berth-<id>.scope` in `system.slice`, under
//! systemd's own cgroup. berth-runtime makes the cgroup and writes the limits as usual; berthd
//! then starts the scope with the container's init in it (StartTransientUnit over D-Bus, with
//! Delegate and the same limits as unit properties, so systemd keeps rather than resets them),
//! and systemd tracks, accounts and cleans up the container like any unit.

mod dbus;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use berth_api::container::HostConfig;

use dbus::{Arg, Call, Connection, Reply, Value};

/// systemd's private socket: a direct connection to PID 1, no bus daemon needed (root only).
const PRIVATE_SOCKET: &str = "/run/systemd/private";
/// The system bus, when the private socket is missing.
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
const SLICE: &str = "system.slice";

/// The unit name of container `id`.
pub fn scope_name(id: &str) -> String {
    format!("berth-{id}.scope")
}

/// The cgroup path (relative to each hierarchy's root) the scope of `id` will have.
pub fn cgroups_path(id: &str) -> PathBuf {
    let proc1 = std::fs::read_to_string("/proc/1/cgroup").unwrap_or_default();
    systemd_root(&proc1).join(SLICE).join(scope_name(id))
}

/// systemd's own cgroup, from PID 1's /proc/<pid>/cgroup: the `name=systemd` hierarchy on
/// cgroup v1, the unified one (`0::`) on v2; `/` when neither is listed. It is not `/` when
/// systemd itself runs in a container.
fn systemd_root(proc_cgroup: &str) -> PathBuf {
    let mut unified = None;
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next(), parts.next());
        match (controllers, path) {
            (Some("name=systemd"), Some(path)) => return PathBuf::from(path),
            (Some(""), Some(path)) => unified = Some(PathBuf::from(path)),
            _ => {}
        }
    }
    // A v2 PID 1 sits in its own init.scope; units live beside it.
    unified
        .map(|path| {
            if path.ends_with("init.scope") {
                path.parent().map(Path::to_path_buf).unwrap_or(path)
            } else {
                path
            }
        })
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// The unit properties of the scope: delegated, with `pid` in it and `host`'s limits.
fn properties(id: &str, pid: u32, host: &HostConfig, with_tasks_max: bool) -> Vec<(String, Value)> {
    let mut properties = vec![
        (
            "Description".to_owned(),
            Value::Str(format!("berth container {id}")),
        ),
        ("Slice".to_owned(), Value::Str(SLICE.to_owned())),
        ("Delegate".to_owned(), Value::Bool(true)),
        ("DefaultDependencies".to_owned(), Value::Bool(false)),
        ("PIDs".to_owned(), Value::U32Array(vec![pid])),
    ];
    if host.memory > 0 {
        properties.push(("MemoryLimit".to_owned(), Value::U64(host.memory as u64)));
    }
    if host.cpu_shares > 0 {
        properties.push(("CPUShares".to_owned(), Value::U64(host.cpu_shares as u64)));
    }
    if host.nano_cpus > 0 {
        // One CPU is 1e9 nano-CPUs, and a full second of CPU time per second.
        properties.push((
            "CPUQuotaPerSecUSec".to_owned(),
            Value::U64(host.nano_cpus as u64 / 1000),
        ));
    }
    if with_tasks_max {
        if let Some(limit) = host.pids_limit.filter(|limit| *limit > 0) {
            properties.push(("TasksMax".to_owned(), Value::U64(limit as u64)));
        }
    }
    properties
}

fn connect() -> Result<Connection> {
    match Connection::open(Path::new(PRIVATE_SOCKET)) {
        Ok(connection) => Ok(connection),
        Err(private) => Connection::open_bus(Path::new(SYSTEM_BUS)).with_context(|| {
            format!("cannot reach systemd ({PRIVATE_SOCKET}: {private:#}; or the system bus)")
        }),
    }
}

fn manager_call(member: &str, args: Vec<Arg>) -> Call<'_> {
    Call {
        destination: Some("org.freedesktop.systemd1"),
        path: "/org/freedesktop/systemd1",
        interface: "org.freedesktop.systemd1.Manager",
        member,
        args,
    }
}

/// Starts `berth-<id>.scope` around the container's init `pid`, then waits until systemd has
/// moved it in.
pub fn start_scope(id: &str, pid: u32, host: &HostConfig) -> Result<()> {
    let unit = scope_name(id);
    let mut connection = connect()?;
    let mut with_tasks_max = true;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let call = manager_call(
            "StartTransientUnit",
            vec![
                Arg::Str(unit.clone()),
                Arg::Str("replace".to_owned()),
                Arg::Properties(properties(id, pid, host, with_tasks_max)),
                Arg::NoAuxUnits,
            ],
        );
        match connection.call(&call)? {
            Reply::Return(_) => break,
            // systemd before 227 knows no TasksMax; the runtime's pids.max still applies.
            Reply::Error { message, .. } if with_tasks_max && message.contains("TasksMax") => {
                with_tasks_max = false;
            }
            // The scope of an earlier run of this container has not gone yet.
            Reply::Error { name, .. }
                if name.ends_with("UnitExists") && Instant::now() < deadline =>
            {
                let stop = manager_call(
                    "StopUnit",
                    vec![Arg::Str(unit.clone()), Arg::Str("replace".to_owned())],
                );
                let _ = connection.call(&stop)?;
                std::thread::sleep(Duration::from_millis(50));
            }
            Reply::Error { name, message } => {
                bail!("systemd refused to start {unit}: {name}: {message}")
            }
        }
    }
    let proc_cgroup = PathBuf::from(format!("/proc/{pid}/cgroup"));
    loop {
        let text = std::fs::read_to_string(&proc_cgroup).unwrap_or_default();
        if text.lines().any(|line| line.ends_with(&unit)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("systemd started {unit} but process {pid} is not in it: {text}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemds_root_comes_from_pid_1() {
        let v1 = "12:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n";
        assert_eq!(systemd_root(v1), PathBuf::from("/docker/abc"));
        assert_eq!(systemd_root("1:name=systemd:/\n"), PathBuf::from("/"));
        assert_eq!(systemd_root("0::/init.scope\n"), PathBuf::from("/"));
        assert_eq!(systemd_root(""), PathBuf::from("/"));
    }

    #[test]
    fn limits_become_unit_properties() {
        let host = HostConfig {
            memory: 64 << 20,
            nano_cpus: 1_500_000_000,
            cpu_shares: 512,
            pids_limit: Some(100),
            ..HostConfig::default()
        };
        let all = properties("abc", 42, &host, true);
        let get = |name: &str| {
            all.iter()
                .find(|(key, _)| key == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("PIDs"), Some(Value::U32Array(vec![42])));
        assert_eq!(get("Delegate"), Some(Value::Bool(true)));
        assert_eq!(get("MemoryLimit"), Some(Value::U64(64 << 20)));
        assert_eq!(get("CPUQuotaPerSecUSec"), Some(Value::U64(1_500_000)));
        assert_eq!(get("CPUShares"), Some(Value::U64(512)));
        assert_eq!(get("TasksMax"), Some(Value::U64(100)));
        let old_systemd = properties("abc", 42, &host, false);
        assert!(!old_systemd.iter().any(|(key, _)| key == "TasksMax"));
        let plain = properties("abc", 42, &HostConfig::default(), true);
        assert_eq!(plain.len(), 5);
    }
}
