//! systemd/berth.service and berth.socket: `systemd-analyze verify` passes, every directive is
//! one systemd 219 (CentOS 7) knows, and the values issue 4 asks for are there.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;

/// Directives of systemd 219's load-fragment-gperf table for the sections the units use.
/// TasksMax is not upstream 219 (it came in 226, which older versions warn about and ignore),
/// but CentOS 7.3+ ships it in systemd-219-30 as a backport, so it is listed here.
const SYSTEMD_219: &[(&str, &[&str])] = &[
    (
        "Unit",
        &[
            "Description",
            "Documentation",
            "SourcePath",
            "Requires",
            "RequiresOverridable",
            "Requisite",
            "RequisiteOverridable",
            "Wants",
            "BindsTo",
            "PartOf",
            "Conflicts",
            "Before",
            "After",
            "OnFailure",
            "PropagatesReloadTo",
            "ReloadPropagatedFrom",
            "JoinsNamespaceOf",
            "RequiresMountsFor",
            "StopWhenUnneeded",
            "RefuseManualStart",
            "RefuseManualStop",
            "AllowIsolate",
            "DefaultDependencies",
            "OnFailureJobMode",
            "OnFailureIsolate",
            "IgnoreOnIsolate",
            "IgnoreOnSnapshot",
            "JobTimeoutSec",
            "JobTimeoutAction",
            "JobTimeoutRebootArgument",
            "ConditionPathExists",
            "ConditionPathExistsGlob",
            "ConditionPathIsDirectory",
            "ConditionPathIsSymbolicLink",
            "ConditionPathIsMountPoint",
            "ConditionPathIsReadWrite",
            "ConditionDirectoryNotEmpty",
            "ConditionFileNotEmpty",
            "ConditionFileIsExecutable",
            "ConditionNeedsUpdate",
            "ConditionFirstBoot",
            "ConditionKernelCommandLine",
            "ConditionArchitecture",
            "ConditionVirtualization",
            "ConditionSecurity",
            "ConditionCapability",
            "ConditionHost",
            "ConditionACPower",
            "ConditionNull",
            "AssertPathExists",
            "AssertPathIsDirectory",
            "AssertFileNotEmpty",
            "AssertFileIsExecutable",
        ],
    ),
    (
        "Service",
        &[
            "PIDFile",
            "ExecStartPre",
            "ExecStart",
            "ExecStartPost",
            "ExecReload",
            "ExecStop",
            "ExecStopPost",
            "RestartSec",
            "TimeoutSec",
            "TimeoutStartSec",
            "TimeoutStopSec",
            "WatchdogSec",
            "StartLimitInterval",
            "StartLimitBurst",
            "StartLimitAction",
            "RebootArgument",
            "FailureAction",
            "Type",
            "Restart",
            "PermissionsStartOnly",
            "RootDirectoryStartOnly",
            "RemainAfterExit",
            "GuessMainPID",
            "RestartPreventExitStatus",
            "RestartForceExitStatus",
            "SuccessExitStatus",
            "SysVStartPriority",
            "NonBlocking",
            "BusName",
            "NotifyAccess",
            "Sockets",
            "BusPolicy",
            "USBFunctionDescriptors",
            "USBFunctionStrings",
            "FileDescriptorStoreMax",
            // exec context
            "WorkingDirectory",
            "RootDirectory",
            "User",
            "Group",
            "SupplementaryGroups",
            "Nice",
            "OOMScoreAdjust",
            "IOSchedulingClass",
            "IOSchedulingPriority",
            "CPUSchedulingPolicy",
            "CPUSchedulingPriority",
            "CPUSchedulingResetOnFork",
            "CPUAffinity",
            "UMask",
            "Environment",
            "EnvironmentFile",
            "StandardInput",
            "StandardOutput",
            "StandardError",
            "TTYPath",
            "TTYReset",
            "TTYVHangup",
            "TTYVTDisallocate",
            "SyslogIdentifier",
            "SyslogFacility",
            "SyslogLevel",
            "SyslogLevelPrefix",
            "Capabilities",
            "SecureBits",
            "CapabilityBoundingSet",
            "TimerSlackNSec",
            "NoNewPrivileges",
            "SystemCallFilter",
            "SystemCallArchitectures",
            "SystemCallErrorNumber",
            "RestrictAddressFamilies",
            "LimitCPU",
            "LimitFSIZE",
            "LimitDATA",
            "LimitSTACK",
            "LimitCORE",
            "LimitRSS",
            "LimitNOFILE",
            "LimitAS",
            "LimitNPROC",
            "LimitMEMLOCK",
            "LimitLOCKS",
            "LimitSIGPENDING",
            "LimitMSGQUEUE",
            "LimitNICE",
            "LimitRTPRIO",
            "LimitRTTIME",
            "ReadWriteDirectories",
            "ReadOnlyDirectories",
            "InaccessibleDirectories",
            "PrivateTmp",
            "PrivateNetwork",
            "PrivateDevices",
            "ProtectHome",
            "ProtectSystem",
            "MountFlags",
            "Personality",
            "RuntimeDirectoryMode",
            "RuntimeDirectory",
            "TCPWrapName",
            "PAMName",
            "IgnoreSIGPIPE",
            "UtmpIdentifier",
            "SELinuxContext",
            "AppArmorProfile",
            "SmackProcessLabel",
            // kill context
            "SendSIGKILL",
            "SendSIGHUP",
            "KillMode",
            "KillSignal",
            // cgroup context
            "Slice",
            "CPUAccounting",
            "CPUShares",
            "StartupCPUShares",
            "CPUQuota",
            "MemoryAccounting",
            "MemoryLimit",
            "DeviceAllow",
            "DevicePolicy",
            "BlockIOAccounting",
            "BlockIOWeight",
            "StartupBlockIOWeight",
            "BlockIODeviceWeight",
            "BlockIOReadBandwidth",
            "BlockIOWriteBandwidth",
            "Delegate",
            // RHEL 7 backport (systemd-219-30, CentOS 7.3)
            "TasksMax",
        ],
    ),
    (
        "Socket",
        &[
            "ListenStream",
            "ListenDatagram",
            "ListenSequentialPacket",
            "ListenFIFO",
            "ListenNetlink",
            "ListenSpecial",
            "ListenMessageQueue",
            "ListenUSBFunction",
            "BindIPv6Only",
            "Backlog",
            "BindToDevice",
            "ExecStartPre",
            "ExecStartPost",
            "ExecStopPre",
            "ExecStopPost",
            "TimeoutSec",
            "SocketUser",
            "SocketGroup",
            "SocketMode",
            "DirectoryMode",
            "Accept",
            "MaxConnections",
            "KeepAlive",
            "KeepAliveTimeSec",
            "KeepAliveIntervalSec",
            "KeepAliveProbes",
            "NoDelay",
            "Priority",
            "ReceiveBuffer",
            "SendBuffer",
            "IPTOS",
            "IPTTL",
            "Mark",
            "PipeSize",
            "FreeBind",
            "Transparent",
            "Broadcast",
            "PassCredentials",
            "PassSecurity",
            "TCPCongestion",
            "ReusePort",
            "MessageQueueMaxMessages",
            "MessageQueueMessageSize",
            "RemoveOnStop",
            "Symlinks",
            "Service",
            "SmackLabel",
            "SmackLabelIPIn",
            "SmackLabelIPOut",
            "SELinuxContextFromNet",
            "Slice",
        ],
    ),
    (
        "Install",
        &["Alias", "WantedBy", "RequiredBy", "Also", "DefaultInstance"],
    ),
];

/// The directives of a unit file by section, in order.
fn directives(path: &Path) -> BTreeMap<String, Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut sections: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{}: bad line {line}", path.display()));
        sections
            .entry(current.clone())
            .or_default()
            .push((key.trim().to_string(), value.trim().to_string()));
    }
    sections
}

fn units() -> [std::path::PathBuf; 2] {
    let dir = project_root().join("systemd");
    [dir.join("berth.service"), dir.join("berth.socket")]
}

#[test]
fn every_directive_is_known_to_systemd_219() {
    for unit in units() {
        for (section, entries) in directives(&unit) {
            let known = SYSTEMD_219
                .iter()
                .find(|(name, _)| *name == section)
                .unwrap_or_else(|| {
                    panic!(
                        "{}: section [{section}] is not one systemd 219 reads here",
                        unit.display()
                    )
                })
                .1;
            for (key, _) in entries {
                assert!(
                    known.contains(&key.as_str()),
                    "{}: [{section}] {key} is unknown to systemd 219",
                    unit.display()
                );
            }
        }
    }
}

#[test]
fn units_carry_the_settings_of_issue_4() {
    let [service, socket] = units();
    let service = directives(&service);
    let get = |sections: &BTreeMap<String, Vec<(String, String)>>,
               section: &str,
               key: &str|
     -> Vec<String> {
        sections
            .get(section)
            .into_iter()
            .flatten()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    for (section, key, value) in [
        ("Unit", "Requires", "berth.socket"),
        ("Unit", "After", "network-online.target berth.socket"),
        ("Unit", "Wants", "network-online.target"),
        ("Service", "Type", "notify"),
        ("Service", "ExecStart", "/usr/bin/berthd -H fd://"),
        ("Service", "ExecReload", "/bin/kill -s HUP $MAINPID"),
        ("Service", "Restart", "always"),
        ("Service", "RestartSec", "2"),
        ("Service", "StartLimitBurst", "3"),
        ("Service", "StartLimitInterval", "60s"),
        ("Service", "LimitNOFILE", "1048576"),
        ("Service", "LimitNPROC", "infinity"),
        ("Service", "LimitCORE", "infinity"),
        ("Service", "TasksMax", "infinity"),
        ("Service", "Delegate", "yes"),
        ("Service", "KillMode", "process"),
        ("Service", "OOMScoreAdjust", "-500"),
        ("Install", "WantedBy", "multi-user.target"),
    ] {
        assert_eq!(
            get(&service, section, key),
            [value],
            "berth.service [{section}] {key}"
        );
    }
    let socket = directives(&socket);
    for (section, key, value) in [
        ("Socket", "ListenStream", "/var/run/berth.sock"),
        ("Socket", "SocketMode", "0660"),
        ("Socket", "SocketUser", "root"),
        ("Socket", "SocketGroup", "berth"),
        ("Install", "WantedBy", "sockets.target"),
    ] {
        assert_eq!(
            get(&socket, section, key),
            [value],
            "berth.socket [{section}] {key}"
        );
    }
}

#[test]
fn systemd_analyze_verify_passes() {
    require_tool("systemd-analyze");
    // A root holding the host's unit library, the units under test and executables at the
    // paths they name, so verify checks the units rather than this host.
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for dir in ["usr/lib/systemd", "etc/systemd/system", "usr/bin", "bin"] {
        std::fs::create_dir_all(r.join(dir)).unwrap();
    }
    let host_units = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .into_iter()
        .find(|p| Path::new(p).join("sockets.target").exists())
        .expect(
            "the host's systemd unit library (sockets.target) is needed: run `cargo xtask test`",
        );
    run(Command::new("cp")
        .arg("-a")
        .arg(host_units)
        .arg(r.join("usr/lib/systemd/")));
    for exe in ["usr/bin/berthd", "bin/kill"] {
        std::fs::copy("/bin/busybox", r.join(exe))
            .expect("/bin/busybox is needed: run `cargo xtask test`");
    }
    for unit in units() {
        std::fs::copy(
            &unit,
            r.join("etc/systemd/system").join(unit.file_name().unwrap()),
        )
        .unwrap();
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(format!("--root={}", r.display()))
        .args([
            "/etc/systemd/system/berth.service",
            "/etc/systemd/system/berth.socket",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {}\n{stderr}",
        out.status
    );

    // The check can fail: an unknown directive is reported.
    let bad = r.join("etc/systemd/system/berth.service");
    let text = std::fs::read_to_string(&bad).unwrap().replace(
        "KillMode=process",
        "KillMode=process\nStartLimitIntervalSecc=60",
    );
    std::fs::write(&bad, text).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(format!("--root={}", r.display()))
        .arg("/etc/systemd/system/berth.service")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("StartLimitIntervalSecc"),
        "verify did not flag an unknown key"
    );
}
