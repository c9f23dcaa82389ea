//! The runtime's security properties, checked on the real kernel: the runtime binary cannot be
//! overwritten through init's /proc/PID/exe (CVE-2019-5736), no host fd reaches the container and the cwd cannot escape it
//! (CVE-2024-21626).

mod common;

use std::os::fd::{FromRawFd, OwnedFd};

use berth_runtime::CreateOptions;
use common::*;

#[test]
fn the_runtime_binary_cannot_be_written_through_init() {
    let bundle = TestBundle::new(&["true"]);
    let (_root, runtime) = test_runtime();
    let id = unique_id("exe");
    let container = runtime
        .create(&id, &bundle.bundle(), CreateOptions::default())
        .unwrap();
    let exe_link = format!("/proc/{}/exe", container.pid());
    let shown = std::fs::read_link(&exe_link).unwrap();
    // The attack of CVE-2019-5736: reopen init's executable for writing and overwrite it.
    let attack = std::fs::OpenOptions::new()
        .write(true)
        .open(&exe_link)
        .and_then(|mut exe| std::io::Write::write_all(&mut exe, b"#!/bin/sh\n"));
    let kernel_uses_overlay = {
        let fd = std::fs::File::open(&exe_link).unwrap();
        let fs = nix::sys::statfs::fstatfs(&fd).unwrap();
        fs.filesystem_type() == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC
    };
    runtime.delete(&id, true).unwrap();
    let error = attack.expect_err("writing the runtime binary through /proc/PID/exe worked");
    assert_ne!(
        shown,
        std::path::Path::new(runtime_binary()),
        "init runs from the host binary"
    );
    assert!(
        matches!(error.raw_os_error(), Some(libc::EROFS | libc::EPERM)),
        "unexpected error {error}"
    );
    let binary = std::fs::read(runtime_binary()).unwrap();
    assert!(binary.starts_with(b"\x7fELF"), "the binary was changed");
    // With the new mount API (5.2+) and root, the handle is the zero-copy overlay.
    if kernel_at_least(5, 2) {
        assert!(kernel_uses_overlay, "init runs from {}", shown.display());
    }
}

/// Opens a host directory without O_CLOEXEC, as a careless caller might leak it.
fn leaked_host_dir() -> OwnedFd {
    let fd = unsafe { libc::open(c"/".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
    assert!(fd >= 0);
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[test]
fn leaked_fds_do_not_reach_the_container() {
    let leaked = leaked_host_dir();
    let bundle = TestBundle::new(&["ls", "/proc/self/fd"]);
    let (code, stdout, stderr) = run_captured(&bundle);
    drop(leaked);
    // ls itself holds fd 3 for the directory it lists.
    assert_eq!((code, stdout.as_str()), (0, "0\n1\n2\n3\n"), "{stderr}");
}

#[test]
fn a_cwd_through_a_leaked_fd_is_refused() {
    use std::os::fd::AsRawFd;
    let leaked = leaked_host_dir();
    let mut bundle = TestBundle::new(&["pwd"]);
    bundle
        .process_mut()
        .set_cwd(format!("/proc/self/fd/{}", leaked.as_raw_fd()).into());
    let (_root, runtime) = test_runtime();
    let id = unique_id("cwd");
    let err = runtime
        .create(&id, &bundle.bundle(), CreateOptions::default())
        .unwrap_err()
        .to_string();
    drop(leaked);
    assert!(err.contains("process.cwd"), "{err}");
    assert!(runtime.state(&id).is_err(), "nothing may be left behind");
}

fn kernel_at_least(major: u32, minor: u32) -> bool {
    let uname = nix::sys::utsname::uname().unwrap();
    let release = uname.release().to_string_lossy().into_owned();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)) >= (major, minor)
}

/// A host directory an attacking image points at, named as the attack's would be.
fn attack_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("berth-attack-")
        .tempdir_in("/tmp")
        .unwrap()
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn dev_symlink_does_not_create_nodes_on_the_host() {
    let host = attack_dir();
    let bundle = TestBundle::new(&[
        "sh",
        "-c",
        "test -c /dev/null && test -c /dev/urandom && test -L /dev/fd && echo ok >/dev/null && echo dev-ok",
    ]);
    let dev = bundle.rootfs().join("dev");
    std::fs::remove_dir(&dev).unwrap();
    std::os::unix::fs::symlink(host.path(), &dev).unwrap();
    let (_root, runtime) = test_runtime();
    let (mut out_read, out_write) = pipe();
    let options = CreateOptions {
        stdout: Some(out_write),
        ..Default::default()
    };
    let status = runtime.run(&unique_id("dev"), &bundle.bundle(), options);
    assert_eq!(
        entries(host.path()),
        Vec::<String>::new(),
        "berth-runtime made nodes or links in the host's {}",
        host.path().display()
    );
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut out_read, &mut stdout).unwrap();
    assert_eq!(
        (
            status.map(|s| s.code()).map_err(|e| e.to_string()),
            stdout.as_str()
        ),
        (Ok(0), "dev-ok\n")
    );
}

#[test]
fn a_symlink_chain_of_256_links_does_not_escape_the_rootfs() {
    let host = attack_dir();
    let mut bundle = TestBundle::new(&["true"]);
    let rootfs = bundle.rootfs();
    for i in 0..256 {
        let target = if i == 255 {
            host.path().to_path_buf()
        } else {
            std::path::PathBuf::from(format!("/l{}", i + 1))
        };
        std::os::unix::fs::symlink(target, rootfs.join(format!("l{i}"))).unwrap();
    }
    bundle
        .spec
        .mounts_mut()
        .as_mut()
        .unwrap()
        .push(tmpfs_mount("/l0/escaped"));
    let (_root, runtime) = test_runtime();
    let id = unique_id("chain");
    let result = runtime.create(&id, &bundle.bundle(), CreateOptions::default());
    let listed = entries(host.path());
    if result.is_ok() {
        runtime.delete(&id, true).unwrap();
    }
    assert_eq!(
        listed,
        Vec::<String>::new(),
        "a mount point was made on the host"
    );
    let Err(err) = result else {
        panic!("a 256-link chain was accepted");
    };
    let err = err.to_string();
    assert!(
        err.contains("/l0/escaped") && err.contains("Too many levels of symbolic links"),
        "{err}"
    );
    assert!(runtime.state(&id).is_err(), "nothing may be left behind");
}

/// Runs `script` in a busybox container and returns its exit code and stdout and stderr.
fn run_script(bundle: &TestBundle) -> (i32, String) {
    let (code, stdout, stderr) = run_captured(bundle);
    (code, format!("{stdout}{stderr}"))
}

#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    // With lo down, connecting to 127.0.0.1 fails with "Network is unreachable"; with it up,
    // nothing listens on port 1 and the connection is refused.
    let bundle = TestBundle::new(&[
        "sh",
        "-c",
        "ip -o addr show dev lo; ip -o link show dev lo; nc 127.0.0.1 1 </dev/null; true",
    ]);
    let (code, output) = run_script(&bundle);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("inet 127.0.0.1/8"), "{output}");
    assert!(output.contains("<LOOPBACK,UP,LOWER_UP>"), "{output}");
    assert!(output.contains("Connection refused"), "{output}");
}

#[test]
fn a_missing_cwd_is_made_inside_the_rootfs() {
    let host = attack_dir();
    let mut bundle = TestBundle::new(&["sh", "-c", "pwd; stat -c '%u:%g %a' ."]);
    std::os::unix::fs::symlink(host.path(), bundle.rootfs().join("away")).unwrap();
    bundle.process_mut().set_cwd("/away/new/dir".into());
    let (code, output) = run_script(&bundle);
    assert_eq!(
        entries(host.path()),
        Vec::<String>::new(),
        "made on the host"
    );
    let inside = host.path().strip_prefix("/").unwrap();
    assert_eq!(
        (code, output),
        (0, format!("/{}/new/dir\n0:0 755\n", inside.display()))
    );
    assert!(bundle.rootfs().join(inside).join("new/dir").is_dir());
}
