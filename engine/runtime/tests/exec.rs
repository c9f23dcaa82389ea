//! `Runtime::exec` on the real kernel: a second process in a running container shares its
//! namespaces and cgroup, gets its own args, env, cwd and user, and reports its exit code;
//! a missing program and a stopped container are refused with the reason.

mod common;

use berth_runtime::oci_spec::runtime::{Process, ProcessBuilder, UserBuilder};
use berth_runtime::{CreateOptions, Signal};
use common::*;

fn process(bundle: &TestBundle, args: &[&str]) -> Process {
    let mut process = ProcessBuilder::default()
        .args(args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
        .env(vec!["PATH=/bin".to_owned(), "WHO=exec".to_owned()])
        .cwd("/tmp")
        .build()
        .unwrap();
    process.set_capabilities(
        bundle
            .spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .clone(),
    );
    process
}

fn captured(stdout: std::os::fd::OwnedFd) -> CreateOptions {
    CreateOptions {
        stdout: Some(stdout),
        ..Default::default()
    }
}

#[test]
fn exec_joins_the_running_container() {
    let mut bundle = TestBundle::new(&["sleep", "30"]);
    bundle.spec.set_hostname(Some("exec-host".to_owned()));
    let (_root, runtime) = test_runtime();
    let id = unique_id("exec");
    let container = runtime
        .create(&id, &bundle.bundle(), CreateOptions::default())
        .unwrap();
    runtime.start(&id).unwrap();

    let script = "echo pid1=$(cat /proc/1/cmdline | tr '\\0' ' '); echo host=$(hostname); \
        echo who=$WHO cwd=$(pwd) uid=$(id -u); exit 3";
    let (mut out, write) = pipe();
    let mut as_user = process(&bundle, &["sh", "-c", script]);
    as_user.set_user(
        UserBuilder::default()
            .uid(1000u32)
            .gid(1000u32)
            .build()
            .unwrap(),
    );
    let exec = runtime
        .exec(&id, &bundle.spec, as_user, captured(write))
        .unwrap();
    assert_ne!(exec.pid(), container.pid());
    let status = exec.wait().unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut out, &mut text).unwrap();
    assert_eq!(status.code(), 3, "{text}");
    assert_eq!(
        text,
        "pid1=sleep 30\nhost=exec-host\nwho=exec cwd=/tmp uid=1000\n"
    );
    // The same cgroups as the container's init, seen from the host.
    let cgroup_of = |pid: i32| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let exec = runtime
        .exec(
            &id,
            &bundle.spec,
            process(&bundle, &["sleep", "30"]),
            CreateOptions::default(),
        )
        .unwrap();
    let (exec_cgroups, init_cgroups) = (cgroup_of(exec.pid()), cgroup_of(container.pid()));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(exec.pid()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert_eq!(exec.wait().unwrap().code(), 137);
    assert_eq!(exec_cgroups, init_cgroups);
    assert!(init_cgroups.contains(&id), "{init_cgroups}");

    let missing = runtime.exec(
        &id,
        &bundle.spec,
        process(&bundle, &["no-such-program"]),
        CreateOptions::default(),
    );
    let message = missing.unwrap_err().to_string();
    assert!(message.contains("no-such-program"), "{message}");

    runtime.kill(&id, Signal::SIGKILL, false).unwrap();
    runtime.wait(&id).unwrap();
    let stopped = runtime.exec(
        &id,
        &bundle.spec,
        process(&bundle, &["true"]),
        CreateOptions::default(),
    );
    let message = stopped.unwrap_err().to_string();
    assert!(message.contains("stopped: cannot exec"), "{message}");
    runtime.delete(&id, false).unwrap();
}
