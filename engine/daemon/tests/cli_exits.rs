//! How the clients end where docker's exits differ from an error: an answer of 304 (already
//! started, already stopped) is success, and a reader that goes away (`berth images | head
//! -1`) ends the client quietly by SIGPIPE, not with a panic.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};

use support::registry::Registry;
use support::{ok, Daemon};

fn describe(output: &Output) -> String {
    format!(
        "{:?}: {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn stop_of_a_stopped_and_start_of_a_running_container_succeed_as_in_docker() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    ok(daemon
        .berth()
        .args(["create", "--name", "idle", "hello-world", "sleep", "600"])
        .output()
        .unwrap());
    let stop = daemon.request("POST", "/containers/idle/stop", None);
    assert_eq!(stop.status, 304, "{}", stop.text());
    for mut client in [daemon.berth(), daemon.docker()] {
        let output = client.args(["stop", "idle"]).output().unwrap();
        assert!(output.status.success(), "{}", describe(&output));
        assert_eq!(String::from_utf8_lossy(&output.stdout), "idle\n");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    }
    ok(daemon.berth().args(["start", "idle"]).output().unwrap());
    let start = daemon.request("POST", "/containers/idle/start", None);
    assert_eq!(start.status, 304, "{}", start.text());
    for mut client in [daemon.berth(), daemon.docker()] {
        let output = client.args(["start", "idle"]).output().unwrap();
        assert!(output.status.success(), "{}", describe(&output));
        assert_eq!(String::from_utf8_lossy(&output.stdout), "idle\n");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    }
    ok(daemon.berth().args(["rm", "-f", "idle"]).output().unwrap());
}

/// Runs `command` with its stdout a pipe whose reading end is already closed, as
/// `… | head -1` leaves it once head has exited.
fn into_closed_pipe(mut command: Command) -> Output {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    command
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_by_sigpipe_as_docker_does() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    daemon.pull("hello-world");
    ok(daemon
        .berth()
        .args(["run", "--name", "talker", "hello-world"])
        .output()
        .unwrap());
    for args in [
        &["images"][..],
        &["ps", "-a"],
        &["logs", "talker"],
        &["inspect", "talker"],
    ] {
        let mut docker = daemon.docker();
        docker.args(args);
        let docker = into_closed_pipe(docker);
        let mut berth = daemon.berth();
        berth.args(args);
        let berth = into_closed_pipe(berth);
        assert_eq!(
            docker.status.signal(),
            Some(libc::SIGPIPE),
            "docker {args:?}"
        );
        assert_eq!(
            (
                berth.status.signal(),
                String::from_utf8_lossy(&berth.stderr).as_ref()
            ),
            (Some(libc::SIGPIPE), ""),
            "berth {args:?}: {}",
            describe(&berth)
        );
    }
}
