//! Test support: a berthd started on temp data-root, exec-root, pidfile and socket, plain
//! HTTP/1.1 over its unix socket, and the paths of the other binaries the tests drive.

#![allow(dead_code)]

pub mod registry;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The berthd under test.
pub fn berthd() -> &'static str {
    env!("CARGO_BIN_EXE_berthd")
}

/// The `berth` client next to berthd, built on demand (it lives in another package).
pub fn berth() -> PathBuf {
    let path = Path::new(berthd()).with_file_name("berth");
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "berth", "--bin", "berth"])
            .env(
                "CARGO_TARGET_DIR",
                path.parent()
                    .and_then(Path::parent)
                    .expect("berthd sits in <target>/<profile>/"),
            )
            .status()
            .expect("run cargo to build the berth client");
        assert!(status.success(), "building the berth client failed");
    });
    path
}

/// Fails with the standard hint when a tool the test needs is missing.
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: run `cargo xtask test`, which installs the test tools"
    );
}

/// The stdout of a command that must have succeeded; otherwise fails with everything it
/// printed.
pub fn ok(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "failed ({:?}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A running berthd with its own directories.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub child: Child,
    pub socket: PathBuf,
}

impl Daemon {
    /// Starts berthd with `config_json` as its daemon.json plus `extra` flags, and waits until
    /// its socket answers.
    pub fn start(config_json: &str, extra: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, config_json, extra)
    }

    /// Like [`Daemon::start`], reusing a directory (data-root kept across restarts).
    pub fn start_in(dir: tempfile::TempDir, config_json: &str, extra: &[&str]) -> Daemon {
        Self::start_with_env(dir, config_json, extra, &[])
    }

    /// Like [`Daemon::start_in`], with `env` added to berthd's environment.
    pub fn start_with_env(
        dir: tempfile::TempDir,
        config_json: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Daemon {
        let config = dir.path().join("daemon.json");
        std::fs::write(&config, config_json).expect("write daemon.json");
        let socket = dir.path().join("berth.sock");
        let _ = std::fs::remove_file(&socket);
        let host = format!("unix://{}", socket.display());
        let mut command = Command::new(berthd());
        command
            .arg("--config-file")
            .arg(&config)
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("berthd.pid"))
            .args(["-H", &host])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("berthd.log")).expect("log file"));
        let child = command.spawn().expect("spawn berthd");
        let mut daemon = Daemon { dir, child, socket };
        daemon.wait_ready();
        daemon
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("berthd exited early with {status}: {}", self.log());
            }
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("berthd did not listen within 20s: {}", self.log());
    }

    /// The daemon's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    /// `unix://SOCKET`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// A request over the socket.
    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> HttpResponse {
        http(&self.socket, method, path, body)
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn stop(mut self) -> (i32, tempfile::TempDir) {
        signal(self.child.id(), libc::SIGTERM);
        let code = wait_exit(&mut self.child, Duration::from_secs(60));
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        (code, dir)
    }

    /// The real `docker` CLI pointed at this daemon, with its config in the daemon's dir.
    pub fn docker(&self) -> Command {
        require_tool("docker");
        let mut command = Command::new("docker");
        command
            .args(["-H", &self.host()])
            .env("DOCKER_CONFIG", self.dir.path());
        command
    }

    /// The `berth` client pointed at this daemon.
    pub fn berth(&self) -> Command {
        let mut command = Command::new(berth());
        command.env("BERTH_HOST", self.host());
        command
    }

    /// `berth pull -q IMAGE`, which must succeed.
    pub fn pull(&self, image: &str) {
        ok(self.berth().args(["pull", "-q", image]).output().unwrap());
    }

    /// `berth run --name NAME hello-world sh -c SCRIPT`, which must succeed; its stdout.
    pub fn run_script(&self, name: &str, script: &str) -> String {
        ok(self
            .berth()
            .args(["run", "--name", name, "hello-world", "sh", "-c", script])
            .output()
            .unwrap())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(self.child.id(), libc::SIGTERM);
            wait_exit(&mut self.child, Duration::from_secs(30));
        }
    }
}

/// Runs `command` with `input` on its stdin; returns its output. Killed after a minute.
pub fn with_input(mut command: Command, input: &[u8]) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    output_within_a_minute(child, &format!("{command:?}"))
}

/// Runs `command` with no input to its end; returns its output. Killed after a minute.
pub fn within_a_minute(mut command: Command) -> std::process::Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    output_within_a_minute(child, &format!("{command:?}"))
}

/// The output of `child` (`description` names it), which must end within a minute.
fn output_within_a_minute(child: Child, description: &str) -> std::process::Output {
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    match receiver.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            signal(pid, libc::SIGKILL);
            panic!("{description} did not end within a minute");
        }
    }
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) on a pid we spawned.
    unsafe { libc::kill(pid as i32, signal) };
}

/// Waits for a child, killing it after `timeout`; returns its exit code (-1 if killed).
pub fn wait_exit(child: &mut Child, timeout: Duration) -> i32 {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return -1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request with `Connection: close` over a unix socket.
pub fn http(socket: &Path, method: &str, path: &str, body: Option<&[u8]>) -> HttpResponse {
    let mut stream = UnixStream::connect(socket).expect("connect to the berthd socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let body = body.unwrap_or(b"");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send head");
    // A server may refuse early (413) and close; ignore a failed body write.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(key, value)| {
        key.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}
