//! A real berthd on temp directories: the socket, locks, pidfile, /_ping, /version, /info,
//! version prefixes, errors, SIGHUP reload, sd_notify, socket activation and the real docker
//! CLI.

mod support;

use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::Daemon;

#[test]
fn socket_pidfile_and_lock() {
    let daemon = Daemon::start("{}", &[]);
    let meta = std::fs::metadata(&daemon.socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.uid(), 0);
    let pid = std::fs::read_to_string(daemon.dir.path().join("berthd.pid")).unwrap();
    assert_eq!(pid.trim(), daemon.child.id().to_string());

    // A second daemon on the same data-root refuses to start.
    let other_socket = daemon.dir.path().join("other.sock");
    let output = Command::new(support::berthd())
        .arg("--data-root")
        .arg(daemon.dir.path().join("data"))
        .arg("--exec-root")
        .arg(daemon.dir.path().join("exec2"))
        .arg("--pidfile")
        .arg(daemon.dir.path().join("other.pid"))
        .arg("-H")
        .arg(format!("unix://{}", other_socket.display()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is in use by another berthd"), "{stderr}");

    let pidfile = daemon.dir.path().join("berthd.pid");
    let socket = daemon.socket.clone();
    let (code, _dir) = daemon.stop();
    assert_eq!(code, 0);
    assert!(!pidfile.exists(), "pidfile removed at exit");
    assert!(!socket.exists(), "socket removed at exit");
}

#[test]
fn ping_version_info_and_errors() {
    let daemon = Daemon::start(r#"{"labels": ["site=test"]}"#, &[]);
    for path in ["/_ping", "/v1.44/_ping", "/v1.24/_ping"] {
        let ping = daemon.request("GET", path, None);
        assert_eq!(ping.status, 200, "{path}");
        assert_eq!(ping.text(), "OK");
        assert_eq!(ping.header("Api-Version"), Some("1.44"));
        assert_eq!(ping.header("Ostype"), Some("linux"));
        assert_eq!(ping.header("Docker-Experimental"), Some("false"));
        assert_eq!(
            ping.header("Cache-Control"),
            Some("no-cache, no-store, must-revalidate")
        );
        assert_eq!(ping.header("Pragma"), Some("no-cache"));
    }
    let head = daemon.request("HEAD", "/_ping", None);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    let version = daemon.request("GET", "/v1.44/version", None);
    assert_eq!(version.status, 200);
    assert_eq!(version.header("Content-Type"), Some("application/json"));
    let version = version.json();
    assert_eq!(version["ApiVersion"], "1.44");
    assert_eq!(version["MinAPIVersion"], "1.24");
    assert_eq!(version["Version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["Components"][0]["Name"], "Engine");

    let info = daemon.request("GET", "/info", None).json();
    assert_eq!(info["Labels"][0], "site=test");
    assert_eq!(info["OSType"], "linux");
    assert!(info["SecurityOptions"][0]
        .as_str()
        .unwrap()
        .starts_with("name=seccomp"));

    let too_new = daemon.request("GET", "/v1.45/version", None);
    assert_eq!(too_new.status, 400);
    assert_eq!(too_new.header("Content-Type"), Some("application/json"));
    assert_eq!(
        too_new.json()["message"],
        "client version 1.45 is too new. Maximum supported API version is 1.44"
    );
    let missing = daemon.request("GET", "/v1.44/nothing/here", None);
    assert_eq!(missing.status, 404);
    assert!(missing.json()["message"].is_string());
    // Still serving.
    assert_eq!(daemon.request("GET", "/_ping", None).status, 200);
}

#[test]
fn sighup_reloads_and_keeps_old_config_on_error() {
    let daemon = Daemon::start(
        r#"{"labels": ["a=1"], "registry-mirrors": ["http://127.0.0.1:1"]}"#,
        &[],
    );
    let config = daemon.dir.path().join("daemon.json");
    std::fs::write(
        &config,
        r#"{"labels": ["a=2"], "registry-mirrors": ["http://127.0.0.1:2"], "debug": true}"#,
    )
    .unwrap();
    support::signal(daemon.child.id(), libc::SIGHUP);
    let info = wait_for_info(&daemon, |info| info["Labels"][0] == "a=2");
    assert_eq!(info["RegistryConfig"]["Mirrors"][0], "http://127.0.0.1:2/");
    assert_eq!(info["Debug"], true);

    std::fs::write(&config, r#"{"labels": ["a=3"], "bogus": 1}"#).unwrap();
    support::signal(daemon.child.id(), libc::SIGHUP);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !daemon.log().contains("error reloading configuration") {
        assert!(std::time::Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(daemon.log().contains("bogus"), "{}", daemon.log());
    let info = daemon.request("GET", "/info", None).json();
    assert_eq!(info["Labels"][0], "a=2", "old config kept");
}

fn wait_for_info(daemon: &Daemon, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let info = daemon.request("GET", "/info", None).json();
        if ready(&info) {
            return info;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never reloaded: {info}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn socket_activation_and_sd_notify() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("activated.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();

    let fd = listener.as_raw_fd();
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        // $$ is the shell's pid, which berthd keeps after exec: LISTEN_PID as systemd sets it.
        .arg("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"")
        .arg(support::berthd())
        .args(["--config-file", "/dev/null", "-H", "fd://"])
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .arg("--pidfile")
        .arg(dir.path().join("pid"))
        .env("NOTIFY_SOCKET", &notify_path)
        .stderr(Stdio::null());
    // SAFETY: dup2 and fcntl are async-signal-safe; they put the listener on fd 3, without
    // close-on-exec, as systemd does.
    unsafe {
        command.pre_exec(move || {
            let result = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if result < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let mut buffer = [0u8; 64];
    let len = notify.recv(&mut buffer).expect("READY=1 from berthd");
    assert_eq!(&buffer[..len], b"READY=1");
    drop(listener);
    let ping = support::http(&socket, "GET", "/_ping", None);
    assert_eq!(ping.status, 200);

    support::signal(child.id(), libc::SIGTERM);
    let len = notify.recv(&mut buffer).expect("STOPPING=1 from berthd");
    assert_eq!(&buffer[..len], b"STOPPING=1");
    assert_eq!(support::wait_exit(&mut child, Duration::from_secs(30)), 0);
}

#[test]
fn fd_host_without_activation_gives_dockerds_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(support::berthd())
        .args(["--config-file", "/dev/null", "-H", "fd://"])
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .arg("--pidfile")
        .arg(dir.path().join("pid"))
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "no sockets found via socket activation: make sure the service was started by systemd"
        ),
        "{stderr}"
    );
}

#[test]
fn real_docker_cli_version_and_info() {
    support::require_tool("docker");
    let daemon = Daemon::start("{}", &[]);
    let output = Command::new("docker")
        .args(["-H", &daemon.host(), "version"])
        .env("DOCKER_CONFIG", daemon.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Server: berth"), "{stdout}");
    assert!(stdout.contains("1.44 (minimum version 1.24)"), "{stdout}");

    let output = Command::new("docker")
        .args([
            "-H",
            &daemon.host(),
            "info",
            "--format",
            "{{.ServerVersion}} {{.Driver}}",
        ])
        .env("DOCKER_CONFIG", daemon.dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("{} overlay2", env!("CARGO_PKG_VERSION"))
    );
}

/// Whether the sysctl reads "1", as the test reads it itself.
fn sysctl_on(name: &str) -> bool {
    std::fs::read_to_string(std::path::Path::new("/proc/sys").join(name))
        .is_ok_and(|value| value.trim() == "1")
}

#[test]
fn info_reports_this_hosts_cgroup_limits_and_backing_filesystem() {
    use std::path::Path;
    let daemon = Daemon::start("{}", &[]);
    let info = daemon.request("GET", "/info", None).json();

    // The limits, from the files this test reads itself.
    let cgroup = Path::new("/sys/fs/cgroup");
    let unified = info["CgroupVersion"] == "2";
    assert_eq!(
        unified,
        !cgroup.join("memory").is_dir() && cgroup.join("cgroup.controllers").exists()
    );
    let expected: [(&str, bool); 10] = if unified {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let own = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap()
            .trim_start_matches('/')
            .to_owned();
        let controllers =
            std::fs::read_to_string(cgroup.join(&own).join("cgroup.controllers")).unwrap();
        let has = |name: &str| controllers.split_whitespace().any(|c| c == name);
        [
            ("MemoryLimit", has("memory")),
            (
                "SwapLimit",
                has("memory") && cgroup.join(&own).join("memory.swap.max").exists(),
            ),
            ("KernelMemory", false),
            ("KernelMemoryTCP", false),
            ("OomKillDisable", false),
            ("CpuCfsQuota", has("cpu")),
            ("CpuCfsPeriod", has("cpu")),
            ("CPUShares", has("cpu")),
            ("CPUSet", has("cpuset")),
            ("PidsLimit", has("pids")),
        ]
    } else {
        let memory = cgroup.join("memory");
        [
            ("MemoryLimit", memory.is_dir()),
            (
                "SwapLimit",
                memory.join("memory.memsw.limit_in_bytes").exists(),
            ),
            ("KernelMemory", false),
            (
                "KernelMemoryTCP",
                memory.join("memory.kmem.tcp.limit_in_bytes").exists(),
            ),
            ("OomKillDisable", memory.join("memory.oom_control").exists()),
            ("CpuCfsQuota", cgroup.join("cpu/cpu.cfs_quota_us").exists()),
            (
                "CpuCfsPeriod",
                cgroup.join("cpu/cpu.cfs_period_us").exists(),
            ),
            ("CPUShares", cgroup.join("cpu/cpu.shares").exists()),
            ("CPUSet", cgroup.join("cpuset").is_dir()),
            ("PidsLimit", cgroup.join("pids").is_dir()),
        ]
    };
    for (field, supported) in expected {
        assert_eq!(info[field], supported, "{field} in {info}");
    }
    assert_eq!(info["IPv4Forwarding"], sysctl_on("net/ipv4/ip_forward"));
    assert_eq!(
        info["BridgeNfIptables"],
        sysctl_on("net/bridge/bridge-nf-call-iptables")
    );
    let warnings: Vec<&str> = info["Warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    let swap_supported = info["SwapLimit"] == true;
    assert_eq!(
        warnings.contains(&"WARNING: No swap limit support"),
        !swap_supported,
        "{warnings:?}"
    );
    if !unified {
        // Blkio weight is gone from v1 since kernel 5.0: dockerd does not warn about it there,
        // but names each missing throttle file.
        let blkio = cgroup.join("blkio");
        assert!(
            !warnings.iter().any(|w| w.contains("weight")),
            "{warnings:?}"
        );
        for (file, words) in [
            (
                "blkio.throttle.read_bps_device",
                "blkio throttle.read_bps_device",
            ),
            (
                "blkio.throttle.write_iops_device",
                "blkio throttle.write_iops_device",
            ),
        ] {
            let warned = warnings.contains(&format!("WARNING: No {words} support").as_str());
            assert_eq!(warned, !blkio.join(file).exists(), "{file}: {warnings:?}");
        }
    }

    // The backing filesystem of the data-root, by the statfs magic `stat -f` reports.
    let data_root = daemon.dir.path().join("data");
    let magic = Command::new("stat")
        .args(["-f", "-c", "%t"])
        .arg(&data_root)
        .output()
        .unwrap();
    let magic = String::from_utf8_lossy(&magic.stdout).trim().to_owned();
    let expected_fs = match magic.as_str() {
        "ef53" => "extfs",
        "58465342" => "xfs",
        "1021994" => "tmpfs",
        "794c7630" => "overlayfs",
        "9123683e" => "btrfs",
        "2fc12fc1" => "zfs",
        other => panic!(
            "add statfs magic {other} of {} to this test",
            data_root.display()
        ),
    };
    assert_eq!(info["Driver"], "overlay2");
    assert_eq!(
        info["DriverStatus"],
        serde_json::json!([["Backing Filesystem", expected_fs]])
    );

    // The docker CLI prints the daemon's warnings and no legacy ones of its own.
    let output = daemon.docker().arg("info").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stderr.contains("WARNING: No swap limit support"),
        !swap_supported,
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!("Backing Filesystem: {expected_fs}")),
        "{stdout}"
    );
    for line in stderr.lines().filter(|l| l.starts_with("WARNING:")) {
        assert!(
            warnings.contains(&line),
            "{line} is not one of berthd's {warnings:?}"
        );
    }
}
