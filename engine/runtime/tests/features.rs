//! Part of the spec beyond the basics, each checked from inside a real container: joined
//! namespaces, sysctl, oomScoreAdj and rlimits, /dev, masked and read-only paths, no-pivot,
//! cgroup limits as the container sees them, and Docker's default seccomp profile.

mod common;

use std::fs;

use berth_runtime::oci_spec::runtime::{
    LinuxCpuBuilder, LinuxDeviceBuilder, LinuxDeviceType, LinuxMemoryBuilder, LinuxNamespace,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder,
    LinuxSeccomp, PosixRlimitBuilder, PosixRlimitType,
};
use berth_runtime::CreateOptions;
use common::*;

#[test]
fn joins_a_network_namespace_by_path() {
    let first = TestBundle::new(&["sleep", "100"]);
    let (_root, runtime) = test_runtime();
    let first_id = unique_id("netns-a");
    let container = runtime
        .create(&first_id, &first.bundle(), CreateOptions::default())
        .unwrap();
    let ns_path = format!("/proc/{}/ns/net", container.pid());
    let expected = fs::read_link(&ns_path).unwrap();

    let mut second = TestBundle::new(&["readlink", "/proc/self/ns/net"]);
    let namespaces: Vec<LinuxNamespace> = second
        .linux_mut()
        .namespaces()
        .clone()
        .unwrap()
        .into_iter()
        .map(|ns| {
            if ns.typ() == LinuxNamespaceType::Network {
                LinuxNamespaceBuilder::default()
                    .typ(LinuxNamespaceType::Network)
                    .path(&ns_path)
                    .build()
                    .unwrap()
            } else {
                ns
            }
        })
        .collect();
    second.linux_mut().set_namespaces(Some(namespaces));
    let (code, stdout, stderr) = run_captured(&second);
    runtime.delete(&first_id, true).unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), expected.to_str().unwrap());
}

#[test]
fn sysctl_oom_score_and_rlimits_apply_inside_only() {
    let host_forward = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let mut bundle = TestBundle::new(&[
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj; ulimit -n; ulimit -Hn",
    ]);
    let forward = if host_forward.trim() == "1" { "0" } else { "1" };
    bundle.linux_mut().set_sysctl(Some(
        [("net.ipv4.ip_forward".to_owned(), forward.to_owned())].into(),
    ));
    let process = bundle.process_mut();
    process.set_oom_score_adj(Some(500));
    process.set_rlimits(Some(vec![PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .soft(123u64)
        .hard(456u64)
        .build()
        .unwrap()]));
    let (code, stdout, stderr) = run_captured(&bundle);
    assert_eq!(stdout, format!("{forward}\n500\n123\n456\n"), "{stderr}");
    assert_eq!(code, 0);
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_forward
    );
}

#[test]
fn dev_has_the_standard_nodes_and_spec_devices() {
    let script = "for n in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$n; done; \
        readlink /dev/ptmx; readlink /dev/fd; stat -c '%n %t:%T %a %u' /dev/mynull; echo x > /dev/mynull && echo wrote";
    let mut bundle = TestBundle::new(&["sh", "-c", script]);
    bundle
        .linux_mut()
        .set_devices(Some(vec![LinuxDeviceBuilder::default()
            .path("/dev/mynull")
            .typ(LinuxDeviceType::C)
            .major(1i64)
            .minor(3i64)
            .file_mode(0o600u32)
            .uid(0u32)
            .build()
            .unwrap()]));
    let (code, stdout, stderr) = run_captured(&bundle);
    let expected = "/dev/null character special file 1:3 666\n\
        /dev/zero character special file 1:5 666\n\
        /dev/full character special file 1:7 666\n\
        /dev/random character special file 1:8 666\n\
        /dev/urandom character special file 1:9 666\n\
        /dev/tty character special file 5:0 666\n\
        pts/ptmx\n/proc/self/fd\n/dev/mynull 1:3 600 0\nwrote\n";
    assert_eq!(stdout, expected, "{stderr}");
    assert_eq!(code, 0);
}

#[test]
fn masked_and_readonly_paths_and_readonly_sysfs() {
    let script = "wc -c < /proc/keys; ls /sys/firmware | wc -l; \
        echo 1 > /proc/sys/vm/overcommit_memory; touch /sys/x";
    let bundle = TestBundle::new(&["sh", "-c", script]);
    let (_, stdout, stderr) = run_captured(&bundle);
    assert_eq!(stdout, "0\n0\n", "{stderr}");
    assert!(
        stderr.contains("/proc/sys/vm/overcommit_memory: Read-only file system"),
        "{stderr}"
    );
    assert!(
        stderr.contains("touch: /sys/x: Read-only file system"),
        "{stderr}"
    );
}

#[test]
fn no_pivot_uses_move_and_chroot() {
    let bundle = TestBundle::new(&["sh", "-c", "ls /bin/busybox && echo pid=$$"]);
    let (_root, runtime) = test_runtime();
    let (mut out_read, out_write) = pipe();
    let options = CreateOptions {
        stdout: Some(out_write),
        no_pivot: true,
        ..Default::default()
    };
    let status = runtime
        .run(&unique_id("nopivot"), &bundle.bundle(), options)
        .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut out_read, &mut out).unwrap();
    assert_eq!((status.code(), out.as_str()), (0, "/bin/busybox\npid=1\n"));
}

#[test]
fn cgroup_limits_are_what_the_container_sees() {
    let unified = !std::path::Path::new("/sys/fs/cgroup/memory").exists();
    let script = if unified {
        "cd /sys/fs/cgroup && cat memory.max cpu.max cpu.weight pids.max"
    } else {
        "cd /sys/fs/cgroup && cat memory/memory.limit_in_bytes cpu/cpu.cfs_quota_us \
         cpu/cpu.cfs_period_us cpu/cpu.shares pids/pids.max"
    };
    let mut bundle = TestBundle::new(&["sh", "-c", script]);
    bundle.linux_mut().set_resources(Some(
        LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64i64 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(512u64)
                    .quota(50_000i64)
                    .period(100_000u64)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(100i64).build().unwrap())
            .build()
            .unwrap(),
    ));
    let (code, stdout, stderr) = run_captured(&bundle);
    let expected = if unified {
        "67108864\n50000 100000\n20\n100\n"
    } else {
        "67108864\n50000\n100000\n512\n100\n"
    };
    assert_eq!((code, stdout.as_str()), (0, expected), "{stderr}");
}

/// Docker's default profile format (as containers-common ships it) turned into
/// `linux.seccomp` for an amd64 container with the default capabilities, as dockerd does.
fn docker_default_profile(caps: &[&str]) -> LinuxSeccomp {
    let path = "/usr/share/containers/seccomp.json";
    let text = fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("{path} is missing: run `cargo xtask test` (skopeo brings it)"));
    let docker: serde_json::Value = serde_json::from_str(&text).unwrap();
    let has = |list: &serde_json::Value, wanted: &[&str]| {
        list.as_array().is_some_and(|items| {
            items
                .iter()
                .any(|i| wanted.contains(&i.as_str().unwrap_or("")))
        })
    };
    let mut syscalls = Vec::new();
    for rule in docker["syscalls"].as_array().unwrap() {
        let includes = &rule["includes"];
        let excludes = &rule["excludes"];
        let caps_ok = includes["caps"]
            .as_array()
            .is_none_or(|needed| needed.iter().all(|c| caps.contains(&c.as_str().unwrap())));
        let arch_ok = includes["arches"]
            .as_array()
            .is_none_or(|_| has(&includes["arches"], &["amd64"]));
        if !caps_ok
            || !arch_ok
            || has(&excludes["caps"], caps)
            || has(&excludes["arches"], &["amd64"])
        {
            continue;
        }
        let mut oci = serde_json::json!({"names": rule["names"], "action": rule["action"]});
        if let Some(args) = rule["args"].as_array().filter(|a| !a.is_empty()) {
            oci["args"] = args.clone().into();
        }
        if let Some(errno) = rule["errnoRet"].as_u64() {
            oci["errnoRet"] = errno.into();
        }
        syscalls.push(oci);
    }
    serde_json::from_value(serde_json::json!({
        "defaultAction": docker["defaultAction"],
        "defaultErrnoRet": docker["defaultErrnoRet"],
        "syscalls": syscalls,
    }))
    .unwrap()
}

#[test]
fn dockers_default_seccomp_profile_is_expressible() {
    let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let script = "echo hello; grep Seccomp: /proc/self/status; unshare -n true; echo unshare=$?";
    let mut bundle = TestBundle::new(&["sh", "-c", script]);
    bundle
        .linux_mut()
        .set_seccomp(Some(docker_default_profile(&caps)));
    let (code, stdout, stderr) = run_captured(&bundle);
    assert_eq!(stdout, "hello\nSeccomp:\t2\nunshare=1\n", "{stderr}");
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    assert_eq!(code, 0);
}
