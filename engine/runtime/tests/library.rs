//! The library API as berthd and xtask use it, against the real kernel (run as root): output,
//! exit codes, and what the process sees inside the container.

mod common;

use std::fs;

use berth_runtime::oci_spec::runtime::{MountBuilder, UserBuilder};
use berth_runtime::{CreateOptions, Signal, Status};
use common::*;

#[test]
fn run_echo_prints_and_exits_zero() {
    let bundle = TestBundle::new(&["echo", "hello from berth"]);
    let (code, stdout, stderr) = run_captured(&bundle);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "hello from berth\n"),
        "stderr: {stderr}"
    );
}

#[test]
fn exit_code_is_the_process_exit_code() {
    let bundle = TestBundle::new(&["sh", "-c", "echo err >&2; exit 3"]);
    let (code, stdout, stderr) = run_captured(&bundle);
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (3, "", "err\n"));
}

#[test]
fn sigkill_gives_137_and_the_lifecycle_is_reported() {
    let bundle = TestBundle::new(&["sleep", "100"]);
    let (_root, runtime) = test_runtime();
    let id = unique_id("kill");
    let container = runtime
        .create(&id, &bundle.bundle(), CreateOptions::default())
        .unwrap();
    assert_eq!(runtime.state(&id).unwrap().status, Status::Created);
    assert_eq!(runtime.state(&id).unwrap().pid, container.pid());
    runtime.start(&id).unwrap();
    assert_eq!(runtime.state(&id).unwrap().status, Status::Running);
    assert!(
        runtime.delete(&id, false).is_err(),
        "a running container needs force"
    );
    runtime.kill(&id, Signal::SIGKILL, false).unwrap();
    let status = runtime.wait(&id).unwrap();
    assert_eq!((status.code(), status.signal()), (137, Some(9)));
    assert_eq!(runtime.state(&id).unwrap().status, Status::Stopped);
    runtime.delete(&id, false).unwrap();
    assert!(matches!(
        runtime.state(&id),
        Err(berth_runtime::Error::NotFound(_))
    ));
    for dir in cgroup_dirs(&id) {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn inside_the_container() {
    let host_dir = tempfile::tempdir().unwrap();
    fs::write(host_dir.path().join("file"), "from the host").unwrap();
    let script = "echo pid=$$; hostname; echo foo=$FOO; pwd; \
        touch /written 2>&1; cat /mnt/host/file; echo; touch /mnt/host/new 2>&1; \
        grep -E ' /data | /mnt/host | /proc ' /proc/mounts | cut -d' ' -f1-4";
    let mut bundle = TestBundle::new(&["sh", "-c", script]);
    bundle.spec.set_hostname(Some("inside-test".to_owned()));
    let process = bundle.process_mut();
    process.set_env(Some(vec!["PATH=/bin".to_owned(), "FOO=bar baz".to_owned()]));
    process.set_cwd("/data".into());
    let mut mounts = bundle.spec.mounts().clone().unwrap();
    mounts.push(tmpfs_mount("/data"));
    mounts.push(
        MountBuilder::default()
            .destination("/mnt/host")
            .typ("bind")
            .source(host_dir.path())
            .options(vec!["rbind".to_owned(), "ro".to_owned()])
            .build()
            .unwrap(),
    );
    bundle.spec.set_mounts(Some(mounts));
    let (code, stdout, stderr) = run_captured(&bundle);
    let expected = "pid=1\ninside-test\nfoo=bar baz\n/data\n\
        touch: /written: Read-only file system\nfrom the host\n\
        touch: /mnt/host/new: Read-only file system\n";
    assert!(
        stdout.starts_with(expected),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("proc /proc proc rw"), "{stdout}");
    assert!(stdout.contains("tmpfs /data tmpfs rw,nosuid"), "{stdout}");
    assert!(
        stdout.contains(" /mnt/host ") && stdout.contains(" ro,"),
        "{stdout}"
    );
    assert_eq!(code, 0);
    assert!(!bundle.rootfs().join("written").exists());
}

#[test]
fn user_and_groups_are_applied() {
    let mut bundle = TestBundle::new(&["sh", "-c", "id -u; id -g; id -G; echo $HOME"]);
    bundle.process_mut().set_user(
        UserBuilder::default()
            .uid(1000u32)
            .gid(1000u32)
            .additional_gids(vec![2000u32])
            .build()
            .unwrap(),
    );
    let (code, stdout, stderr) = run_captured(&bundle);
    assert_eq!(
        stdout, "1000\n1000\n1000 2000\n/home/user\n",
        "stderr: {stderr}"
    );
    assert_eq!(code, 0);
}

#[test]
fn stdin_is_passed_as_an_fd() {
    use std::io::{Read, Write};
    let bundle = TestBundle::new(&["tr", "a-z", "A-Z"]);
    let (_root, runtime) = test_runtime();
    let (stdin_read, stdin_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let (mut out_read, out_write) = pipe();
    let id = unique_id("stdin");
    let options = CreateOptions {
        stdin: Some(stdin_read),
        stdout: Some(out_write),
        ..Default::default()
    };
    runtime.create(&id, &bundle.bundle(), options).unwrap();
    runtime.start(&id).unwrap();
    let mut writer = fs::File::from(stdin_write);
    writer.write_all(b"shout\n").unwrap();
    drop(writer);
    assert_eq!(runtime.wait(&id).unwrap().code(), 0);
    let mut out = String::new();
    out_read.read_to_string(&mut out).unwrap();
    assert_eq!(out, "SHOUT\n");
    runtime.delete(&id, false).unwrap();
}

#[test]
fn long_state_roots_work_despite_the_unix_socket_path_limit() {
    let bundle = TestBundle::new(&["echo", "long"]);
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("a".repeat(100)).join("b".repeat(50));
    let runtime = berth_runtime::Runtime::new(&root).with_init_binary(runtime_binary());
    let (mut out_read, out_write) = pipe();
    let options = CreateOptions {
        stdout: Some(out_write),
        ..Default::default()
    };
    let status = runtime
        .run(&unique_id("long"), &bundle.bundle(), options)
        .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut out_read, &mut out).unwrap();
    assert_eq!((status.code(), out.as_str()), (0, "long\n"));
}
