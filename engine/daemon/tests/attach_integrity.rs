//! Attached output never loses a byte: `run`, `start -a`, `attach` and `exec`, through the
//! docker CLI and berth, with a reader that sleeps before it reads (so the daemon must hold
//! the container back instead of dropping output), compared by sha256; `logs` and `logs -f`
//! give every line without holding the container back, and `logs -f` returns once a
//! container that has just exited is drained.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};
use support::registry::Registry;
use support::{ok, signal, within_a_minute, Daemon};

/// Lines of `seq` the tests print.
const LINES: u32 = 1_000_000;

/// Bytes of the random binary the tests print.
const BLOB_BYTES: usize = 50_000_000;

/// How long the slow reader waits before it reads anything.
const READER_DELAY: Duration = Duration::from_secs(3);

/// What a client printed on stdout, as its digest and length.
#[derive(Debug, PartialEq, Eq)]
struct Received {
    sha256: String,
    bytes: u64,
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The digest and length of `data`.
fn expected(data: &[u8]) -> Received {
    Received {
        sha256: hex(&Sha256::digest(data)),
        bytes: data.len() as u64,
    }
}

/// What `seq 1 LINES` prints, with `newline` after each number.
fn seq_output(newline: &str) -> Vec<u8> {
    let mut text = String::new();
    for number in 1..=LINES {
        text.push_str(&number.to_string());
        text.push_str(newline);
    }
    text.into_bytes()
}

/// Runs `command`, sleeps [`READER_DELAY`] before reading its stdout, then reads all of it;
/// fails unless it exits 0. Killed after three minutes.
fn read_slowly(mut command: Command) -> Received {
    let description = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(Duration::from_secs(180)).is_err() {
            signal(pid, libc::SIGKILL);
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    std::thread::sleep(READER_DELAY);
    let mut stdout = child.stdout.take().unwrap();
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let count = stdout.read(&mut chunk).unwrap();
        if count == 0 {
            break;
        }
        hasher.update(&chunk[..count]);
        bytes += count as u64;
    }
    let status = child.wait().unwrap();
    let _ = done.send(());
    watchdog.join().unwrap();
    let errors = errors.join().unwrap();
    assert!(
        status.success(),
        "{description} failed ({status:?}) after {bytes} bytes: {errors}"
    );
    Received {
        sha256: hex(&hasher.finalize()),
        bytes,
    }
}

/// A daemon pulling from `registry`.
fn daemon(registry: &Registry) -> Daemon {
    Daemon::start(&registry.mirror_config(), &[])
}

/// Both clients, named.
fn clients(daemon: &Daemon) -> [(&'static str, Command); 2] {
    [("docker", daemon.docker()), ("berth", daemon.berth())]
}

/// A directory holding `blob`, [`BLOB_BYTES`] random bytes, and their digest.
fn random_blob() -> (tempfile::TempDir, Received) {
    let dir = tempfile::tempdir().unwrap();
    let mut data = vec![0u8; BLOB_BYTES];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut data)
        .unwrap();
    std::fs::write(dir.path().join("blob"), &data).unwrap();
    let digest = expected(&data);
    (dir, digest)
}

fn bind(dir: &Path) -> String {
    format!("{}:/data:ro", dir.display())
}

#[test]
fn run_with_a_slow_reader_loses_no_output() {
    let registry = Registry::with_hello_world();
    let daemon = daemon(&registry);
    let lines = expected(&seq_output("\n"));
    let (blob_dir, blob) = random_blob();
    for (name, mut client) in clients(&daemon) {
        let container = format!("seq-{name}");
        client.args(["run", "--name", &container, "hello-world", "busybox", "seq"]);
        client.args(["1", &LINES.to_string()]);
        assert_eq!(read_slowly(client), lines, "{name} run: seq 1 {LINES}");
        if name == "docker" {
            // The json-file log got every line too.
            let mut logs = daemon.docker();
            logs.args(["logs", &container]);
            assert_eq!(read_slowly(logs), lines, "docker logs of {name} run's seq");
        }

        let mut client = if name == "docker" {
            daemon.docker()
        } else {
            daemon.berth()
        };
        client.args(["run", "--rm", "-v", &bind(blob_dir.path()), "hello-world"]);
        client.args(["cat", "/data/blob"]);
        assert_eq!(read_slowly(client), blob, "{name} run: a random binary");
    }
}

#[test]
fn run_with_a_terminal_and_a_slow_reader_loses_no_output() {
    let registry = Registry::with_hello_world();
    let daemon = daemon(&registry);
    // The terminal turns each newline into CR LF.
    let lines = expected(&seq_output("\r\n"));
    for (name, mut client) in clients(&daemon) {
        client.args(["run", "--rm", "-t", "hello-world", "busybox", "seq"]);
        client.args(["1", &LINES.to_string()]);
        assert_eq!(read_slowly(client), lines, "{name} run -t: seq 1 {LINES}");
    }
}

#[test]
fn start_a_and_attach_with_a_slow_reader_lose_no_output() {
    let registry = Registry::with_hello_world();
    let daemon = daemon(&registry);
    let lines = expected(&seq_output("\n"));
    for (name, mut client) in clients(&daemon) {
        let container = format!("created-{name}");
        ok(daemon
            .docker()
            .args([
                "create",
                "--name",
                &container,
                "hello-world",
                "busybox",
                "seq",
            ])
            .args(["1", &LINES.to_string()])
            .output()
            .unwrap());
        client.args(["start", "-a", &container]);
        assert_eq!(read_slowly(client), lines, "{name} start -a: seq 1 {LINES}");
    }
    for (name, mut client) in clients(&daemon) {
        // Writes after a delay, so the attach is there before the first line.
        let container = format!("late-{name}");
        let script = format!("sleep 4; busybox seq 1 {LINES}");
        ok(daemon
            .docker()
            .args(["run", "-d", "--name", &container, "hello-world", "sh", "-c"])
            .arg(&script)
            .output()
            .unwrap());
        client.args(["attach", &container]);
        assert_eq!(read_slowly(client), lines, "{name} attach: seq 1 {LINES}");
    }
}

#[test]
fn exec_with_a_slow_reader_loses_no_output() {
    let registry = Registry::with_hello_world();
    let daemon = daemon(&registry);
    let (blob_dir, blob) = random_blob();
    ok(daemon
        .docker()
        .args(["run", "-d", "--name", "box", "-v", &bind(blob_dir.path())])
        .args(["hello-world", "sleep", "300"])
        .output()
        .unwrap());
    let lines = expected(&seq_output("\n"));
    for (name, mut client) in clients(&daemon) {
        client.args(["exec", "box", "busybox", "seq", "1", &LINES.to_string()]);
        assert_eq!(read_slowly(client), lines, "{name} exec: seq 1 {LINES}");
    }
    for (name, mut client) in clients(&daemon) {
        client.args(["exec", "box", "cat", "/data/blob"]);
        assert_eq!(read_slowly(client), blob, "{name} exec: a random binary");
    }
    ok(daemon.docker().args(["rm", "-f", "box"]).output().unwrap());
}

#[test]
fn logs_follow_returns_once_a_just_exited_container_is_drained() {
    let registry = Registry::with_hello_world();
    let daemon = daemon(&registry);
    for round in 0..8 {
        let id = ok(daemon
            .docker()
            .args(["run", "-d", "hello-world", "echo", "hi"])
            .output()
            .unwrap());
        let mut follow = daemon.docker();
        follow.args(["logs", "-f", id.trim()]);
        let output = within_a_minute(follow);
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "hi\n",
            "round {round}"
        );
        assert!(output.status.success(), "round {round}: {output:?}");
    }
}

#[test]
fn slow_logs_follow_gets_every_line_across_rotation_without_holding_the_container() {
    let registry = Registry::with_hello_world();
    let daemon = daemon(&registry);
    // Rotates about a dozen times and keeps every file.
    let script = format!("sleep 2; busybox seq 1 {LINES}");
    let id = ok(daemon
        .docker()
        .args([
            "run",
            "-d",
            "--log-opt",
            "max-size=5m",
            "--log-opt",
            "max-file=30",
        ])
        .args(["hello-world", "sh", "-c", &script])
        .output()
        .unwrap());
    let id = id.trim();
    let mut follower = daemon
        .docker()
        .args(["logs", "-f", id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Nothing reads the follower's output until the container has exited: a follower
    // must never hold the container back.
    let waited = within_a_minute({
        let mut wait = daemon.docker();
        wait.args(["wait", id]);
        wait
    });
    let pid = follower.id();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(Duration::from_secs(120)).is_err() {
            signal(pid, libc::SIGKILL);
        }
    });
    let mut received = Vec::new();
    follower
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut received)
        .unwrap();
    let status = follower.wait().unwrap();
    let _ = done.send(());
    watchdog.join().unwrap();
    assert_eq!(String::from_utf8_lossy(&waited.stdout).trim(), "0");
    assert!(status.success(), "logs -f: {status:?}");
    assert_eq!(
        expected(&received),
        expected(&seq_output("\n")),
        "logs -f: seq 1 {LINES}"
    );
}

/// Spawns `command` with its stdout piped and never read.
fn stalled(mut command: Command) -> std::process::Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits (up to a minute) until `container` runs.
fn wait_running(daemon: &Daemon, container: &str) {
    for _ in 0..600 {
        let inspect = daemon
            .docker()
            .args(["inspect", "-f", "{{.State.Running}}", container])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&inspect.stdout).trim() == "true" {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{container} did not start");
}

#[test]
fn a_stalled_or_vanished_client_never_holds_the_container_for_good() {
    let registry = Registry::with_hello_world();
    let daemon = daemon(&registry);
    // A client that stops reading holds the container back, but stop still ends it.
    let mut client = daemon.docker();
    client.args(["run", "--name", "stalled", "hello-world", "busybox", "yes"]);
    let mut client = stalled(client);
    wait_running(&daemon, "stalled");
    std::thread::sleep(Duration::from_secs(1));
    let mut stop = daemon.docker();
    stop.args(["stop", "-t", "1", "stalled"]);
    let stopped = within_a_minute(stop);
    let _ = client.kill();
    let _ = client.wait();
    assert!(stopped.status.success(), "stop: {stopped:?}");
    let mut wait = daemon.docker();
    wait.args(["wait", "stalled"]);
    assert_eq!(
        String::from_utf8_lossy(&within_a_minute(wait).stdout).trim(),
        "137"
    );

    // A client that goes away lets the container go on; its log gets every line.
    let lines = expected(&seq_output("\n"));
    for (name, mut client) in clients(&daemon) {
        let container = format!("vanished-{name}");
        client.args(["run", "--name", &container, "hello-world", "busybox", "seq"]);
        client.args(["1", &LINES.to_string()]);
        let mut client = stalled(client);
        wait_running(&daemon, &container);
        std::thread::sleep(Duration::from_secs(1));
        let _ = client.kill();
        let _ = client.wait();
        let mut wait = daemon.docker();
        wait.args(["wait", &container]);
        let waited = within_a_minute(wait);
        assert_eq!(
            String::from_utf8_lossy(&waited.stdout).trim(),
            "0",
            "{name}"
        );
        let mut logs = daemon.docker();
        logs.args(["logs", &container]);
        assert_eq!(read_slowly(logs), lines, "docker logs of {name} run's seq");
    }
}
