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
