//! Interactive containers through berthd: `run -i` feeds stdin and closes it at the client's
//! EOF, `run -t` gives the container a pseudo-terminal, and `run -it` and `exec -it` on a
//! real terminal (a pty this test opens) pass keys in and follow its size; `start -ai` and
//! `attach` join a container's stdio; all with the real docker CLI and with berth.

mod support;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::registry::Registry;
use support::{ok, wait_exit, with_input, Daemon};

fn start_with_mirror(registry: &Registry) -> Daemon {
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    ok(daemon
        .berth()
        .args(["pull", "hello-world"])
        .output()
        .unwrap());
    daemon
}

/// A program running on a pseudo-terminal of a given size, as from a user's shell.
struct OnTerminal {
    master: std::fs::File,
    child: Child,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl OnTerminal {
    fn spawn(mut command: Command, rows: u16, columns: u16) -> OnTerminal {
        let size = nix::pty::Winsize {
            ws_row: rows,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None).unwrap();
        let slave: OwnedFd = pty.slave;
        command
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        // SAFETY: setsid and TIOCSCTTY are async-signal-safe; the child makes the pty its
        // controlling terminal, as a login shell's child has one.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        // The command holds the slave's copies; drop them so the master sees the end.
        drop(command);
        let master = std::fs::File::from(pty.master);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (mut reader, sink) = (master.try_clone().unwrap(), Arc::clone(&seen));
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(count) = reader.read(&mut buffer) {
                if count == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buffer[..count]);
            }
        });
        OnTerminal {
            master,
            child,
            seen,
        }
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.screen().contains(text) {
            assert!(
                Instant::now() < deadline,
                "{text:?} never appeared on the terminal:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_keys(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
    }
}

/// `run -it` on a 33x101 terminal: the container sees that size (sent at create or resize),
/// gets the typed line, and its exit code comes back.
fn interactive_terminal_session(client: Command) {
    let mut session = OnTerminal::spawn(client, 33, 101);
    session.wait_for("ready");
    // The size may arrive just after start (docker resizes then): ask until it is right.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !session.screen().contains("size:33 101") {
        assert!(
            Instant::now() < deadline,
            "the terminal size never reached the container:\n{}",
            session.screen()
        );
        session.type_keys("size\r");
        std::thread::sleep(Duration::from_millis(100));
    }
    session.type_keys("quit\r");
    session.wait_for("bye");
    let code = wait_exit(&mut session.child, Duration::from_secs(20));
    assert_eq!(
        code,
        3,
        "exit code; the terminal showed:\n{}",
        session.screen()
    );
}

const SESSION: &str = "echo ready; while read line; do \
    if [ \"$line\" = quit ]; then echo bye; exit 3; fi; \
    echo size:$(stty size) tty:$(tty) term:$TERM; done";

#[test]
fn docker_run_it_on_a_terminal() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    let mut docker = daemon.docker();
    docker.args(["run", "-it", "--rm", "hello-world", "sh", "-c", SESSION]);
    interactive_terminal_session(docker);
}

#[test]
fn berth_run_it_on_a_terminal() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    let mut berth = daemon.berth();
    berth.args(["run", "-it", "--rm", "hello-world", "sh", "-c", SESSION]);
    let session = {
        let mut session = OnTerminal::spawn(berth, 33, 101);
        session.wait_for("ready");
        session.type_keys("size\r");
        // berth sends the size with the create request, so the first answer has it.
        session.wait_for("size:33 101 tty:/dev/pts/0 term:xterm");
        session.type_keys("quit\r");
        session.wait_for("bye");
        session
    };
    let mut child = session.child;
    assert_eq!(wait_exit(&mut child, Duration::from_secs(20)), 3);
}

#[test]
fn run_i_feeds_stdin_until_the_clients_eof() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    let script = "cat; echo end-of-input";
    let mut docker = daemon.docker();
    docker.args(["run", "-i", "--rm", "hello-world", "sh", "-c", script]);
    let mut berth = daemon.berth();
    berth.args(["run", "-i", "--rm", "hello-world", "sh", "-c", script]);
    for client in [docker, berth] {
        let output = with_input(client, b"first line\nsecond line\n");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "first line\nsecond line\nend-of-input\n"
        );
    }
    // Without -i the container's stdin is empty.
    let output = with_input(
        {
            let mut berth = daemon.berth();
            berth.args(["run", "--rm", "hello-world", "sh", "-c", script]);
            berth
        },
        b"not for the container\n",
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "end-of-input\n");
}

#[test]
fn run_t_without_a_client_terminal() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    let script = "tty; echo $TERM";
    let mut docker = daemon.docker();
    docker.args([
        "run",
        "-t",
        "--name",
        "t1",
        "hello-world",
        "sh",
        "-c",
        script,
    ]);
    let mut berth = daemon.berth();
    berth.args([
        "run",
        "-t",
        "--name",
        "t2",
        "hello-world",
        "sh",
        "-c",
        script,
    ]);
    for (client, name) in [(docker, "t1"), (berth, "t2")] {
        let output = with_input(client, b"");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // The terminal turns \n into \r\n, as on docker.
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "/dev/pts/0\r\nxterm\r\n"
        );
        let logs = ok(daemon.berth().args(["logs", name]).output().unwrap());
        assert_eq!(logs, "/dev/pts/0\r\nxterm\r\n");
    }
    // -it needs a terminal on the client side, as docker says.
    for mut client in [daemon.docker(), daemon.berth()] {
        client.args(["run", "-it", "--rm", "hello-world", "true"]);
        let output = with_input(client, b"");
        assert_eq!(output.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&output.stderr).contains("the input device is not a TTY"));
    }
}

#[test]
fn resize_errors_name_the_problem() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    let create = daemon.request(
        "POST",
        "/containers/create?name=sized",
        Some(br#"{"Image":"hello-world","Cmd":["sleep","30"],"Tty":true}"#),
    );
    assert_eq!(create.status, 201, "{}", create.text());
    let early = daemon.request("POST", "/containers/sized/resize?h=10&w=20", None);
    assert_eq!(early.status, 409, "{}", early.text());
    assert!(early.text().contains("is not running"), "{}", early.text());
    assert_eq!(
        daemon
            .request("POST", "/containers/sized/start", None)
            .status,
        204
    );
    let bad = daemon.request("POST", "/containers/sized/resize?h=tall&w=20", None);
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("invalid h"), "{}", bad.text());
    let resized = daemon.request("POST", "/containers/sized/resize?h=10&w=20", None);
    assert_eq!(resized.status, 200, "{}", resized.text());
    let plain = daemon.request(
        "POST",
        "/containers/create?name=plain",
        Some(br#"{"Image":"hello-world","Cmd":["sleep","30"]}"#),
    );
    assert_eq!(plain.status, 201, "{}", plain.text());
    daemon.request("POST", "/containers/plain/start", None);
    let no_terminal = daemon.request("POST", "/containers/plain/resize?h=10&w=20", None);
    assert_eq!(no_terminal.status, 409, "{}", no_terminal.text());
    assert!(no_terminal.text().contains("no terminal"));
    for name in ["sized", "plain"] {
        daemon.request("DELETE", &format!("/containers/{name}?force=1"), None);
    }
}

#[test]
fn exec_it_on_a_terminal() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    ok(daemon
        .berth()
        .args(["run", "-d", "--name", "box", "hello-world", "sleep", "300"])
        .output()
        .unwrap());
    for mut client in [daemon.docker(), daemon.berth()] {
        client.args(["exec", "-it", "box", "sh", "-c", SESSION]);
        interactive_terminal_session(client);
    }
}

#[test]
fn start_ai_and_attach() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    // create -i, then start -ai with piped input: docker's and berth's.
    for (mut client, name) in [
        (daemon.docker(), "made-by-docker"),
        (daemon.berth(), "made-by-berth"),
    ] {
        ok(daemon
            .berth()
            .args([
                "create",
                "-i",
                "--name",
                name,
                "hello-world",
                "sh",
                "-c",
                "cat; exit 6",
            ])
            .output()
            .unwrap());
        client.args(["start", "-ai", name]);
        let output = with_input(client, b"piped in\n");
        assert_eq!(
            output.status.code(),
            Some(6),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout), "piped in\n");
    }
    // attach to a running -it container from a terminal.
    ok(daemon
        .berth()
        .args(["run", "-dit", "--name", "shell", "hello-world", "sh"])
        .output()
        .unwrap());
    // Each client leaves with the detach keys (docker's ctrl-p ctrl-q, or its own); the shell
    // goes on running.
    let with_keys = |mut client: Command, keys: Option<&str>| {
        client.arg("attach");
        if let Some(keys) = keys {
            client.args(["--detach-keys", keys]);
        }
        client.arg("shell");
        client
    };
    for (client, marker, typed) in [
        (with_keys(daemon.docker(), None), "docker", "\x10\x11"),
        (with_keys(daemon.berth(), None), "berth", "\x10\x11"),
        (
            with_keys(daemon.berth(), Some("ctrl-x,x")),
            "custom",
            "\x18x",
        ),
    ] {
        let mut session = OnTerminal::spawn(client, 24, 80);
        // The shell's answer, not the echo of the typed line, carries "via:NAME".
        let deadline = Instant::now() + Duration::from_secs(20);
        while !session.screen().contains(&format!("via:{marker}")) {
            assert!(Instant::now() < deadline, "no shell:\n{}", session.screen());
            session.type_keys(&format!("echo via:$((1+1)){marker} | tr -d 2\r"));
            std::thread::sleep(Duration::from_millis(200));
        }
        session.type_keys(typed);
        let code = wait_exit(&mut session.child, Duration::from_secs(20));
        if marker == "docker" {
            // docker attach reports a detach as the error "read escape sequence" (exit 1).
            assert!(
                session.screen().contains("read escape sequence"),
                "docker did not detach:\n{}",
                session.screen()
            );
        } else {
            assert_eq!(code, 0, "{marker} did not detach:\n{}", session.screen());
        }
        let state = daemon.request("GET", "/containers/shell/json", None).json();
        assert_eq!(state["State"]["Running"], true, "{marker}: {state}");
    }
    let mut client = daemon.berth();
    client.args(["attach", "shell"]);
    let mut session = OnTerminal::spawn(client, 24, 80);
    std::thread::sleep(Duration::from_millis(300));
    session.type_keys("exit 4\r");
    let code = wait_exit(&mut session.child, Duration::from_secs(20));
    assert_eq!(code, 4, "{}", session.screen());
    let refused = daemon.berth().args(["attach", "shell"]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("start it first"));
}

#[test]
fn run_it_detaches_with_the_keys_and_leaves_the_container_running() {
    let registry = Registry::with_hello_world();
    let daemon = start_with_mirror(&registry);
    for (mut client, name) in [
        (daemon.docker(), "via-docker"),
        (daemon.berth(), "via-berth"),
    ] {
        client.args(["run", "-it", "--name", name, "hello-world", "sh"]);
        let mut session = OnTerminal::spawn(client, 24, 80);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !session.screen().contains("up:3") {
            assert!(Instant::now() < deadline, "no shell:\n{}", session.screen());
            session.type_keys("echo up:$((1+2))\r");
            std::thread::sleep(Duration::from_millis(200));
        }
        session.type_keys("\x10\x11");
        let code = wait_exit(&mut session.child, Duration::from_secs(20));
        assert_eq!(code, 0, "{name} did not detach:\n{}", session.screen());
        let state = daemon
            .request("GET", &format!("/containers/{name}/json"), None)
            .json();
        assert_eq!(state["State"]["Running"], true, "{name}: {state}");
        ok(daemon.berth().args(["rm", "-f", name]).output().unwrap());
    }
    // Bad keys are refused before anything is created.
    let refused = daemon
        .berth()
        .args(["run", "--detach-keys", "ctrl-1", "hello-world", "true"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Invalid detach keys (ctrl-1)"));
}
