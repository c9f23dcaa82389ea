//! Unit tests of privilege resolution: capability arithmetic, the default profile's
//! capability- and kernel-dependent rules, and custom profiles.

use super::*;
use berth_runtime::oci_spec::runtime::LinuxSyscall;

const EVERY_CAPABILITY: u64 = u64::MAX;
const NEW_KERNEL: (u32, u32) = (6, 1);
const CENTOS7_KERNEL: (u32, u32) = (3, 10);

fn facts(bounding_set: u64, kernel: (u32, u32)) -> HostFacts {
    HostFacts {
        bounding_set,
        kernel,
    }
}

fn host(cap_add: &[&str], cap_drop: &[&str], security_opt: &[&str]) -> HostConfig {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
    HostConfig {
        cap_add: strings(cap_add),
        cap_drop: strings(cap_drop),
        security_opt: strings(security_opt),
        ..HostConfig::default()
    }
}

fn bit(name: &str) -> u64 {
    1u64 << ALL_CAPABILITIES
        .iter()
        .position(|c| *c == name)
        .expect("known")
}

/// The rules that name `syscall`, in order.
fn rules_for<'a>(seccomp: &'a LinuxSeccomp, syscall: &str) -> Vec<&'a LinuxSyscall> {
    seccomp
        .syscalls()
        .iter()
        .flatten()
        .filter(|rule| rule.names().iter().any(|name| name == syscall))
        .collect()
}

#[test]
fn the_default_set_is_dockers_and_the_filter_denies_by_default() {
    let privileges = resolve(&host(&[], &[], &[]), facts(EVERY_CAPABILITY, NEW_KERNEL)).unwrap();
    let expected: BTreeSet<String> = DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
    assert_eq!(privileges.capabilities, expected);
    assert!(!privileges.no_new_privileges);
    let seccomp = privileges.seccomp.expect("a filter");
    assert_eq!(seccomp.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(seccomp.default_errno_ret(), Some(1));
    assert!(!rules_for(&seccomp, "read").is_empty());
    // Namespace and module syscalls are not allowed without their capabilities.
    for refused in [
        "unshare",
        "mount",
        "setns",
        "init_module",
        "reboot",
        "keyctl",
    ] {
        assert!(rules_for(&seccomp, refused).is_empty(), "{refused} allowed");
    }
    // chroot is guarded by CAP_SYS_CHROOT, which the default set holds.
    assert_eq!(rules_for(&seccomp, "chroot").len(), 1);
}

#[test]
fn clone_is_limited_and_clone3_reports_enosys_without_sys_admin() {
    let seccomp = resolve(&host(&[], &[], &[]), facts(EVERY_CAPABILITY, NEW_KERNEL))
        .unwrap()
        .seccomp
        .unwrap();
    let clone = rules_for(&seccomp, "clone");
    assert_eq!(clone.len(), 1);
    let args = clone[0].args().clone().unwrap_or_default();
    assert_eq!(args.len(), 1);
    assert_eq!(args[0].op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
    assert_eq!(args[0].value(), 0x7E02_0000);
    let clone3 = rules_for(&seccomp, "clone3");
    assert_eq!(clone3.len(), 1);
    assert_eq!(clone3[0].action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(clone3[0].errno_ret(), Some(38));

    let admin = resolve(
        &host(&["SYS_ADMIN"], &[], &[]),
        facts(EVERY_CAPABILITY, NEW_KERNEL),
    )
    .unwrap()
    .seccomp
    .unwrap();
    let clone = rules_for(&admin, "clone");
    assert_eq!(clone.len(), 1, "only the unconditional CAP_SYS_ADMIN rule");
    assert!(clone[0].args().clone().unwrap_or_default().is_empty());
    assert!(!rules_for(&admin, "unshare").is_empty());
    assert_eq!(
        rules_for(&admin, "clone3")[0].action(),
        LinuxSeccompAction::ScmpActAllow
    );
}

#[test]
fn ptrace_needs_kernel_4_8_or_the_capability() {
    let old = resolve(
        &host(&[], &[], &[]),
        facts(EVERY_CAPABILITY, CENTOS7_KERNEL),
    )
    .unwrap()
    .seccomp
    .unwrap();
    assert!(rules_for(&old, "ptrace").is_empty());
    let new = resolve(&host(&[], &[], &[]), facts(EVERY_CAPABILITY, NEW_KERNEL))
        .unwrap()
        .seccomp
        .unwrap();
    assert!(!rules_for(&new, "ptrace").is_empty());
    let traced = resolve(
        &host(&["sys_ptrace"], &[], &[]),
        facts(EVERY_CAPABILITY, CENTOS7_KERNEL),
    )
    .unwrap()
    .seccomp
    .unwrap();
    assert!(!rules_for(&traced, "ptrace").is_empty());
}

#[test]
fn cap_add_and_cap_drop_follow_docker_and_the_bounding_set() {
    let all_but_resource = EVERY_CAPABILITY & !bit("CAP_SYS_RESOURCE");
    let caps = |add: &[&str], drop: &[&str]| {
        resolve(&host(add, drop, &[]), facts(all_but_resource, NEW_KERNEL))
            .unwrap()
            .capabilities
    };
    let with_ptrace = caps(&["SYS_PTRACE"], &["NET_RAW"]);
    assert!(with_ptrace.contains("CAP_SYS_PTRACE"));
    assert!(!with_ptrace.contains("CAP_NET_RAW"));
    assert_eq!(with_ptrace.len(), DEFAULT_CAPABILITIES.len());

    let only = caps(&["NET_BIND_SERVICE"], &["ALL"]);
    assert_eq!(
        only.into_iter().collect::<Vec<_>>(),
        ["CAP_NET_BIND_SERVICE"]
    );

    let all = caps(&["ALL"], &["CAP_MKNOD"]);
    assert!(all.contains("CAP_SYS_ADMIN"));
    assert!(!all.contains("CAP_MKNOD"));
    assert!(
        !all.contains("CAP_SYS_RESOURCE"),
        "a capability outside the host's bounding set is never granted"
    );

    let unknown = resolve(
        &host(&["NET_FLY"], &[], &[]),
        facts(EVERY_CAPABILITY, NEW_KERNEL),
    );
    assert_eq!(
        unknown.unwrap_err().to_string(),
        "invalid CapAdd: unknown capability: \"NET_FLY\""
    );
}

#[test]
fn security_options_select_the_profile_and_no_new_privileges() {
    let unconfined = resolve(
        &host(&[], &[], &["seccomp=unconfined", "no-new-privileges"]),
        facts(EVERY_CAPABILITY, NEW_KERNEL),
    )
    .unwrap();
    assert!(unconfined.seccomp.is_none());
    assert!(unconfined.no_new_privileges);

    let custom = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
        {"names":["chmod"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_SYS_ADMIN"]}},
        {"name":"rmdir","action":"SCMP_ACT_ERRNO","excludes":{"minKernel":"4.0"}}]}"#;
    let profile = resolve(
        &host(&[], &[], &[&format!("seccomp={custom}")]),
        facts(EVERY_CAPABILITY, NEW_KERNEL),
    )
    .unwrap()
    .seccomp
    .unwrap();
    assert_eq!(profile.default_action(), LinuxSeccompAction::ScmpActAllow);
    assert_eq!(rules_for(&profile, "mkdir")[0].errno_ret(), Some(13));
    assert!(
        rules_for(&profile, "chmod").is_empty(),
        "includes caps not held"
    );
    assert!(
        rules_for(&profile, "rmdir").is_empty(),
        "excluded on kernel >= 4.0"
    );

    let broken = resolve(
        &host(&[], &[], &["seccomp={\"defaultAction\":\"SCMP_ACT_NOPE\"}"]),
        facts(EVERY_CAPABILITY, NEW_KERNEL),
    );
    assert!(matches!(broken, Err(SecurityError::InvalidProfile(_))));
    let unknown = resolve(
        &host(&[], &[], &["seccomp"]),
        facts(EVERY_CAPABILITY, NEW_KERNEL),
    );
    assert_eq!(
        unknown.unwrap_err().to_string(),
        "invalid --security-opt: \"seccomp\""
    );
}

#[test]
fn privileged_gets_every_capability_the_host_has_and_no_seccomp() {
    let privileged = HostConfig {
        privileged: true,
        cap_drop: vec!["NET_RAW".to_owned()],
        security_opt: vec!["no-new-privileges".to_owned()],
        ..HostConfig::default()
    };
    let without_sys_resource = EVERY_CAPABILITY & !(1 << 24);
    let granted = resolve(&privileged, facts(without_sys_resource, NEW_KERNEL)).unwrap();
    assert_eq!(granted.capabilities.len(), ALL_CAPABILITIES.len() - 1);
    assert!(granted.capabilities.contains("CAP_NET_RAW"));
    assert!(!granted.capabilities.contains("CAP_SYS_RESOURCE"));
    assert_eq!(granted.seccomp, None);
    assert!(granted.no_new_privileges);
}

#[test]
fn kernel_releases_parse() {
    assert_eq!(parse_kernel_version("6.1.0-18-amd64"), Some((6, 1)));
    assert_eq!(
        parse_kernel_version("3.10.0-1160.el7.x86_64"),
        Some((3, 10))
    );
    assert_eq!(parse_kernel_version("banana"), None);
}

#[test]
fn every_capability_name_is_known_to_oci_spec() {
    use std::str::FromStr;
    for name in ALL_CAPABILITIES {
        let bare = name.trim_start_matches("CAP_");
        assert!(
            berth_runtime::oci_spec::runtime::Capability::from_str(bare).is_ok(),
            "{name}"
        );
    }
}
