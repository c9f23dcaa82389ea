//! Request input read as dockerd reads it: booleans in query strings (docker-py's `False`),
//! resource values dockerd refuses at create, refused at create with dockerd's messages, and
//! the ones it takes applied to the container (cgroup, /dev/shm, oom_score_adj).

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use support::registry::Registry;
use support::{ok, Daemon};

/// GET `path` and read until the server closes or `limit` passes; the body so far and whether
/// the server closed.
fn get_for_at_most(daemon: &Daemon, path: &str, limit: Duration) -> (String, bool) {
    let mut stream = UnixStream::connect(&daemon.socket).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&raw).into_owned(), true),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(err) => panic!("read: {err}"),
        }
    }
    (String::from_utf8_lossy(&raw).into_owned(), false)
}

#[test]
fn stats_stream_capital_false_as_docker_py_sends_it_returns_one_sample() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    ok(daemon
        .berth()
        .args([
            "run",
            "-d",
            "--name",
            "napper",
            "hello-world",
            "sleep",
            "600",
        ])
        .output()
        .unwrap());
    for value in ["False", "FALSE", "0", "no"] {
        let (text, closed) = get_for_at_most(
            &daemon,
            &format!("/containers/napper/stats?stream={value}"),
            Duration::from_secs(20),
        );
        assert!(closed, "stream={value} still streaming after 20s: {text}");
        assert_eq!(
            text.matches("\"read\"").count(),
            1,
            "stream={value}: {text}"
        );
    }
    // And a true value streams.
    let (text, closed) = get_for_at_most(
        &daemon,
        "/containers/napper/stats?stream=True",
        Duration::from_secs(3),
    );
    assert!(!closed && text.contains("\"read\""), "{text}");
    ok(daemon
        .berth()
        .args(["rm", "-f", "napper"])
        .output()
        .unwrap());
}

#[test]
fn resource_values_dockerd_refuses_are_refused_at_create_with_its_messages() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    daemon.pull("hello-world");
    let cpus = String::from_utf8(
        std::process::Command::new("nproc")
            .env_remove("OMP_NUM_THREADS")
            .env_remove("OMP_THREAD_LIMIT")
            .output()
            .expect("run nproc")
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let cases = [
        (
            serde_json::json!({"Memory": -1}),
            "Minimum memory limit allowed is 6MB".to_owned(),
        ),
        (
            serde_json::json!({"Memory": 64 << 20, "MemorySwap": 32 << 20}),
            "Minimum memoryswap limit should be larger than memory limit, see usage".to_owned(),
        ),
        (
            serde_json::json!({"CpuShares": -5}),
            "invalid CPU shares (-5): value must be a positive integer".to_owned(),
        ),
        (
            serde_json::json!({"CpuPeriod": 1}),
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .to_owned(),
        ),
        (
            serde_json::json!({"BlkioWeight": 5000}),
            "Range of blkio weight is from 10 to 1000".to_owned(),
        ),
        (
            serde_json::json!({"OomScoreAdj": 5000}),
            "Invalid value 5000, range for oom score adj is [-1000, 1000]".to_owned(),
        ),
        (
            serde_json::json!({"ShmSize": -1}),
            "SHM size can not be less than 0".to_owned(),
        ),
        (
            serde_json::json!({"NanoCpus": i64::MAX}),
            format!(
                "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
            ),
        ),
        (
            serde_json::json!({"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}),
            "invalid ulimit type: bogus".to_owned(),
        ),
    ];
    for (host_config, message) in cases {
        let body = serde_json::json!({"Image": "hello-world", "HostConfig": host_config});
        let create = daemon.request(
            "POST",
            "/containers/create",
            Some(body.to_string().as_bytes()),
        );
        assert_eq!(
            (create.status, create.json()["message"].as_str()),
            (400, Some(message.as_str())),
            "{host_config}"
        );
    }
    let body = serde_json::json!({"Image": "hello-world", "WorkingDir": "relative/dir"});
    let create = daemon.request(
        "POST",
        "/containers/create",
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(
        (create.status, create.json()["message"].as_str()),
        (
            400,
            Some(
                "the working directory 'relative/dir' is invalid, it needs to be an absolute path"
            )
        )
    );
    // The docker CLI shows the daemon's line and creates nothing.
    let output = daemon
        .docker()
        .args(["create", "--blkio-weight", "5000", "hello-world"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("Error response from daemon: Range of blkio weight is from 10 to 1000"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let all = daemon.request("GET", "/containers/json?all=1", None);
    assert_eq!(all.json(), serde_json::json!([]));
    // Sound values still create, with no warning on a host whose cgroups enforce them all.
    let body = serde_json::json!({"Image": "hello-world", "HostConfig": {"Memory": 64 << 20, "MemorySwap": -1}});
    let create = daemon.request(
        "POST",
        "/containers/create",
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(create.status, 201, "{}", create.text());
    assert_eq!(create.json()["Warnings"], serde_json::json!([]));
}

/// A cgroup v1 controller file of container `id` (cgroupfs driver), trimmed.
fn cgroup_v1(controller: &str, id: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/fs/cgroup/{controller}/berth/{id}/{file}"))
        .ok()
        .map(|text| text.trim().to_owned())
}

#[test]
fn swap_cpu_period_quota_shm_size_and_oom_score_adj_are_applied_not_ignored() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    daemon.pull("hello-world");
    // Through the docker CLI, as a user types them.
    let id = ok(daemon
        .docker()
        .args([
            "run",
            "-d",
            "--memory",
            "64m",
            "--cpu-period",
            "50000",
            "--cpu-quota",
            "25000",
            "--shm-size",
            "32m",
            "--oom-score-adj",
            "300",
            "--blkio-weight",
            "300",
            "hello-world",
            "sh",
            "-c",
            "cat /proc/self/oom_score_adj; df -k /dev/shm | tail -1; sleep 30",
        ])
        .output()
        .unwrap());
    let id = id.trim();
    let deadline = Instant::now() + Duration::from_secs(20);
    let logs = loop {
        let logs = ok(daemon.docker().args(["logs", id]).output().unwrap());
        if logs.lines().count() >= 2 || Instant::now() > deadline {
            break logs;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut lines = logs.lines();
    assert_eq!(lines.next(), Some("300"), "oom_score_adj: {logs}");
    let shm_kib: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(shm_kib.get(1), Some(&"32768"), "/dev/shm size: {logs}");
    let inspect = ok(daemon.docker().args(["inspect", id]).output().unwrap());
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let host = &inspect[0]["HostConfig"];
    assert_eq!(host["CpuPeriod"], 50000);
    assert_eq!(host["CpuQuota"], 25000);
    assert_eq!(host["ShmSize"], 32 << 20);
    assert_eq!(host["OomScoreAdj"], 300);
    if std::path::Path::new("/sys/fs/cgroup/cpu").is_dir() {
        assert_eq!(
            cgroup_v1("cpu", id, "cpu.cfs_period_us").as_deref(),
            Some("50000")
        );
        assert_eq!(
            cgroup_v1("cpu", id, "cpu.cfs_quota_us").as_deref(),
            Some("25000")
        );
        assert_eq!(
            cgroup_v1("memory", id, "memory.limit_in_bytes").as_deref(),
            Some("67108864")
        );
        // dockerd's default swap limit: twice the memory, where the host can enforce it.
        match cgroup_v1("memory", id, "memory.memsw.limit_in_bytes") {
            Some(swap) => {
                assert_eq!(swap, "134217728");
                assert_eq!(host["MemorySwap"], 128 << 20);
            }
            None => assert_eq!(host["MemorySwap"], -1),
        }
        match cgroup_v1("blkio", id, "blkio.weight") {
            Some(weight) => assert_eq!(weight, "300"),
            // A host without blkio.weight drops it with dockerd's warning.
            None => assert_eq!(host["BlkioWeight"], 0),
        }
    }
    ok(daemon.docker().args(["rm", "-f", id]).output().unwrap());
}
