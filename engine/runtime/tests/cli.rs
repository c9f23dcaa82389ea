//! The berth-runtime command line against the real kernel: the lifecycle, leftovers after
//! many runs, parity with runc, and one-line errors for bad input.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn status_of(root: &Path, id: &str) -> String {
    let output = cli(root, &["state", id]);
    assert!(output.status.success(), "state: {}", stderr(&output));
    let state: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    state["status"].as_str().unwrap().to_owned()
}

#[test]
fn lifecycle_create_start_kill_delete() {
    let bundle = TestBundle::new(&["sleep", "100"]);
    bundle.write_config();
    let root = tempfile::tempdir().unwrap();
    let id = unique_id("life");
    let pid_file = bundle.path().join("pid");
    let bundle_arg = bundle.path().to_str().unwrap();
    let output = cli(
        root.path(),
        &[
            "create",
            "--bundle",
            bundle_arg,
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
        ],
    );
    assert!(output.status.success(), "create: {}", stderr(&output));
    assert_eq!(status_of(root.path(), &id), "created");

    let state = cli(root.path(), &["state", &id]);
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["bundle"], bundle_arg);
    assert_eq!(
        state["pid"].to_string(),
        fs::read_to_string(&pid_file).unwrap()
    );
    for key in ["ociVersion", "rootfs", "created", "owner"] {
        assert!(state.get(key).is_some(), "state lacks {key}: {state}");
    }
    let listed = cli(root.path(), &["list", "--quiet"]);
    assert_eq!(stdout(&listed), format!("{id}\n"));

    assert!(cli(root.path(), &["start", &id]).status.success());
    assert_eq!(status_of(root.path(), &id), "running");
    assert!(
        !cli(root.path(), &["start", &id]).status.success(),
        "started twice"
    );

    assert!(cli(root.path(), &["kill", &id, "KILL"]).status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_of(root.path(), &id) != "stopped" {
        assert!(Instant::now() < deadline, "container did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = cli(root.path(), &["delete", &id]);
    assert!(output.status.success(), "delete: {}", stderr(&output));
    assert!(!cli(root.path(), &["state", &id]).status.success());
    assert!(fs::read_dir(root.path()).unwrap().next().is_none());
}

#[test]
fn run_exit_code_is_the_containers() {
    let bundle = TestBundle::new(&["sh", "-c", "echo out; exit 3"]);
    bundle.write_config();
    let root = tempfile::tempdir().unwrap();
    let output = cli(
        root.path(),
        &[
            "run",
            "--bundle",
            bundle.path().to_str().unwrap(),
            &unique_id("code"),
        ],
    );
    assert_eq!(
        (output.status.code(), stdout(&output).as_str()),
        (Some(3), "out\n")
    );
}

/// Processes whose root is inside `rootfs` (a container process left behind).
fn processes_rooted_in(rootfs: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(root) = fs::read_link(entry.path().join("root")) {
            if root.starts_with(rootfs) {
                found.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    found
}

#[test]
fn a_hundred_runs_leave_nothing_behind() {
    let bundle = TestBundle::new(&["true"]);
    bundle.write_config();
    let root = tempfile::tempdir().unwrap();
    let prefix = unique_id("hundred");
    let rootfs = bundle.rootfs().canonicalize().unwrap();
    let rootfs_text = rootfs.to_str().unwrap().to_owned();
    for run in 0..100 {
        let id = format!("{prefix}-{run}");
        let output = cli(
            root.path(),
            &["run", "--bundle", bundle.path().to_str().unwrap(), &id],
        );
        assert!(output.status.success(), "run {run}: {}", stderr(&output));
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(&rootfs_text),
        "mounts left behind:\n{mountinfo}"
    );
    for run in 0..100 {
        for dir in cgroup_dirs(&format!("{prefix}-{run}")) {
            assert!(!dir.exists(), "{} left behind", dir.display());
        }
    }
    assert_eq!(processes_rooted_in(&rootfs), Vec::<String>::new());
    assert!(
        fs::read_dir(root.path()).unwrap().next().is_none(),
        "state left behind"
    );
}

#[test]
fn runc_and_berth_runtime_agree() {
    assert!(
        Command::new("runc").arg("--version").output().is_ok(),
        "runc is missing: run `cargo xtask test`, which installs it"
    );
    let script =
        "echo out; hostname; id; echo $GREETING; ls /; cat /proc/self/status | grep CapEff; \
        echo err >&2; exit 5";
    let mut bundle = TestBundle::new(&["sh", "-c", script]);
    bundle
        .process_mut()
        .set_env(Some(vec!["PATH=/bin".into(), "GREETING=hi there".into()]));
    bundle.write_config();
    let bundle_arg = bundle.path().to_str().unwrap();
    let berth_root = tempfile::tempdir().unwrap();
    let berth = cli(
        berth_root.path(),
        &["run", "--bundle", bundle_arg, &unique_id("parity")],
    );
    let runc_root = tempfile::tempdir().unwrap();
    let runc = Command::new("runc")
        .arg("--root")
        .arg(runc_root.path())
        .args(["run", "--bundle", bundle_arg, &unique_id("parity-runc")])
        .output()
        .unwrap();
    assert_eq!(runc.status.code(), Some(5), "runc: {}", stderr(&runc));
    assert_eq!(
        berth.status.code(),
        Some(5),
        "berth-runtime: {}",
        stderr(&berth)
    );
    assert_eq!(stdout(&berth), stdout(&runc));
    assert_eq!(stderr(&berth), "err\n");
}

/// Runs `args` expecting exit 1 with a one-line error that mentions `needle`.
fn assert_bad(root: &Path, args: &[&str], needle: &str) {
    let output = cli(root, args);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{args:?}: {message}");
    assert_eq!(
        message.lines().count(),
        1,
        "{args:?}: not one line: {message}"
    );
    assert!(
        message.contains(needle),
        "{args:?}: {message:?} should name {needle:?}"
    );
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn assert_nothing_left(root: &Path, id: &str) {
    assert!(!root.join(id).exists(), "state of {id} left behind");
    for dir in cgroup_dirs(id) {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn bad_input_gives_one_line_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let bundle = TestBundle::new(&["true"]);
    let bundle_arg = bundle.path().to_str().unwrap();
    let create = |id: &str| -> Vec<String> {
        ["create", "--bundle", bundle_arg, id]
            .map(str::to_owned)
            .to_vec()
    };

    let id = unique_id("noconfig");
    assert_bad(root.path(), &refs(&create(&id)), "config.json");
    assert_nothing_left(root.path(), &id);

    fs::write(bundle.path().join("config.json"), "{\"ociVersion\": ").unwrap();
    assert_bad(root.path(), &refs(&create(&id)), "config.json");
    assert_nothing_left(root.path(), &id);

    let mut config = serde_json::to_value(&bundle.spec).unwrap();
    config["linux"]["namespaces"][1]["type"] = "bogus".into();
    fs::write(bundle.path().join("config.json"), config.to_string()).unwrap();
    assert_bad(root.path(), &refs(&create(&id)), "linux.namespaces[1].type");
    assert_nothing_left(root.path(), &id);

    let mut config = serde_json::to_value(&bundle.spec).unwrap();
    config["root"]["path"] = "no-such-rootfs".into();
    fs::write(bundle.path().join("config.json"), config.to_string()).unwrap();
    assert_bad(root.path(), &refs(&create(&id)), "root.path");
    assert_nothing_left(root.path(), &id);

    let mut config = serde_json::to_value(&bundle.spec).unwrap();
    config["linux"]["resources"]["memory"] = serde_json::json!({"limit": -5});
    fs::write(bundle.path().join("config.json"), config.to_string()).unwrap();
    assert_bad(
        root.path(),
        &refs(&create(&id)),
        "linux.resources.memory.limit",
    );
    assert_nothing_left(root.path(), &id);

    for bad_id in ["../x", "a/b"] {
        bundle.write_config();
        assert_bad(root.path(), &refs(&create(bad_id)), "invalid container id");
        assert!(!root.path().join("x").exists() && !root.path().join("a").exists());
    }

    // A duplicate id fails and leaves the first container intact.
    let sleeper = TestBundle::new(&["sleep", "100"]);
    sleeper.write_config();
    let sleeper_arg = sleeper.path().to_str().unwrap().to_owned();
    let id = unique_id("dup");
    let first = cli(root.path(), &["create", "--bundle", &sleeper_arg, &id]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_bad(
        root.path(),
        &["create", "--bundle", &sleeper_arg, &id],
        "already exists",
    );
    assert_eq!(status_of(root.path(), &id), "created");
    assert_bad(root.path(), &["kill", &id, "SIGBOGUS"], "unknown signal");
    assert_eq!(status_of(root.path(), &id), "created");
    assert!(cli(root.path(), &["delete", "--force", &id])
        .status
        .success());
    assert_nothing_left(root.path(), &id);
}

#[test]
fn spec_writes_a_loadable_default_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    assert!(cli(root.path(), &["spec", "--bundle", dir_arg])
        .status
        .success());
    let spec: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(spec["root"]["path"], "rootfs");
    assert_eq!(spec["process"]["args"][0], "sh");
    assert_bad(root.path(), &["spec", "--bundle", dir_arg], "config.json");
}

#[test]
fn version_names_the_build() {
    let output = Command::new(runtime_binary())
        .arg("--version")
        .output()
        .unwrap();
    let text = stdout(&output);
    assert!(
        text.starts_with("berth-runtime version 0.1.0, build "),
        "{text}"
    );
}

#[test]
fn run_forwards_signals_to_the_container() {
    let script = "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done";
    let bundle = TestBundle::new(&["sh", "-c", script]);
    bundle.write_config();
    let root = tempfile::tempdir().unwrap();
    let out_path = bundle.path().join("out");
    let out = fs::File::create(&out_path).unwrap();
    let mut child = Command::new(runtime_binary())
        .arg("--root")
        .arg(root.path())
        .args([
            "run",
            "--bundle",
            bundle.path().to_str().unwrap(),
            &unique_id("sig"),
        ])
        .stdout(out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fs::read_to_string(&out_path).unwrap().contains("ready") {
        assert!(Instant::now() < deadline, "container never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7));
    assert_eq!(fs::read_to_string(&out_path).unwrap(), "ready\ngot TERM\n");
}

#[test]
fn console_socket_receives_the_pty_master() {
    use std::io::{IoSliceMut, Read};
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::io::AsRawFd;
    use std::os::unix::net::UnixListener;

    let mut bundle = TestBundle::new(&["sh", "-c", "tty; echo through the pty"]);
    bundle.process_mut().set_terminal(Some(true));
    bundle.write_config();
    let root = tempfile::tempdir().unwrap();
    let socket_path = bundle.path().join("console.sock");
    let listener = UnixListener::bind(&socket_path).unwrap();
    let id = unique_id("tty");
    let args: Vec<String> = [
        "create",
        "--bundle",
        bundle.path().to_str().unwrap(),
        "--console-socket",
        socket_path.to_str().unwrap(),
        &id,
    ]
    .map(str::to_owned)
    .to_vec();
    let root_path = root.path().to_owned();
    let creator = std::thread::spawn(move || cli(&root_path, &refs(&args)));
    let (stream, _) = listener.accept().unwrap();
    let mut name = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let message = nix::sys::socket::recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::empty(),
    )
    .unwrap();
    let master = message
        .cmsgs()
        .unwrap()
        .find_map(|cmsg| match cmsg {
            nix::sys::socket::ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .expect("no fd received");
    let mut master = fs::File::from(unsafe { OwnedFd::from_raw_fd(master) });
    let created = creator.join().unwrap();
    assert!(created.status.success(), "create: {}", stderr(&created));
    assert!(cli(root.path(), &["start", &id]).status.success());
    let mut output = Vec::new();
    let _ = master.read_to_end(&mut output); // ends with EIO once the slave closes
    let output = String::from_utf8_lossy(&output);
    assert!(output.contains("/dev/pts/0"), "{output}");
    assert!(output.contains("through the pty"), "{output}");
    assert!(cli(root.path(), &["delete", "--force", &id])
        .status
        .success());
}

#[test]
fn json_log_lines_name_the_error() {
    let root = tempfile::tempdir().unwrap();
    let log = root.path().join("log.json");
    let output = cli(
        root.path(),
        &[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "start",
            "no-such-container",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let text = fs::read_to_string(&log).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(
        line["msg"].as_str().unwrap().contains("no-such-container"),
        "{line}"
    );
}

#[test]
fn without_a_pid_namespace_run_reaps_and_kills_what_init_leaves() {
    let mut bundle = TestBundle::new(&["sh", "-c", "sleep 100 & echo started"]);
    let namespaces = bundle.linux_mut().namespaces().clone().unwrap();
    let without_pid = namespaces
        .into_iter()
        .filter(|ns| ns.typ() != berth_runtime::oci_spec::runtime::LinuxNamespaceType::Pid)
        .collect();
    bundle.linux_mut().set_namespaces(Some(without_pid));
    bundle.write_config();
    let root = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = cli(
        root.path(),
        &[
            "run",
            "--bundle",
            bundle.path().to_str().unwrap(),
            &unique_id("nopidns"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "started\n");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "run waited for the orphan"
    );
    let rootfs = bundle.rootfs().canonicalize().unwrap();
    assert_eq!(processes_rooted_in(&rootfs), Vec::<String>::new());
}

#[test]
fn exec_runs_in_a_running_container() {
    let mut bundle = TestBundle::new(&["sleep", "30"]);
    bundle.spec.set_hostname(Some("cli-exec".to_owned()));
    bundle.write_config();
    let root = tempfile::tempdir().unwrap();
    let id = unique_id("cli-exec");
    let bundle_path = bundle.path().to_str().unwrap();
    assert!(cli(root.path(), &["create", "--bundle", bundle_path, &id])
        .status
        .success());
    assert!(cli(root.path(), &["start", &id]).status.success());

    let output = cli(
        root.path(),
        &[
            "exec",
            "--env",
            "A=b",
            "--cwd",
            "/tmp",
            "--user",
            "1000:1000",
            &id,
            "sh",
            "-c",
            "echo $A $(pwd) $(id -u):$(id -g) $(hostname); exit 3",
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(stdout(&output), "b /tmp 1000:1000 cli-exec\n");

    let process = bundle.path().join("process.json");
    std::fs::write(
        &process,
        r#"{"args":["sh","-c","echo from process.json"],"cwd":"/","env":["PATH=/bin"],
            "user":{"uid":0,"gid":0}}"#,
    )
    .unwrap();
    let output = cli(
        root.path(),
        &["exec", "--process", process.to_str().unwrap(), &id],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "from process.json\n");

    let missing = cli(root.path(), &["exec", &id, "no-such-program"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no-such-program"),
        "{}",
        stderr(&missing)
    );
    let unknown = cli(root.path(), &["exec", "nobody-here", "true"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("nobody-here"),
        "{}",
        stderr(&unknown)
    );

    assert!(cli(root.path(), &["delete", "--force", &id])
        .status
        .success());
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let bundle = TestBundle::new(&[
        "sh",
        "-c",
        "while :; do date +%s%N > /tmp/tick; sleep 0.01; done",
    ]);
    bundle.write_config();
    let root = tempfile::tempdir().unwrap();
    let id = unique_id("pause");
    let bundle_path = bundle.path().to_str().unwrap();
    let mut writable = bundle.spec.clone();
    writable
        .root_mut()
        .as_mut()
        .unwrap()
        .set_readonly(Some(false));
    std::fs::write(
        bundle.path().join("config.json"),
        serde_json::to_vec(&writable).unwrap(),
    )
    .unwrap();
    assert!(cli(root.path(), &["create", "--bundle", bundle_path, &id])
        .status
        .success());
    let refused = cli(root.path(), &["pause", &id]);
    assert!(
        stderr(&refused).contains("created: cannot pause"),
        "{}",
        stderr(&refused)
    );
    assert!(cli(root.path(), &["start", &id]).status.success());
    let tick = bundle.rootfs().join("tmp/tick");
    let read_tick = || std::fs::read_to_string(&tick).unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while read_tick().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the loop never ticked"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    let paused = cli(root.path(), &["pause", &id]);
    assert!(paused.status.success(), "{}", stderr(&paused));
    assert!(stdout(&cli(root.path(), &["state", &id])).contains("\"status\": \"paused\""));
    let frozen_at = read_tick();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(read_tick(), frozen_at, "the container ran while paused");
    let again = cli(root.path(), &["pause", &id]);
    assert!(
        stderr(&again).contains("paused: cannot pause"),
        "{}",
        stderr(&again)
    );

    assert!(cli(root.path(), &["resume", &id]).status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while read_tick() == frozen_at {
        assert!(
            std::time::Instant::now() < deadline,
            "the container stayed frozen"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(stdout(&cli(root.path(), &["state", &id])).contains("\"status\": \"running\""));
    // A paused container can still be deleted by force.
    assert!(cli(root.path(), &["pause", &id]).status.success());
    let deleted = cli(root.path(), &["delete", "--force", &id]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    for dir in cgroup_dirs(&id) {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
