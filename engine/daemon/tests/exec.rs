//! `docker exec` and `berth exec` against berthd: output, stderr and exit codes, stdin with
//! `-i`, user, workdir and env, detached execs, the container's namespaces, and refusals (a
//! missing program, a stopped container, an unknown exec id); pause and unpause.

mod support;

use support::registry::Registry;
use support::{ok, with_input, Daemon};

fn with_box(registry: &Registry) -> Daemon {
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    ok(daemon
        .berth()
        .args(["run", "-d", "--name", "box", "hello-world", "sleep", "300"])
        .output()
        .unwrap());
    daemon
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn exec_runs_in_the_container_with_its_streams_and_exit_code() {
    let registry = Registry::with_hello_world();
    let daemon = with_box(&registry);
    for client in [daemon.docker(), daemon.berth()] {
        let name = format!("{:?}", client.get_program());
        let mut command = client;
        command.args([
            "exec",
            "box",
            "sh",
            "-c",
            "echo out; echo err >&2; cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 4",
        ]);
        let output = with_input(command, b"");
        assert_eq!(
            output.status.code(),
            Some(4),
            "{name}: {}",
            text(&output.stderr)
        );
        assert_eq!(text(&output.stdout), "out\nsleep 300 \n", "{name}");
        assert_eq!(text(&output.stderr), "err\n", "{name}");
    }
}

#[test]
fn exec_i_user_workdir_env_and_detach() {
    let registry = Registry::with_hello_world();
    let daemon = with_box(&registry);
    for program in ["docker", "berth"] {
        let client = || {
            if program == "docker" {
                daemon.docker()
            } else {
                daemon.berth()
            }
        };
        let mut cat = client();
        cat.args(["exec", "-i", "box", "sh", "-c", "cat; echo eof"]);
        let output = with_input(cat, b"one\ntwo\n");
        assert!(
            output.status.success(),
            "{program}: {}",
            text(&output.stderr)
        );
        assert_eq!(text(&output.stdout), "one\ntwo\neof\n", "{program}");

        let mut who = client();
        who.args(["exec", "-u", "1000:1000", "-w", "/bin", "-e", "GREETING=hi"])
            .args(["box", "sh", "-c", "id -u; id -g; pwd; echo $GREETING"]);
        let output = with_input(who, b"");
        assert!(
            output.status.success(),
            "{program}: {}",
            text(&output.stderr)
        );
        assert_eq!(text(&output.stdout), "1000\n1000\n/bin\nhi\n", "{program}");

        let marker = format!("/dev/shm/detached-{program}");
        let mut detached = client();
        detached.args([
            "exec",
            "-d",
            "box",
            "sh",
            "-c",
            &format!("sleep 0.2; touch {marker}"),
        ]);
        let output = with_input(detached, b"");
        assert!(
            output.status.success(),
            "{program}: {}",
            text(&output.stderr)
        );
        assert_eq!(text(&output.stdout), "", "{program}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mut check = client();
            check.args(["exec", "box", "ls", &marker]);
            if with_input(check, b"").status.success() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{program}: -d never ran"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

#[test]
fn exec_refusals_name_the_problem() {
    let registry = Registry::with_hello_world();
    let daemon = with_box(&registry);
    for client in [daemon.docker(), daemon.berth()] {
        let mut command = client;
        command.args(["exec", "box", "no-such-program"]);
        let output = with_input(command, b"");
        // As with dockerd: the reason in the stream, 127 as a shell gives for "not found".
        let said = text(&output.stdout) + &text(&output.stderr);
        assert_eq!(output.status.code(), Some(127), "{said}");
        assert!(said.contains("\"no-such-program\" not found"), "{said}");
    }
    let created = daemon.request(
        "POST",
        "/containers/box/exec",
        Some(br#"{"Cmd":["true"],"AttachStdout":true}"#),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["Id"].as_str().unwrap().to_owned();
    let started = daemon.request(
        "POST",
        &format!("/exec/{id}/start"),
        Some(br#"{"Detach":true}"#),
    );
    assert_eq!(started.status, 200, "{}", started.text());
    let again = daemon.request(
        "POST",
        &format!("/exec/{id}/start"),
        Some(br#"{"Detach":true}"#),
    );
    assert_eq!(again.status, 409, "{}", again.text());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let inspect = daemon
            .request("GET", &format!("/exec/{id}/json"), None)
            .json();
        if inspect["Running"] == false && inspect["ExitCode"] == 0 {
            assert_eq!(inspect["ProcessConfig"]["entrypoint"], "true");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{inspect}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let empty = daemon.request("POST", "/containers/box/exec", Some(br#"{"Cmd":[]}"#));
    assert_eq!(empty.status, 400, "{}", empty.text());
    let unknown = daemon.request("GET", "/exec/0123456789ab/json", None);
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    assert!(unknown.text().contains("No such exec instance"));

    ok(daemon.berth().args(["kill", "box"]).output().unwrap());
    ok(daemon.berth().args(["wait", "box"]).output().unwrap());
    for client in [daemon.docker(), daemon.berth()] {
        let mut command = client;
        command.args(["exec", "box", "true"]);
        let output = with_input(command, b"");
        assert!(!output.status.success());
        assert!(
            text(&output.stderr).contains("is not running"),
            "{}",
            text(&output.stderr)
        );
    }
}

#[test]
fn pause_and_unpause_freeze_the_container() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    ok(daemon
        .berth()
        .args(["run", "-d", "--name", "ticker", "hello-world"])
        .args(["sh", "-c", "while :; do echo tick; sleep 0.05; done"])
        .output()
        .unwrap());
    let ticks = || {
        let logs = ok(daemon.berth().args(["logs", "ticker"]).output().unwrap());
        logs.lines().count()
    };
    ok(daemon.docker().args(["pause", "ticker"]).output().unwrap());
    let frozen = ticks();
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(ticks(), frozen, "the container printed while paused");
    let inspect = daemon
        .request("GET", "/containers/ticker/json", None)
        .json();
    assert_eq!(inspect["State"]["Status"], "paused");
    assert_eq!(inspect["State"]["Paused"], true);
    assert_eq!(inspect["State"]["Running"], true);
    let ps = ok(daemon.docker().args(["ps"]).output().unwrap());
    assert!(ps.contains("(Paused)"), "{ps}");
    let again = daemon.request("POST", "/containers/ticker/pause", None);
    assert_eq!(again.status, 409, "{}", again.text());
    assert!(again.text().contains("already paused"));
    let exec = daemon
        .docker()
        .args(["exec", "ticker", "true"])
        .output()
        .unwrap();
    assert!(!exec.status.success());
    assert!(
        text(&exec.stderr).contains("is paused"),
        "{}",
        text(&exec.stderr)
    );

    ok(daemon.berth().args(["unpause", "ticker"]).output().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ticks() == frozen {
        assert!(
            std::time::Instant::now() < deadline,
            "still frozen after unpause"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let not_paused = daemon.request("POST", "/containers/ticker/unpause", None);
    assert_eq!(not_paused.status, 409, "{}", not_paused.text());

    // A paused container still stops.
    ok(daemon.berth().args(["pause", "ticker"]).output().unwrap());
    let stop = daemon
        .docker()
        .args(["stop", "-t", "1", "ticker"])
        .output()
        .unwrap();
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    let inspect = daemon
        .request("GET", "/containers/ticker/json", None)
        .json();
    assert_eq!(inspect["State"]["Status"], "exited", "{inspect}");
    assert_eq!(inspect["State"]["Paused"], false);
}
