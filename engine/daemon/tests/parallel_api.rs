//! Many API operations at once: 100 parallel creates, starts and forced removals through the
//! API, and `docker rm -f` of 50 containers, all finish while berthd keeps answering `/_ping`
//! and `/containers/json`. Every request has a deadline, so a deadlock fails the test instead
//! of hanging it.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::registry::Registry;
use support::{http, wait_exit, Daemon, HttpResponse};

/// Generous for one request on a loaded 2-core machine, far below "forever".
const REQUEST_DEADLINE: Duration = Duration::from_secs(120);

/// One request that must answer within `deadline`; `None` when it did not.
fn request_within(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    deadline: Duration,
) -> Option<HttpResponse> {
    let (socket, method, path) = (socket.to_path_buf(), method.to_owned(), path.to_owned());
    let body = body.map(<[u8]>::to_vec);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(http(&socket, &method, &path, body.as_deref()));
    });
    receiver.recv_timeout(deadline).ok()
}

/// Runs `method path` for every id at once; panics naming the first that failed or hung.
fn in_parallel(socket: &Path, method: &str, paths: Vec<String>, body: Option<&'static [u8]>) {
    let threads: Vec<_> = paths
        .into_iter()
        .map(|path| {
            let (socket, method) = (socket.to_path_buf(), method.to_owned());
            std::thread::spawn(move || {
                let response = request_within(&socket, &method, &path, body, REQUEST_DEADLINE);
                (path, response)
            })
        })
        .collect();
    for thread in threads {
        let (path, response) = thread.join().unwrap();
        let response = response.unwrap_or_else(|| panic!("{method} {path} did not answer in time"));
        assert!(
            (200..300).contains(&response.status),
            "{method} {path}: {} {}",
            response.status,
            response.text()
        );
    }
}

/// While alive, asks `/_ping` and `/containers/json` in a loop and records any that did not
/// answer within 30 s (or answered with an error).
struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Watcher {
    fn start(socket: PathBuf) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut failures = Vec::new();
            while !stopping.load(Ordering::SeqCst) && failures.is_empty() {
                for path in ["/_ping", "/containers/json?all=1"] {
                    match request_within(&socket, "GET", path, None, Duration::from_secs(30)) {
                        Some(response) if response.status == 200 => {}
                        Some(response) => failures.push(format!("{path}: {}", response.status)),
                        None => failures.push(format!("{path} did not answer within 30 s")),
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            failures
        });
        Watcher {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops watching; panics with what went unanswered.
    fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let failures = self.thread.take().unwrap().join().unwrap();
        assert!(
            failures.is_empty(),
            "berthd stopped answering: {failures:?}"
        );
    }
}

fn pulled_daemon(registry: &Registry) -> Daemon {
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    daemon.pull("hello-world");
    daemon
}

/// Creates `count` sleeping containers named `{prefix}-N`, all at once.
fn create_many(daemon: &Daemon, prefix: &str, count: usize) -> Vec<String> {
    let names: Vec<String> = (0..count).map(|n| format!("{prefix}-{n}")).collect();
    in_parallel(
        &daemon.socket,
        "POST",
        names
            .iter()
            .map(|name| format!("/v1.44/containers/create?name={name}"))
            .collect(),
        Some(br#"{"Image":"hello-world","Cmd":["sleep","1000"]}"#),
    );
    names
}

fn container_count(daemon: &Daemon) -> usize {
    let listed = daemon.request("GET", "/containers/json?all=1", None);
    listed.json().as_array().unwrap().len()
}

#[test]
fn hundred_parallel_creates_starts_and_forced_removals_do_not_deadlock() {
    let registry = Registry::with_hello_world();
    let daemon = pulled_daemon(&registry);
    let watcher = Watcher::start(daemon.socket.clone());

    let names = create_many(&daemon, "many", 100);
    assert_eq!(container_count(&daemon), 100);
    in_parallel(
        &daemon.socket,
        "POST",
        names
            .iter()
            .map(|name| format!("/containers/{name}/start"))
            .collect(),
        None,
    );
    let running = daemon.request("GET", "/containers/json", None);
    assert_eq!(running.json().as_array().unwrap().len(), 100);
    in_parallel(
        &daemon.socket,
        "DELETE",
        names
            .iter()
            .map(|name| format!("/containers/{name}?force=1"))
            .collect(),
        None,
    );
    watcher.finish();
    assert_eq!(container_count(&daemon), 0);
    // Still fully working afterwards: a create and a removal.
    create_many(&daemon, "after", 1);
    in_parallel(
        &daemon.socket,
        "DELETE",
        vec!["/containers/after-0".to_owned()],
        None,
    );
    let (code, _dir) = daemon.stop();
    assert_eq!(
        code, 0,
        "berthd did not shut down cleanly after the removals"
    );
}

#[test]
fn docker_rm_force_of_fifty_containers_does_not_deadlock() {
    let registry = Registry::with_hello_world();
    let daemon = pulled_daemon(&registry);
    let names = create_many(&daemon, "fifty", 50);
    // Half running, half created and never started.
    in_parallel(
        &daemon.socket,
        "POST",
        names
            .iter()
            .take(25)
            .map(|name| format!("/containers/{name}/start"))
            .collect(),
        None,
    );
    let watcher = Watcher::start(daemon.socket.clone());
    let mut removal = daemon
        .docker()
        .arg("rm")
        .arg("-f")
        .args(&names)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let code = wait_exit(&mut removal, Duration::from_secs(180));
    assert_eq!(
        code,
        0,
        "docker rm -f failed or hung (-1): {}",
        daemon.log()
    );
    watcher.finish();
    assert_eq!(container_count(&daemon), 0);
}
