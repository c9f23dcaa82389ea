//! Container privileges enforced by the kernel: Docker's default seccomp allow-list, whose
//! capability-guarded rules follow `--cap-add`; `--cap-add`/`--cap-drop` seen in
//! /proc/self/status; a custom seccomp profile; `seccomp=unconfined`; `no-new-privileges`; and
//! bad requests refused before anything is created; the device cgroup, and `--privileged`.

mod support;

use std::process::Output;

use support::registry::Registry;
use support::Daemon;

/// A daemon with hello-world already pulled, so runs print only the container's output.
fn start(registry: &Registry) -> Daemon {
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    daemon.pull("hello-world");
    daemon
}

/// `berth run --rm [flags] hello-world /bin/busybox sh -c SCRIPT`.
fn run(daemon: &Daemon, flags: &[&str], script: &str) -> Output {
    daemon
        .berth()
        .args(["run", "--rm"])
        .args(flags)
        .args(["hello-world", "/bin/busybox", "sh", "-c", script])
        .output()
        .expect("run berth")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The CapEff line of the container's /proc/self/status, as a mask.
fn effective_caps(daemon: &Daemon, flags: &[&str]) -> u64 {
    let output = run(daemon, flags, "/bin/busybox grep CapEff /proc/self/status");
    assert!(output.status.success(), "{}", text(&output));
    let out = String::from_utf8_lossy(&output.stdout);
    let mask = out
        .trim()
        .strip_prefix("CapEff:")
        .unwrap_or_else(|| panic!("no CapEff line: {out}"));
    u64::from_str_radix(mask.trim(), 16).expect("hex mask")
}

#[test]
fn the_default_profile_allows_ordinary_work_and_refuses_namespaces() {
    let registry = Registry::with_hello_world();
    let daemon = start(&registry);

    let ordinary = run(
        &daemon,
        &[],
        "echo piped | cat && ls / >/dev/null && sleep 0 && /bin/busybox mkdir -p /tmp/x && echo done",
    );
    assert!(ordinary.status.success(), "{}", text(&ordinary));
    assert!(text(&ordinary).contains("piped"), "{}", text(&ordinary));
    assert!(text(&ordinary).contains("done"), "{}", text(&ordinary));

    let unshare = run(&daemon, &[], "/bin/busybox unshare -n true");
    assert!(
        !unshare.status.success(),
        "unshare worked: {}",
        text(&unshare)
    );
    assert!(
        text(&unshare).contains("Operation not permitted"),
        "{}",
        text(&unshare)
    );

    // With CAP_SYS_ADMIN the profile's capability rule allows unshare(2): a network namespace
    // can be made, as in docker.
    let admin = run(
        &daemon,
        &["--cap-add", "SYS_ADMIN"],
        "/bin/busybox unshare -n true && echo made",
    );
    assert!(admin.status.success(), "{}", text(&admin));
    assert!(text(&admin).contains("made"));
}

#[test]
fn cap_add_and_cap_drop_set_the_effective_capabilities() {
    let registry = Registry::with_hello_world();
    let daemon = start(&registry);
    const CAP_CHOWN: u64 = 1 << 0;
    const CAP_NET_RAW: u64 = 1 << 13;
    const CAP_SYS_PTRACE: u64 = 1 << 19;

    let default = effective_caps(&daemon, &[]);
    assert_eq!(
        default.count_ones(),
        14,
        "docker's default set: {default:#x}"
    );
    assert_ne!(default & CAP_NET_RAW, 0);

    let only_chown = effective_caps(&daemon, &["--cap-drop", "ALL", "--cap-add", "chown"]);
    assert_eq!(only_chown, CAP_CHOWN);

    let changed = effective_caps(
        &daemon,
        &["--cap-add", "CAP_SYS_PTRACE", "--cap-drop", "NET_RAW"],
    );
    assert_eq!(changed, (default | CAP_SYS_PTRACE) & !CAP_NET_RAW);

    // ALL never asks for what the host's bounding set lacks (CAP_SYS_RESOURCE here).
    let all = effective_caps(&daemon, &["--cap-add", "ALL"]);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let host_bounding = status
        .lines()
        .find_map(|line| line.strip_prefix("CapBnd:"))
        .map(|mask| u64::from_str_radix(mask.trim(), 16).unwrap())
        .unwrap();
    assert_eq!(all & !host_bounding, 0);
    assert!(all.count_ones() > 30, "{all:#x}");

    let bad = run(&daemon, &["--cap-add", "NET_FLY"], "true");
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("invalid CapAdd: unknown capability: \"NET_FLY\""),
        "{}",
        text(&bad)
    );
    let ps = daemon.berth().args(["ps", "-aq"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ps.stdout).trim(),
        "",
        "nothing was created"
    );
}

#[test]
fn security_opt_profiles_and_no_new_privileges() {
    let registry = Registry::with_hello_world();
    let daemon = start(&registry);

    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let option = format!("seccomp={}", profile.display());
    let denied = run(
        &daemon,
        &["--security-opt", &option],
        "/bin/busybox mkdir /denied",
    );
    assert!(!denied.status.success(), "{}", text(&denied));
    assert!(
        text(&denied).contains("Permission denied"),
        "{}",
        text(&denied)
    );

    // Unconfined: the kernel's capability checks are all that is left.
    let unconfined = run(
        &daemon,
        &[
            "--security-opt",
            "seccomp=unconfined",
            "--cap-add",
            "SYS_ADMIN",
        ],
        "/bin/busybox unshare -n true && echo made",
    );
    assert!(unconfined.status.success(), "{}", text(&unconfined));

    let nnp = run(
        &daemon,
        &["--security-opt", "no-new-privileges"],
        "/bin/busybox grep NoNewPrivs /proc/self/status",
    );
    assert!(text(&nnp).contains('1'), "{}", text(&nnp));
    let default = run(
        &daemon,
        &[],
        "/bin/busybox grep NoNewPrivs /proc/self/status",
    );
    assert!(text(&default).contains('0'), "{}", text(&default));
}

#[test]
fn devices_are_confined_unless_privileged() {
    let registry = Registry::with_hello_world();
    let daemon = start(&registry);
    // CAP_MKNOD makes a node for /dev/loop-control (char 10:237, which opens without any
    // capability), but the device cgroup refuses to open it.
    let open_device = "/bin/busybox mknod /dev/host-loop-control c 10 237 && \
        /bin/busybox dd if=/dev/host-loop-control of=/dev/null count=0 && echo opened";
    let confined = run(&daemon, &[], open_device);
    assert!(
        text(&confined).contains("Operation not permitted"),
        "{}",
        text(&confined)
    );
    assert!(!text(&confined).contains("opened"), "{}", text(&confined));

    let privileged = run(&daemon, &["--privileged"], open_device);
    assert!(privileged.status.success(), "{}", text(&privileged));
    assert!(
        text(&privileged).contains("opened"),
        "{}",
        text(&privileged)
    );

    let script = "/bin/busybox grep -E '^(CapEff|Seccomp):' /proc/self/status; \
        /bin/busybox grep ' /sys sysfs ' /proc/mounts; \
        /bin/busybox ls /dev/kmsg; /bin/busybox wc -c /proc/timer_list";
    let privileged = run(&daemon, &["--privileged"], script);
    assert!(privileged.status.success(), "{}", text(&privileged));
    let out = String::from_utf8_lossy(&privileged.stdout).into_owned();
    let host_bounding = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| {
            line.strip_prefix("CapBnd:")
                .map(|mask| mask.trim().to_owned())
        })
        .unwrap();
    assert!(out.contains(&format!("CapEff:\t{host_bounding}")), "{out}");
    assert!(out.contains("Seccomp:\t0"), "{out}");
    assert!(out.contains(" rw,"), "/sys is not writable: {out}");
    assert!(out.contains("/dev/kmsg"), "{out}");
    assert!(!out.contains(" 0 /proc/timer_list"), "still masked: {out}");

    let confined = run(&daemon, &[], script);
    let out = String::from_utf8_lossy(&confined.stdout).into_owned();
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains(" ro,"), "/sys is writable: {out}");
    assert!(!out.contains("/dev/kmsg"), "{out}");
}
