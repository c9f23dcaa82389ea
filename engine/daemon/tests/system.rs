//! A real berthd on temp directories: the socket, locks, pidfile, /_ping, /version, /info,
//! version prefixes, errors, SIGHUP reload, sd_notify, socket activation and the real docker
//! CLI.

mod support;

use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::Daemon;

#[test]
fn socket_pidfile_and_lock() {
    let daemon = Daemon::start("{}", &[]);
    let meta = std::fs::metadata(&daemon.socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.uid(), 0);
    let pid = std::fs::read_to_string(daemon.dir.path().join("berthd.pid")).unwrap();
    assert_eq!(pid.trim(), daemon.child.id().to_string());

    // A second daemon on the same data-root refuses to start.
    let other_socket = daemon.dir.path().join("other.sock");
    let output = Command::new(support::berthd())
        .arg("--data-root")
        .arg(daemon.dir.path().join("data"))
        .arg("--exec-root")
        .arg(daemon.dir.path().join("exec2"))
        .arg("--pidfile")
        .arg(daemon.dir.path().join("other.pid"))
        .arg("-H")
        .arg(format!("unix://{}", other_socket.display()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is in use by another berthd"), "{stderr}");

    let pidfile = daemon.dir.path().join("berthd.pid");
    let socket = daemon.socket.clone();
    let (code, _dir) = daemon.stop();
    assert_eq!(code, 0);
    assert!(!pidfile.exists(), "pidfile removed at exit");
    assert!(!socket.exists(), "socket removed at exit");
}

#[test]
fn ping_version_info_and_errors() {
    let daemon = Daemon::start(r#"{"labels": ["site=test"]}"#, &[]);
    for path in ["/_ping", "/v1.44/_ping", "/v1.24/_ping"] {
        let ping = daemon.request("GET", path, None);
        assert_eq!(ping.status, 200, "{path}");
        assert_eq!(ping.text(), "OK");
        assert_eq!(ping.header("Api-Version"), Some("1.44"));
        assert_eq!(ping.header("Ostype"), Some("linux"));
        assert_eq!(ping.header("Docker-Experimental"), Some("false"));
        assert_eq!(
            ping.header("Cache-Control"),
            Some("no-cache, no-store, must-revalidate")
        );
        assert_eq!(ping.header("Pragma"), Some("no-cache"));
    }
    let head = daemon.request("HEAD", "/_ping", None);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    let version = daemon.request("GET", "/v1.44/version", None);
    assert_eq!(version.status, 200);
    assert_eq!(version.header("Content-Type"), Some("application/json"));
    let version = version.json();
    assert_eq!(version["ApiVersion"], "1.44");
    assert_eq!(version["MinAPIVersion"], "1.24");
    assert_eq!(version["Version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["Components"][0]["Name"], "Engine");

    let info = daemon.request("GET", "/info", None).json();
    assert_eq!(info["Labels"][0], "site=test");
    assert_eq!(info["OSType"], "linux");
    assert!(info["SecurityOptions"][0]
        .as_str()
        .unwrap()
        .starts_with("name=seccomp"));

    let too_new = daemon.request("GET", "/v1.45/version", None);
    assert_eq!(too_new.status, 400);
    assert_eq!(too_new.header("Content-Type"), Some("application/json"));
    assert_eq!(
        too_new.json()["message"],
        "client version 1.45 is too new. Maximum supported API version is 1.44"
    );
    let missing = daemon.request("GET", "/v1.44/nothing/here", None);
    assert_eq!(missing.status, 404);
    assert!(missing.json()["message"].is_string());
    // Still serving.
    assert_eq!(daemon.request("GET", "/_ping", None).status, 200);
}

#[test]
fn sighup_reloads_and_keeps_old_config_on_error() {
    let daemon = Daemon::start(
        r#"{"labels": ["a=1"], "registry-mirrors": ["http://127.0.0.1:1"]}"#,
        &[],
    );
    let config = daemon.dir.path().join("daemon.json");
    std::fs::write(
        &config,
        r#"{"labels": ["a=2"], "registry-mirrors": ["http://127.0.0.1:2"], "debug": true}"#,
    )
    .unwrap();
    support::signal(daemon.child.id(), libc::SIGHUP);
    let info = wait_for_info(&daemon, |info| info["Labels"][0] == "a=2");
    assert_eq!(info["RegistryConfig"]["Mirrors"][0], "http://127.0.0.1:2/");
    assert_eq!(info["Debug"], true);

    std::fs::write(&config, r#"{"labels": ["a=3"], "bogus": 1}"#).unwrap();
    support::signal(daemon.child.id(), libc::SIGHUP);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !daemon.log().contains("error reloading configuration") {
        assert!(std::time::Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(daemon.log().contains("bogus"), "{}", daemon.log());
    let info = daemon.request("GET", "/info", None).json();
    assert_eq!(info["Labels"][0], "a=2", "old config kept");
}

fn wait_for_info(daemon: &Daemon, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let info = daemon.request("GET", "/info", None).json();
        if ready(&info) {
            return info;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never reloaded: {info}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn socket_activation_and_sd_notify() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("activated.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();

    let fd = listener.as_raw_fd();
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        // $$ is the shell's pid, which berthd keeps after exec: LISTEN_PID as systemd sets it.
        .arg("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"")
        .arg(support::berthd())
        .args(["--config-file", "/dev/null", "-H", "fd://"])
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .arg("--pidfile")
        .arg(dir.path().join("pid"))
        .env("NOTIFY_SOCKET", &notify_path)
        .stderr(Stdio::null());
    // SAFETY: dup2 and fcntl are async-signal-safe; they put the listener on fd 3, without
    // close-on-exec, as systemd does.
    unsafe {
        command.pre_exec(move || {
            let result = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if result < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let mut buffer = [0u8; 64];
    let len = notify.recv(&mut buffer).expect("READY=1 from berthd");
    assert_eq!(&buffer[..len], b"READY=1");
    drop(listener);
    let ping = support::http(&socket, "GET", "/_ping", None);
    assert_eq!(ping.status, 200);

    support::signal(child.id(), libc::SIGTERM);
    let len = notify.recv(&mut buffer).expect("STOPPING=1 from berthd");
    assert_eq!(&buffer[..len], b"STOPPING=1");
    assert_eq!(support::wait_exit(&mut child, Duration::from_secs(30)), 0);
}

#[test]
fn fd_host_without_activation_gives_dockerds_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(support::berthd())
        .args(["--config-file", "/dev/null", "-H", "fd://"])
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .arg("--pidfile")
        .arg(dir.path().join("pid"))
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "no sockets found via socket activation: make sure the service was started by systemd"
        ),
        "{stderr}"
    );
}

#[test]
fn real_docker_cli_version_and_info() {
    support::require_tool("docker");
    let daemon = Daemon::start("{}", &[]);
    let output = Command::new("docker")
        .args(["-H", &daemon.host(), "version"])
        .env("DOCKER_CONFIG", daemon.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Server: berth"), "{stdout}");
    assert!(stdout.contains("1.44 (minimum version 1.24)"), "{stdout}");

    let output = Command::new("docker")
        .args([
            "-H",
            &daemon.host(),
            "info",
            "--format",
            "{{.ServerVersion}} {{.Driver}}",
        ])
        .env("DOCKER_CONFIG", daemon.dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("{} overlay2", env!("CARGO_PKG_VERSION"))
    );
}
