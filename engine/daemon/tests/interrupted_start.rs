//! berthd SIGKILLed at each step of a container's start (held there by the test-only
//! `BERTHD_TEST_PAUSE_AT` hook, not by timing): the next berthd on the same data-root
//! reconciles the container so that it starts again, and a forced removal leaves no runtime
//! state, cgroup, mount, bundle, console socket or process behind.

mod support;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use support::registry::Registry;
use support::{signal, wait_exit, Daemon};

/// Sends `POST /containers/{id}/start` without waiting for the answer (the start never
/// finishes: berthd stops at the pause point and is killed there).
fn send_start(socket: &Path, id: &str) -> UnixStream {
    let mut stream = UnixStream::connect(socket).unwrap();
    let head =
        format!("POST /containers/{id}/start HTTP/1.1\r\nHost: berth\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

/// Waits until berthd's log says `count` starts reached `point`.
fn wait_paused(daemon: &Daemon, point: &str, count: usize) {
    let line = format!("test-only pause at {point}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while daemon.log().matches(&line).count() < count {
        assert!(
            Instant::now() < deadline,
            "no {count} starts paused at {point} within 60 s: {}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Creates a sleeping container; with `tty`, its start makes a console socket.
fn create(daemon: &Daemon, name: &str, tty: bool) -> String {
    let body = format!(r#"{{"Image":"hello-world","Cmd":["sleep","1000"],"Tty":{tty}}}"#);
    let created = daemon.request(
        "POST",
        &format!("/v1.44/containers/create?name={name}"),
        Some(body.as_bytes()),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    created.json()["Id"].as_str().unwrap().to_owned()
}

fn status(daemon: &Daemon, id: &str) -> serde_json::Value {
    let inspect = daemon.request("GET", &format!("/containers/{id}/json"), None);
    assert_eq!(inspect.status, 200, "{}", inspect.text());
    inspect.json()["State"].clone()
}

/// Nothing of container `id` is left on the host: runtime state, bundle, console socket,
/// record, and what [`assert_stopped_cleanly`] checks.
fn assert_nothing_left(dir: &Path, id: &str) {
    let leftovers = [
        dir.join("exec/runtime").join(id),
        dir.join("exec/containers").join(id),
        dir.join("exec/tty").join(format!("c-{}", &id[..12])),
        dir.join("data/containers").join(id),
    ];
    for path in &leftovers {
        assert!(!path.exists(), "left behind: {}", path.display());
    }
    assert_stopped_cleanly(dir, id);
}

/// Container `id` has no process, no cgroup (in any v1 hierarchy or v2) and no mount under
/// `dir`.
fn assert_stopped_cleanly(dir: &Path, id: &str) {
    let cgroup = format!("/berth/{id}");
    for process in std::fs::read_dir("/proc").unwrap().flatten() {
        let groups = std::fs::read_to_string(process.path().join("cgroup")).unwrap_or_default();
        assert!(
            !groups.contains(&cgroup),
            "process {:?} of {id} still runs",
            process.file_name()
        );
    }
    let mut cgroups = vec![Path::new("/sys/fs/cgroup/berth").join(id)];
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        cgroups.push(hierarchy.path().join("berth").join(id));
    }
    for path in &cgroups {
        assert!(!path.exists(), "left behind: {}", path.display());
    }
    let dir = dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let left: Vec<&str> = mounts.lines().filter(|line| line.contains(&dir)).collect();
    assert!(left.is_empty(), "mounts left under {dir}: {left:#?}");
}

/// Two containers' starts (one with a terminal) stop at `point`; berthd is SIGKILLed; a new
/// berthd finds them stopped with `expected_status`. One starts again, then both are removed
/// with force.
fn start_killed_at(point: &str, expected_status: &str) {
    let registry = Registry::with_hello_world();
    let config = registry.mirror_config();
    let mut daemon = Daemon::start_with_env(
        tempfile::tempdir().unwrap(),
        &config,
        &[],
        &[("BERTHD_TEST_PAUSE_AT", point)],
    );
    daemon.pull("hello-world");
    let ids = [
        create(&daemon, "again", false),
        create(&daemon, "removed", true),
    ];
    let _pending: Vec<UnixStream> = ids
        .iter()
        .map(|id| send_start(&daemon.socket, id))
        .collect();
    wait_paused(&daemon, point, ids.len());
    signal(daemon.child.id(), libc::SIGKILL);
    wait_exit(&mut daemon.child, Duration::from_secs(30));
    let dir = std::mem::replace(&mut daemon.dir, tempfile::tempdir().unwrap());
    drop(daemon);

    let daemon = Daemon::start_in(dir, &config, &[]);
    // Reconciled before the API answers: no rootfs still mounted, no init left waiting or
    // running.
    assert_eq!(daemon.request("GET", "/_ping", None).status, 200);
    for id in &ids {
        assert_stopped_cleanly(daemon.dir.path(), id);
    }
    for id in &ids {
        let state = status(&daemon, id);
        assert_eq!(state["Running"], false, "{point}: {state}");
        assert_eq!(state["Status"], expected_status, "{point}: {state}");
    }
    let started = daemon.request("POST", &format!("/containers/{}/start", ids[0]), None);
    assert_eq!(started.status, 204, "{point}: {}", started.text());
    assert_eq!(status(&daemon, &ids[0])["Running"], true);
    for id in &ids {
        let removed = daemon.request("DELETE", &format!("/containers/{id}?force=1"), None);
        assert_eq!(removed.status, 204, "{point}: {}", removed.text());
    }
    for id in &ids {
        assert_nothing_left(daemon.dir.path(), id);
    }
}

#[test]
fn berthd_killed_after_mounting_the_rootfs_leaves_a_startable_container() {
    start_killed_at("after-rootfs-mount", "created");
}

#[test]
fn berthd_killed_inside_runtime_create_leaves_a_startable_container() {
    start_killed_at("runtime-create-before-state", "exited");
}

#[test]
fn berthd_killed_after_runtime_create_leaves_a_startable_container() {
    start_killed_at("after-runtime-create", "exited");
}

#[test]
fn berthd_killed_after_runtime_start_leaves_a_startable_container() {
    start_killed_at("after-runtime-start", "exited");
}

#[test]
fn sigterm_exits_even_with_a_start_stuck_in_a_blocking_thread() {
    let registry = Registry::with_hello_world();
    let config = registry.mirror_config();
    let point = "after-runtime-create";
    let mut daemon = Daemon::start_with_env(
        tempfile::tempdir().unwrap(),
        &config,
        &[],
        &[("BERTHD_TEST_PAUSE_AT", point)],
    );
    daemon.pull("hello-world");
    let id = create(&daemon, "stuck", false);
    let _pending = send_start(&daemon.socket, &id);
    wait_paused(&daemon, point, 1);

    signal(daemon.child.id(), libc::SIGTERM);
    let code = wait_exit(&mut daemon.child, Duration::from_secs(60));
    assert_eq!(
        code,
        0,
        "berthd did not exit after SIGTERM: {}",
        daemon.log()
    );
    assert!(
        daemon.log().contains("blocking work still running at exit"),
        "{}",
        daemon.log()
    );

    // The next berthd clears what the stuck start left.
    let dir = std::mem::replace(&mut daemon.dir, tempfile::tempdir().unwrap());
    drop(daemon);
    let daemon = Daemon::start_in(dir, &config, &[]);
    let removed = daemon.request("DELETE", &format!("/containers/{id}?force=1"), None);
    assert_eq!(removed.status, 204, "{}", removed.text());
    assert_nothing_left(daemon.dir.path(), &id);
}
