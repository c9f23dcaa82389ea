//! Operations on a container by name: `top` (from /proc, or through the host's `ps` with
//! options), `rename` and `stats`, with the real docker CLI and berth.

mod support;

use support::registry::Registry;
use support::{ok, Daemon};

fn with_sleeper(registry: &Registry) -> Daemon {
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    ok(daemon
        .berth()
        .args([
            "run",
            "-d",
            "--name",
            "sleeper",
            "hello-world",
            "sleep",
            "300",
        ])
        .output()
        .unwrap());
    daemon
}

#[test]
fn top_lists_the_containers_processes() {
    let registry = Registry::with_hello_world();
    let daemon = with_sleeper(&registry);
    let pid = daemon
        .request("GET", "/containers/sleeper/json", None)
        .json()["State"]["Pid"]
        .as_i64()
        .unwrap();
    for mut client in [daemon.docker(), daemon.berth()] {
        let shown = ok(client.args(["top", "sleeper"]).output().unwrap());
        let mut lines = shown.lines();
        let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        );
        let rows: Vec<Vec<&str>> = lines
            .map(|line| line.split_whitespace().collect())
            .collect();
        assert_eq!(rows.len(), 1, "{shown}");
        assert_eq!(rows[0][0], "root", "{shown}");
        assert_eq!(rows[0][1], pid.to_string(), "{shown}");
        assert_eq!(rows[0][7..], ["sleep", "300"], "{shown}");
    }
    // Other ps options go to the host's ps; only the container's rows are kept.
    let custom = ok(daemon
        .docker()
        .args(["top", "sleeper", "-o", "pid,comm"])
        .output()
        .unwrap());
    assert_eq!(
        custom.split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND", &pid.to_string(), "sleep"]
    );
    let bad = daemon.request(
        "GET",
        "/containers/sleeper/top?ps_args=--no-such-option",
        None,
    );
    assert_eq!(bad.status, 500, "{}", bad.text());
    ok(daemon.berth().args(["kill", "sleeper"]).output().unwrap());
    ok(daemon.berth().args(["wait", "sleeper"]).output().unwrap());
    let stopped = daemon.request("GET", "/containers/sleeper/top", None);
    assert_eq!(stopped.status, 409, "{}", stopped.text());
}

#[test]
fn rename_gives_a_new_name_and_refuses_a_taken_one() {
    let registry = Registry::with_hello_world();
    let daemon = with_sleeper(&registry);
    ok(daemon
        .berth()
        .args(["create", "--name", "other", "hello-world"])
        .output()
        .unwrap());
    ok(daemon
        .docker()
        .args(["rename", "sleeper", "napper"])
        .output()
        .unwrap());
    let inspect = daemon.request("GET", "/containers/napper/json", None);
    assert_eq!(inspect.status, 200, "{}", inspect.text());
    assert_eq!(inspect.json()["Name"], "/napper");
    assert_eq!(
        daemon
            .request("GET", "/containers/sleeper/json", None)
            .status,
        404
    );
    let taken = daemon
        .berth()
        .args(["rename", "napper", "other"])
        .output()
        .unwrap();
    assert!(!taken.status.success());
    assert!(String::from_utf8_lossy(&taken.stderr).contains("is already in use"));
    let invalid = daemon.request("POST", "/containers/napper/rename?name=-bad", None);
    assert_eq!(invalid.status, 400, "{}", invalid.text());
    // The new name survives a daemon restart.
    let (_, dir) = daemon.stop();
    let daemon = Daemon::start_in(dir, &registry.mirror_config(), &[]);
    let ps = ok(daemon.berth().args(["ps", "-a"]).output().unwrap());
    assert!(ps.contains("napper"), "{ps}");
}

#[test]
fn stats_report_cpu_memory_and_pids() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    ok(daemon
        .berth()
        .args([
            "run",
            "-d",
            "--name",
            "busy",
            "--memory",
            "64m",
            "hello-world",
        ])
        .args(["sh", "-c", "while :; do :; done"])
        .output()
        .unwrap());
    let sample = daemon.request("GET", "/containers/busy/stats?stream=0", None);
    assert_eq!(sample.status, 200, "{}", sample.text());
    let json = sample.json();
    assert_eq!(json["name"], "/busy");
    assert_eq!(json["memory_stats"]["limit"], 64u64 << 20);
    assert_eq!(json["pids_stats"]["current"], 1);
    let total = json["cpu_stats"]["cpu_usage"]["total_usage"]
        .as_u64()
        .unwrap();
    let before = json["precpu_stats"]["cpu_usage"]["total_usage"]
        .as_u64()
        .unwrap();
    // A second of a busy loop: at least a tenth of a CPU second.
    assert!(total > before + 100_000_000, "{json}");

    for mut client in [daemon.docker(), daemon.berth()] {
        let table = ok(client
            .args(["stats", "--no-stream", "busy"])
            .output()
            .unwrap());
        let row = table.lines().nth(1).unwrap_or_default().to_owned();
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], "busy", "{table}");
        let cpu: f64 = cells[2].trim_end_matches('%').parse().unwrap();
        assert!(cpu > 10.0, "{table}");
        assert!(row.contains("/ 64MiB"), "{table}");
        assert_eq!(cells.last(), Some(&"1"), "{table}");
    }
    // The busy loop would slow every other test.
    ok(daemon.berth().args(["rm", "-f", "busy"]).output().unwrap());

    // A stream ends with the container: one JSON line per second until then.
    ok(daemon
        .berth()
        .args(["run", "-d", "--name", "brief", "hello-world", "sleep", "2"])
        .output()
        .unwrap());
    let stream = daemon.request("GET", "/containers/brief/stats", None);
    let lines: Vec<serde_json::Value> = stream
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(lines.len() >= 2, "{}", stream.text());
    assert_eq!(lines[1]["preread"], lines[0]["read"]);
}

#[test]
fn diff_lists_what_the_container_added_changed_and_deleted() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    daemon.run_script(
        "changer",
        "echo hi > /added; echo more >> /hello; mkdir -p /new/dir; rm /bin/ls",
    );
    for mut client in [daemon.docker(), daemon.berth()] {
        let listed = ok(client.args(["diff", "changer"]).output().unwrap());
        let lines: Vec<&str> = listed.lines().collect();
        assert_eq!(
            lines,
            [
                "A /added",
                "C /bin",
                "D /bin/ls",
                "C /hello",
                "A /new",
                "A /new/dir"
            ],
            "{listed}"
        );
    }
    let missing = daemon.request("GET", "/containers/nosuch/changes", None);
    assert_eq!(missing.status, 404, "{}", missing.text());
}

/// The member names of a tar archive, from the host's tar.
fn tar_members(archive: &std::path::Path) -> Vec<String> {
    let listed = ok(std::process::Command::new("tar")
        .arg("-tf")
        .arg(archive)
        .output()
        .unwrap());
    listed.lines().map(str::to_owned).collect()
}

#[test]
fn export_writes_the_containers_filesystem_as_a_tar() {
    let registry = Registry::with_hello_world();
    let daemon = with_sleeper(&registry);
    daemon.run_script("stopped", "echo hi > /added; rm /bin/ls");
    let work = tempfile::tempdir().unwrap();
    // A stopped container's rootfs is mounted for the export and unmounted after.
    let from_docker = work.path().join("docker.tar");
    ok(daemon
        .docker()
        .args(["export", "-o"])
        .arg(&from_docker)
        .arg("stopped")
        .output()
        .unwrap());
    let members = tar_members(&from_docker);
    for wanted in ["added", "hello", "bin/busybox", "bin/sh"] {
        assert!(members.iter().any(|m| m == wanted), "{wanted}: {members:?}");
    }
    assert!(!members.iter().any(|m| m == "bin/ls"), "{members:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let stopped_id = daemon
        .request("GET", "/containers/stopped/json", None)
        .json()["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!mounts.contains(&stopped_id), "still mounted after export");
    // berth's, of a running container, to stdout, with the symlink kept as a link.
    let exported = daemon.berth().args(["export", "sleeper"]).output().unwrap();
    assert!(exported.status.success());
    let from_berth = work.path().join("berth.tar");
    std::fs::write(&from_berth, &exported.stdout).unwrap();
    let unpacked = work.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    ok(std::process::Command::new("tar")
        .arg("-xf")
        .arg(&from_berth)
        .arg("-C")
        .arg(&unpacked)
        .output()
        .unwrap());
    assert_eq!(
        std::fs::read_link(unpacked.join("bin/sh")).unwrap(),
        std::path::Path::new("busybox")
    );
    assert_eq!(
        std::fs::read(unpacked.join("bin/busybox")).unwrap(),
        std::fs::read("/bin/busybox").unwrap()
    );
    let refused = daemon.request("GET", "/containers/nosuch/export", None);
    assert_eq!(refused.status, 404, "{}", refused.text());
}

#[test]
fn logs_since_and_until_cut_at_the_given_times() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    daemon.run_script("talker", "echo one; sleep 2; echo two");
    let stamped = ok(daemon
        .docker()
        .args(["logs", "-t", "talker"])
        .output()
        .unwrap());
    let first = stamped.split_whitespace().next().unwrap();
    let first = berth_api::time::parse_rfc3339(first).unwrap();
    // One second after the first line: before the second, which came two seconds later.
    let between = berth_api::time::format_rfc3339(first + std::time::Duration::from_secs(1));
    for mut client in [daemon.docker(), daemon.berth()] {
        let before = ok(client
            .args(["logs", "--until", &between, "talker"])
            .output()
            .unwrap());
        assert_eq!(before, "one\n", "{stamped}");
    }
    for mut client in [daemon.docker(), daemon.berth()] {
        let after = ok(client
            .args(["logs", "--since", &between, "talker"])
            .output()
            .unwrap());
        assert_eq!(after, "two\n", "{stamped}");
    }
    let bad = daemon.request(
        "GET",
        "/containers/talker/logs?stdout=1&until=yesterday",
        None,
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
}
