//! Limits enforced by the kernel on a container: memory (OOM kill), devices (cgroup v1 and
//! the v2 eBPF filter), pids (fork bomb), capabilities, seccomp.

mod common;

use berth_runtime::oci_spec::runtime::{
    Capabilities, Capability, LinuxCapabilitiesBuilder, LinuxDeviceCgroupBuilder,
    LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder, LinuxSeccompAction,
    LinuxSeccompBuilder, LinuxSyscallBuilder,
};
use common::*;

#[test]
fn exceeding_the_memory_limit_is_oom_killed() {
    let mut bundle = TestBundle::new(&["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
    let memory = LinuxMemoryBuilder::default()
        .limit(32i64 << 20)
        .swap(32i64 << 20)
        .build()
        .unwrap();
    bundle.linux_mut().set_resources(Some(
        LinuxResourcesBuilder::default()
            .memory(memory)
            .build()
            .unwrap(),
    ));
    let (code, _, stderr) = run_captured(&bundle);
    assert_eq!(
        code, 137,
        "dd should be SIGKILLed by the OOM killer; stderr: {stderr}"
    );

    // The same process fits without the limit.
    let bundle = TestBundle::new(&["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
    assert_eq!(run_captured(&bundle).0, 0);
}

/// `runc spec` denies every device (`a *:* rwm`); the standard nodes stay usable, as under
/// runc, and anything else stays denied by the devices cgroup.
/// A bundle with a deny-all device rule (and CAP_MKNOD) whose process uses the standard
/// nodes, then makes a node for /dev/loop-control (char 10:237, which opens without any
/// capability) and tries to open it.
fn deny_all_devices_bundle() -> TestBundle {
    let mut bundle = TestBundle::new(&[
        "sh",
        "-c",
        "echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c \
         && mknod /dev/loop-control c 10 237 \
         && ! dd if=/dev/loop-control of=/dev/null count=0 2>/dev/null && echo denied",
    ]);
    bundle.linux_mut().set_resources(Some(
        LinuxResourcesBuilder::default()
            .devices(vec![LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()
                .unwrap()])
            .build()
            .unwrap(),
    ));
    let process = bundle.process_mut();
    let mut caps = process.capabilities().clone().unwrap_or_default();
    let mut bounding = caps.bounding().clone().unwrap_or_default();
    bounding.insert(Capability::Mknod);
    caps.set_bounding(Some(bounding.clone()));
    caps.set_effective(Some(bounding.clone()));
    caps.set_permitted(Some(bounding));
    process.set_capabilities(Some(caps));
    bundle
}

#[test]
fn a_deny_all_device_rule_keeps_the_standard_nodes_usable() {
    let (code, stdout, stderr) = run_captured(&deny_all_devices_bundle());
    assert_eq!(stdout, "4\n4\ndenied\n", "{stderr}");
    assert_eq!(code, 0, "{stderr}");
}

/// The same on a cgroup v2 host (EL9), where the rules become an eBPF device filter: the
/// runtime runs in a mount namespace whose /sys/fs/cgroup is the cgroup2 tree.
#[test]
fn device_rules_hold_on_cgroup_v2() {
    let bundle = deny_all_devices_bundle();
    bundle.write_config();
    let root = tempfile::tempdir().unwrap();
    let id = unique_id("devices-v2");
    let output = std::process::Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount --make-rprivate / && mount -t cgroup2 none /sys/fs/cgroup \
             && exec \"$0\" --root \"$1\" run --bundle \"$2\" \"$3\"",
            runtime_binary(),
        ])
        .arg(root.path())
        .arg(bundle.path())
        .arg(&id)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(stdout, "4\n4\ndenied\n", "{stderr}");
    assert!(output.status.success(), "{stderr}");
}

#[test]
fn a_fork_bomb_stops_at_pids_max() {
    // The bomb forks until the kernel refuses; counting /proc with a glob needs no fork.
    let script = "(while :; do sleep 30 & done) 2>/dev/null; set -- /proc/[0-9]*; echo procs=$#";
    let mut bundle = TestBundle::new(&["sh", "-c", script]);
    bundle.linux_mut().set_resources(Some(
        LinuxResourcesBuilder::default()
            .pids(LinuxPidsBuilder::default().limit(16i64).build().unwrap())
            .build()
            .unwrap(),
    ));
    let (code, stdout, stderr) = run_captured(&bundle);
    let count: u32 = stdout
        .trim()
        .strip_prefix("procs=")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("stdout: {stdout} stderr: {stderr}"));
    assert!(
        (12..=16).contains(&count),
        "{count} processes with pids.max 16"
    );
    assert_eq!(code, 0);
}

fn host_bounding_set() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("CapBnd:")).unwrap();
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn cap_eff_equals_the_requested_set() {
    let requested: Capabilities = [
        Capability::Chown,
        Capability::Kill,
        Capability::NetBindService,
        Capability::NetRaw,
        Capability::SysResource,
    ]
    .into();
    let mut bundle =
        TestBundle::new(&["sh", "-c", "grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status"]);
    bundle.process_mut().set_capabilities(Some(
        LinuxCapabilitiesBuilder::default()
            .bounding(requested.clone())
            .effective(requested.clone())
            .permitted(requested.clone())
            .inheritable(requested)
            .ambient(Capabilities::new())
            .build()
            .unwrap(),
    ));
    let requested_mask: u64 = (1 << 0) | (1 << 5) | (1 << 10) | (1 << 13) | (1 << 24);
    // CAP_SYS_RESOURCE is missing from this host's bounding set: dropped, not demanded.
    let expected = requested_mask & host_bounding_set();
    let (code, stdout, stderr) = run_captured(&bundle);
    assert_eq!(code, 0, "stderr: {stderr}");
    for set in ["CapEff", "CapPrm", "CapBnd"] {
        assert!(
            stdout.contains(&format!("{set}:\t{expected:016x}\n")),
            "{set}: {stdout}"
        );
    }
}

#[test]
fn a_syscall_denied_by_seccomp_returns_eperm() {
    let deny = LinuxSyscallBuilder::default()
        .names(vec!["mkdir".to_owned(), "mkdirat".to_owned()])
        .action(LinuxSeccompAction::ScmpActErrno)
        .build()
        .unwrap();
    let profile = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .syscalls(vec![deny])
        .build()
        .unwrap();
    let script = "touch /tmp/file && echo touched; mkdir /tmp/dir; echo mkdir=$?";
    let mut bundle = TestBundle::new(&["sh", "-c", script]);
    bundle.linux_mut().set_seccomp(Some(profile.clone()));
    let mut mounts = bundle.spec.mounts().clone().unwrap();
    mounts.push(tmpfs_mount("/tmp"));
    bundle.spec.set_mounts(Some(mounts));
    let (code, stdout, stderr) = run_captured(&bundle);
    assert_eq!(stdout, "touched\nmkdir=1\n", "stderr: {stderr}");
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    assert_eq!(code, 0);

    // Without no_new_privileges the filter is installed while init still has CAP_SYS_ADMIN.
    bundle.process_mut().set_no_new_privileges(Some(false));
    let (_, stdout, _) = run_captured(&bundle);
    assert_eq!(stdout, "touched\nmkdir=1\n");
}
