//! 20 `berth run --rm hello-world` at once all succeed and leave no mounts, cgroups or
//! processes behind.

mod support;

use std::process::Stdio;

use support::registry::{Registry, HELLO_MESSAGE};
use support::Daemon;

/// Container ids from berthd's debug log.
fn started_ids(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains("container started"))
        .filter_map(|line| line.split("container=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn twenty_parallel_runs_leave_nothing_behind() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &["-D"]);
    daemon.pull("hello-world");
    let children: Vec<_> = (0..20)
        .map(|_| {
            daemon
                .berth()
                .args(["run", "--rm", "hello-world"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains(HELLO_MESSAGE),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let ids = started_ids(&daemon.log());
    assert_eq!(ids.len(), 20, "{}", daemon.log());

    let listed = daemon.berth().args(["ps", "-aq"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "");
    let dir = daemon.dir.path().display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&dir), "mounts left under {dir}");
    for controller in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for id in &ids {
            let cgroup = controller.path().join("berth").join(id);
            assert!(!cgroup.exists(), "cgroup left: {}", cgroup.display());
        }
    }
    // A container's processes sit in its cgroup (their /proc/PID/root reads "/" after
    // pivot_root, so the cgroup is what identifies them).
    for process in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cgroups) = std::fs::read_to_string(process.path().join("cgroup")) {
            for id in &ids {
                assert!(
                    !cgroups.contains(id.as_str()),
                    "process {:?} of container {id} still runs",
                    process.file_name()
                );
            }
        }
    }
}
