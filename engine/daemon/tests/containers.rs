//! Containers through berthd with images pulled from a real registry mirror: the real docker
//! CLI (`run --rm`, `run -d` + logs + ps + stop + rm, rmi), API errors, restart policies, and
//! a berthd restart and kill -9 reconciled without leaks.

mod support;

use std::time::Duration;

use support::registry::{Registry, HELLO_MESSAGE};
use support::{ok, Daemon};

fn start_with_mirror(registry: &Registry) -> Daemon {
    Daemon::start(&registry.mirror_config(), &[])
}

/// Mounts under the daemon's directory still present.
fn mounts_under(dir: &std::path::Path) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.display().to_string();
    mounts
        .lines()
        .filter(|line| line.contains(&dir))
        .map(str::to_owned)
        .collect()
}

/// cgroup directories of containers left under any `berth/` parent for these ids.
fn cgroups_of(ids: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    for controller in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for id in ids {
            let path = controller.path().join("berth").join(id);
            if path.exists() {
                left.push(path.display().to_string());
            }
        }
    }
    left
}

#[test]
fn berth_run_rm_hello_world_pulls_through_the_mirror() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    let output = daemon
        .berth()
        .args(["run", "--rm", "hello-world"])
        .output()
        .unwrap();
    let stdout = ok(output);
    assert!(stdout.contains(HELLO_MESSAGE), "{stdout}");
    let ps = ok(daemon.berth().args(["ps", "-aq"]).output().unwrap());
    assert_eq!(ps.trim(), "", "--rm removed the container");
    assert!(mounts_under(daemon.dir.path()).is_empty());

    // run exits with the container's exit code.
    let status = daemon
        .berth()
        .args([
            "run",
            "--rm",
            "--entrypoint",
            "/bin/sh",
            "hello-world",
            "-c",
            "exit 7",
        ])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(7));
}

#[test]
fn docker_cli_run_logs_ps_stop_rm_rmi() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    let stdout = ok(daemon
        .docker()
        .args(["run", "--rm", "hello-world"])
        .output()
        .unwrap());
    assert!(stdout.contains(HELLO_MESSAGE), "{stdout}");

    let id = ok(daemon
        .docker()
        .args([
            "run",
            "-d",
            "--name",
            "ticker",
            "--entrypoint",
            "/bin/sh",
            "hello-world",
            "-c",
            "echo started; echo oops >&2; sleep 300",
        ])
        .output()
        .unwrap());
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 64, "{id}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let logs = daemon.docker().args(["logs", "ticker"]).output().unwrap();
        let (out, err) = (
            String::from_utf8_lossy(&logs.stdout).into_owned(),
            String::from_utf8_lossy(&logs.stderr).into_owned(),
        );
        if out.contains("started") && err.contains("oops") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "logs: {out} / {err}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ps = ok(daemon.docker().args(["ps", "-a"]).output().unwrap());
    assert!(ps.contains("ticker") && ps.contains("Up "), "{ps}");
    let inspect = daemon
        .request("GET", "/v1.44/containers/ticker/json", None)
        .json();
    assert_eq!(inspect["State"]["Running"], true);
    assert!(
        !cgroups_of(std::slice::from_ref(&id)).is_empty(),
        "container has a cgroup under berth/"
    );

    // rm of a running container is a 409; rmi of a used image too.
    let refused = daemon.docker().args(["rm", "ticker"]).output().unwrap();
    assert!(!refused.status.success());
    let refused = daemon
        .docker()
        .args(["rmi", "hello-world"])
        .output()
        .unwrap();
    assert!(!refused.status.success());

    ok(daemon
        .docker()
        .args(["stop", "-t", "1", "ticker"])
        .output()
        .unwrap());
    let ps = ok(daemon.docker().args(["ps", "-a"]).output().unwrap());
    assert!(
        ps.contains("Exited (137)") || ps.contains("Exited (143)"),
        "{ps}"
    );
    ok(daemon.docker().args(["rm", "ticker"]).output().unwrap());
    ok(daemon
        .docker()
        .args(["rmi", "hello-world"])
        .output()
        .unwrap());
    assert!(cgroups_of(&[id]).is_empty(), "cgroup removed");
    assert!(mounts_under(daemon.dir.path()).is_empty());
}

#[test]
fn api_errors_and_bridge_refusal() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    let missing = daemon.request(
        "POST",
        "/v1.44/containers/create",
        Some(br#"{"Image":"hello-world"}"#),
    );
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json()["message"],
        "No such image: hello-world:latest"
    );
    daemon.pull("hello-world");

    let bad_json = daemon.request("POST", "/v1.44/containers/create", Some(b"{not json"));
    assert_eq!(bad_json.status, 400);
    assert_eq!(bad_json.header("Content-Type"), Some("application/json"));
    let huge = vec![b' '; 2 << 20];
    let too_big = daemon.request("POST", "/v1.44/containers/create", Some(&huge));
    assert_eq!(too_big.status, 413);
    let bridge = daemon.request(
        "POST",
        "/v1.44/containers/create",
        Some(br#"{"Image":"hello-world","HostConfig":{"NetworkMode":"bridge"}}"#),
    );
    assert_eq!(bridge.status, 400);
    assert!(
        bridge.text().contains("bridge networking is not supported"),
        "{}",
        bridge.text()
    );
    let nobody = daemon.request("POST", "/v1.44/containers/nothere/start", None);
    assert_eq!(nobody.status, 404);
    assert_eq!(nobody.json()["message"], "No such container: nothere");
    // Still serving after all that.
    assert_eq!(daemon.request("GET", "/_ping", None).status, 200);

    let created = ok(daemon
        .berth()
        .args(["create", "--name", "dup", "hello-world"])
        .output()
        .unwrap());
    assert_eq!(created.trim().len(), 64);
    let again = daemon
        .berth()
        .args(["create", "--name", "dup", "hello-world"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is already in use"));
}

#[test]
fn restart_keeps_containers_and_kill_9_is_reconciled() {
    let registry = Registry::with_hello_world();
    let config = registry.mirror_config();
    let daemon = Daemon::start(&config, &[]);
    ok(daemon
        .berth()
        .args(["run", "--name", "done", "hello-world"])
        .output()
        .unwrap());
    let id = ok(daemon
        .berth()
        .args([
            "run",
            "-d",
            "--name",
            "sleeper",
            "--entrypoint",
            "/bin/sleep",
            "hello-world",
            "300",
        ])
        .output()
        .unwrap())
    .trim()
    .to_owned();
    let inspect = daemon
        .request("GET", "/v1.44/containers/sleeper/json", None)
        .json();
    let pid = inspect["State"]["Pid"].as_i64().unwrap();
    assert!(pid > 0);

    // kill -9 berthd while the container runs, then start it again on the same data-root.
    support::signal(daemon.child.id(), libc::SIGKILL);
    let mut daemon = daemon;
    support::wait_exit(&mut daemon.child, Duration::from_secs(10));
    let dir = std::mem::replace(&mut daemon.dir, tempfile::tempdir().unwrap());
    drop(daemon);
    let daemon = Daemon::start_in(dir, &config, &[]);
    let ps = ok(daemon.berth().args(["ps", "-a"]).output().unwrap());
    assert!(ps.contains("done") && ps.contains("sleeper"), "{ps}");
    let inspect = daemon
        .request("GET", "/v1.44/containers/sleeper/json", None)
        .json();
    assert_eq!(inspect["State"]["Running"], false, "{inspect}");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "orphan reaped"
    );
    assert!(
        cgroups_of(std::slice::from_ref(&id)).is_empty(),
        "no leaked cgroup"
    );
    let merged = daemon
        .dir
        .path()
        .join("data/image/containers")
        .join(&id)
        .join("merged");
    assert!(
        !mounts_under(daemon.dir.path())
            .iter()
            .any(|m| m.contains(&id)),
        "no leaked mount of {}",
        merged.display()
    );
    // A plain restart keeps both, and the reconciled container starts again.
    let (code, dir) = daemon.stop();
    assert_eq!(code, 0);
    let daemon = Daemon::start_in(dir, &config, &[]);
    ok(daemon.berth().args(["start", "sleeper"]).output().unwrap());
    ok(daemon
        .berth()
        .args(["rm", "-f", "sleeper", "done"])
        .output()
        .unwrap());
    assert!(cgroups_of(&[id]).is_empty());
}

#[test]
fn restart_policy_on_failure_retries() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    ok(daemon
        .berth()
        .args([
            "run",
            "-d",
            "--name",
            "flaky",
            "--restart",
            "on-failure:2",
            "--entrypoint",
            "/bin/sh",
            "hello-world",
            "-c",
            "exit 3",
        ])
        .output()
        .unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let inspect = daemon
            .request("GET", "/v1.44/containers/flaky/json", None)
            .json();
        if inspect["RestartCount"] == 2 && inspect["State"]["Status"] == "exited" {
            assert_eq!(inspect["State"]["ExitCode"], 3);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{inspect}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn hostname_hosts_and_resolv_conf_are_dockers() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    let show = "/bin/busybox hostname; /bin/busybox cat /etc/hostname /etc/hosts /etc/resolv.conf";

    let id = ok(daemon
        .berth()
        .args(["create", "hello-world", "/bin/busybox", "sh", "-c", show])
        .output()
        .unwrap());
    let id = id.trim();
    ok(daemon.berth().args(["start", id]).output().unwrap());
    ok(daemon.berth().args(["wait", id]).output().unwrap());
    let logs = ok(daemon.berth().args(["logs", id]).output().unwrap());
    let mut lines = logs.lines();
    assert_eq!(lines.next(), Some(&id[..12]), "hostname: {logs}");
    assert_eq!(lines.next(), Some(&id[..12]), "/etc/hostname: {logs}");
    assert!(logs.contains("127.0.0.1\tlocalhost\n"), "{logs}");
    assert!(logs.contains("nameserver "), "{logs}");
    assert!(
        !logs.lines().any(|line| line.starts_with("nameserver 127.")),
        "a loopback resolver means nothing in the container's network: {logs}"
    );
    let inspect = ok(daemon.berth().args(["inspect", id]).output().unwrap());
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let hosts_path = inspect[0]["HostsPath"].as_str().unwrap().to_owned();
    assert!(
        std::fs::read_to_string(&hosts_path)
            .unwrap()
            .contains("localhost"),
        "{hosts_path}"
    );
    ok(daemon.berth().args(["rm", id]).output().unwrap());

    let named = ok(daemon
        .berth()
        .args([
            "run",
            "--rm",
            "-h",
            "web-1",
            "hello-world",
            "/bin/busybox",
            "sh",
            "-c",
            show,
        ])
        .output()
        .unwrap());
    assert!(named.starts_with("web-1\nweb-1\n"), "{named}");

    let host = ok(daemon
        .berth()
        .args([
            "run",
            "--rm",
            "--network",
            "host",
            "hello-world",
            "/bin/busybox",
            "cat",
            "/etc/hosts",
        ])
        .output()
        .unwrap());
    assert_eq!(host, std::fs::read_to_string("/etc/hosts").unwrap());

    let bad = daemon
        .berth()
        .args(["run", "--rm", "-h", "bad_name", "hello-world", "true"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("invalid hostname format: bad_name"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn per_container_log_options_rotate_its_json_log() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    let script =
        "i=0; while [ $i -lt 200 ]; do echo line-$i-padding-padding-padding; i=$((i+1)); done";
    let id = ok(daemon
        .berth()
        .args([
            "run",
            "-d",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=3",
        ])
        .args(["hello-world", "/bin/busybox", "sh", "-c", script])
        .output()
        .unwrap());
    let id = id.trim();
    ok(daemon.berth().args(["wait", id]).output().unwrap());
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(daemon.berth().args(["inspect", id]).output().unwrap())).unwrap();
    assert_eq!(
        inspect[0]["HostConfig"]["LogConfig"],
        serde_json::json!({"Type": "json-file", "Config": {"max-file": "3", "max-size": "1k"}})
    );
    let log_path = std::path::PathBuf::from(inspect[0]["LogPath"].as_str().unwrap());
    let rotated = |n: u32| std::path::PathBuf::from(format!("{}.{n}", log_path.display()));
    for path in [log_path.clone(), rotated(1), rotated(2)] {
        let size = std::fs::metadata(&path)
            .unwrap_or_else(|_| panic!("{} is missing", path.display()))
            .len();
        assert!(size <= 1024 + 200, "{}: {size} bytes", path.display());
    }
    assert!(!rotated(3).exists(), "max-file=3 keeps three files");
    let last = ok(daemon
        .berth()
        .args(["logs", "--tail", "1", id])
        .output()
        .unwrap());
    assert_eq!(last.trim(), "line-199-padding-padding-padding");

    let bad_driver = daemon
        .berth()
        .args(["run", "--rm", "--log-driver", "syslog", "hello-world"])
        .output()
        .unwrap();
    assert!(!bad_driver.status.success());
    assert!(
        String::from_utf8_lossy(&bad_driver.stderr)
            .contains("logging driver \"syslog\" is not supported"),
        "{}",
        String::from_utf8_lossy(&bad_driver.stderr)
    );
    let bad_opt = daemon
        .berth()
        .args(["run", "--rm", "--log-opt", "max-file=0", "hello-world"])
        .output()
        .unwrap();
    assert!(!bad_opt.status.success());
    assert!(
        String::from_utf8_lossy(&bad_opt.stderr).contains("max-file must be a positive number"),
        "{}",
        String::from_utf8_lossy(&bad_opt.stderr)
    );
}
