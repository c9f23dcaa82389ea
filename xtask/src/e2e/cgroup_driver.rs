//! The systemd cgroup driver on the e2e host: with `exec-opts: ["native.cgroupdriver=systemd"]`
//! in daemon.json, a container runs in the transient unit `berth-<id>.scope`, systemd reports it
//! active, the kernel holds its memory limit on the scope's cgroup, and the scope goes away when
//! the container stops. The driver stays on for the steps after this one.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::check;
use super::host::SystemdHost;

/// 64 MiB, as `--memory 64m` asks.
const MEMORY_LIMIT: u64 = 64 << 20;

pub fn systemd_scope(host: &SystemdHost) -> Result<()> {
    let text = host.must(&["cat", "/etc/berth/daemon.json"])?;
    let mut config: Value =
        serde_json::from_str(&text).context("/etc/berth/daemon.json in the host is not JSON")?;
    config
        .as_object_mut()
        .context("/etc/berth/daemon.json is not a JSON object")?
        .insert(
            "exec-opts".to_owned(),
            Value::from(vec!["native.cgroupdriver=systemd"]),
        );
    let text = serde_json::to_string_pretty(&config)? + "\n";
    println!("e2e: new /etc/berth/daemon.json:\n{text}");
    host.write_file("/etc/berth/daemon.json", text.as_bytes())?;
    host.must(&["systemctl", "restart", "berth"])?;

    check("`berth info` reports the systemd cgroup driver");
    let info = host.must(&["berth", "info"])?;
    if !info.contains("Cgroup Driver: systemd") {
        bail!("`berth info` does not show the systemd cgroup driver:\n{info}");
    }

    let id = host
        .must(&[
            "berth",
            "run",
            "-d",
            "--memory",
            "64m",
            "hello-world",
            "/bin/busybox",
            "sleep",
            "300",
        ])?
        .trim()
        .to_owned();
    let unit = format!("berth-{id}.scope");
    check(&format!("systemctl is-active {unit} = active"));
    let state = host.run(&["systemctl", "is-active", &unit])?.stdout;
    if state.trim() != "active" {
        bail!("{unit} is '{}', not active", state.trim());
    }

    check("the container's init is in the scope's memory cgroup, limited to 64 MiB");
    let inspect: Value = serde_json::from_str(&host.must(&["berth", "inspect", &id])?)
        .context("`berth inspect` did not print JSON")?;
    let pid = inspect[0]["State"]["Pid"]
        .as_i64()
        .filter(|pid| *pid > 0)
        .context("`berth inspect` shows no running pid")?;
    let cgroups = host.must(&["cat", &format!("/proc/{pid}/cgroup")])?;
    let memory = cgroups
        .lines()
        .find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == "memory")
                .then_some(path)
        })
        .context("the container's init is in no memory cgroup")?;
    if !memory.ends_with(&unit) {
        bail!("the container's memory cgroup is {memory}, not in {unit}");
    }
    let limit = host.must(&[
        "cat",
        &format!("/sys/fs/cgroup/memory{memory}/memory.limit_in_bytes"),
    ])?;
    if limit.trim().parse::<u64>().ok() != Some(MEMORY_LIMIT) {
        bail!(
            "memory.limit_in_bytes of {unit} is {}, not {MEMORY_LIMIT}",
            limit.trim()
        );
    }

    check(&format!("`berth stop` ends {unit}"));
    host.must(&["berth", "stop", "-t", "1", &id])?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = host.run(&["systemctl", "is-active", &unit])?.stdout;
        if state.trim() != "active" {
            break;
        }
        if Instant::now() > deadline {
            bail!("{unit} is still active after the container stopped");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    host.must(&["berth", "rm", &id])?;
    Ok(())
}
