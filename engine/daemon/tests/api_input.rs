//! Request input read as dockerd reads it: booleans in query strings (docker-py's `False`),
//! and resource values dockerd refuses at create, refused at create with dockerd's messages.

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
    ok(daemon
        .berth()
        .args(["pull", "-q", "hello-world"])
        .output()
        .unwrap());
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
    // Sound values still create, and the ones berthd does not apply come back as warnings.
    let body = serde_json::json!({"Image": "hello-world", "HostConfig": {"Memory": 64 << 20, "MemorySwap": -1}});
    let create = daemon.request(
        "POST",
        "/containers/create",
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(create.status, 201, "{}", create.text());
    assert_eq!(
        create.json()["Warnings"],
        serde_json::json!(["berthd does not apply MemorySwap yet: MemorySwap=-1 is ignored"])
    );
}
