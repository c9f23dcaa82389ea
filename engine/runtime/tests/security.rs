//! The runtime's security properties, checked on the real kernel: init runs from a sealed
//! memfd (CVE-2019-5736), no host fd reaches the container and the cwd cannot escape it
//! (CVE-2024-21626).

mod common;

use std::os::fd::{FromRawFd, OwnedFd};

use berth_runtime::CreateOptions;
use common::*;

#[test]
fn init_runs_from_a_sealed_memfd_not_the_host_binary() {
    let bundle = TestBundle::new(&["true"]);
    let (_root, runtime) = test_runtime();
    let id = unique_id("memfd");
    let container = runtime
        .create(&id, &bundle.bundle(), CreateOptions::default())
        .unwrap();
    let exe = std::fs::read_link(format!("/proc/{}/exe", container.pid())).unwrap();
    runtime.delete(&id, true).unwrap();
    let exe = exe.to_string_lossy().into_owned();
    assert!(
        exe.starts_with("/memfd:berth-runtime"),
        "init runs from {exe}"
    );
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
