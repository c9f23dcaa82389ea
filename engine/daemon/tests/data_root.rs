//! Host users and berthd's files (the shape of docker's CVE-2021-41091): a host user other than
//! root cannot walk into the data-root, so cannot run an image's or a container's setuid-root
//! binary nor write an image's device node, even after an older berthd left the directories
//! world-traversable; and the API socket is 0660 from the moment it exists, whatever the umask.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::registry::Registry;
use support::{ok, require_tool, signal, wait_exit, Daemon};

/// An image whose layer holds a setuid-root copy of the host's `id` and a 0666 copy of
/// /dev/null (a stand-in for /dev/kmsg that a write cannot harm).
fn push_image_with_setuid_binary_and_device(registry: &Registry) {
    let add = |root: &Path| {
        let id = root.join("bin/suid-id");
        std::fs::copy("/usr/bin/id", &id).expect("copy id");
        std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o4755)).expect("chmod");
        let status = Command::new("mknod")
            .args(["-m", "0666"])
            .arg(root.join("open-device"))
            .args(["c", "1", "3"])
            .status()
            .expect("run mknod");
        assert!(status.success(), "mknod failed");
    };
    registry.push_image("library/suid", add, serde_json::json!({"Cmd": ["/hello"]}));
}

/// The one file at `data/PATTERN`, `*` standing for a single unknown directory name.
fn find_one(data: &Path, pattern: &str) -> PathBuf {
    let mut found = vec![data.to_path_buf()];
    for part in pattern.split('/') {
        found = found
            .into_iter()
            .flat_map(|dir| match part {
                "*" => std::fs::read_dir(&dir)
                    .map(|entries| entries.flatten().map(|e| e.path()).collect())
                    .unwrap_or_default(),
                name => vec![dir.join(name)],
            })
            .filter(|path| path.symlink_metadata().is_ok())
            .collect();
    }
    assert_eq!(
        found.len(),
        1,
        "{pattern} under {}: {found:?}",
        data.display()
    );
    found.remove(0)
}

/// Runs `command` as nobody (uid and gid 65534, no supplementary groups). A shell execs it:
/// setpriv keeps root's capabilities up to its own exec, which would let it walk anywhere.
fn as_nobody(command: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(["/bin/sh", "-c", "exec \"$@\"", "sh"])
        .args(command)
        .output()
        .expect("run setpriv")
}

fn describe(output: &std::process::Output) -> String {
    format!(
        "{:?}: {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn host_users_cannot_run_setuid_binaries_or_write_devices_in_the_data_root() {
    require_tool("setpriv");
    let registry = Registry::with_hello_world();
    push_image_with_setuid_binary_and_device(&registry);
    let dir = tempfile::tempdir().expect("temp dir");
    // The test's own temp dir is 0700: open it so only berthd's modes stand in the way.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let daemon = Daemon::start_in(dir, &registry.mirror_config(), &[]);
    ok(daemon
        .berth()
        .args(["pull", "-q", "suid"])
        .output()
        .unwrap());
    // A container writes a setuid-root binary into its upper dir.
    ok(daemon
        .berth()
        .args([
            "run",
            "--name",
            "writer",
            "suid",
            "/bin/busybox",
            "sh",
            "-c",
        ])
        .arg("/bin/busybox cp /bin/suid-id /upper-id && /bin/busybox chmod 4755 /upper-id")
        .output()
        .unwrap());
    let (code, dir) = daemon.stop();
    assert_eq!(code, 0);

    // An older berthd left every directory 0755: the next start must close them again.
    let data = dir.path().join("data");
    for path in [
        data.clone(),
        data.join("image"),
        data.join("image/layers"),
        data.join("image/containers"),
        data.join("containers"),
        dir.path().join("exec"),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let daemon = Daemon::start_in(dir, &registry.mirror_config(), &[]);

    let layer_binary = find_one(&data, "image/layers/*/diff/bin/suid-id");
    let upper_binary = find_one(&data, "image/containers/*/upper/upper-id");
    let device = find_one(&data, "image/layers/*/diff/open-device");
    for binary in [&layer_binary, &upper_binary] {
        let meta = std::fs::metadata(binary).unwrap();
        assert_eq!(
            (meta.uid(), meta.mode() & 0o4000),
            (0, 0o4000),
            "{binary:?}"
        );
        let run = as_nobody(&[binary.to_str().unwrap()]);
        assert!(
            !run.status.success() && !String::from_utf8_lossy(&run.stdout).contains("euid=0"),
            "nobody ran {}: {}",
            binary.display(),
            describe(&run)
        );
    }
    assert_eq!(std::fs::metadata(&device).unwrap().mode() & 0o777, 0o666);
    let write = as_nobody(&[
        "/bin/sh",
        "-c",
        &format!("echo owned > {}", device.display()),
    ]);
    assert!(
        !write.status.success(),
        "nobody wrote {}: {}",
        device.display(),
        describe(&write)
    );
    let mode = |path: &Path| std::fs::metadata(path).unwrap().mode() & 0o7777;
    assert_eq!(mode(&data), 0o710, "data-root");
    assert_eq!(mode(&daemon.dir.path().join("exec")), 0o700, "exec-root");

    // Containers still run as other users inside.
    let id = ok(daemon
        .berth()
        .args([
            "run",
            "--rm",
            "-u",
            "65534:65534",
            "suid",
            "/bin/busybox",
            "id",
        ])
        .output()
        .unwrap());
    assert!(id.starts_with("uid=65534 gid=65534"), "{id}");
}

/// berthd under strace, stopped (SIGTERM, then SIGKILL after a minute) when dropped.
struct Traced {
    strace: std::process::Child,
    pidfile: PathBuf,
}

impl Traced {
    fn stop(&mut self) {
        let pid = std::fs::read_to_string(&self.pidfile)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok());
        if let Some(pid) = pid {
            signal(pid, libc::SIGTERM);
        }
        if wait_exit(&mut self.strace, Duration::from_secs(60)) == -1 {
            if let Some(pid) = pid {
                signal(pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        if let Ok(None) = self.strace.try_wait() {
            self.stop();
        }
    }
}

#[test]
fn the_api_socket_is_never_open_to_other_users_while_berthd_starts() {
    require_tool("strace");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.path().join("berth.sock");
    let pidfile = dir.path().join("berthd.pid");
    // strace holds every chmod of the socket path for 3 s, so a socket that is created first
    // and chmod'ed after stays visible with its creation mode; umask 000 makes that 0777.
    let mut command = Command::new("strace");
    command
        .args(["-f", "-qq", "-o", "/dev/null", "-P"])
        .arg(&socket)
        .args([
            "-e",
            "trace=chmod,fchmodat",
            "-e",
            "inject=chmod,fchmodat:delay_enter=3000000",
            support::berthd(),
            "--data-root",
        ])
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .arg("--pidfile")
        .arg(&pidfile)
        .args(["--group", "1", "-H"])
        .arg(format!("unix://{}", socket.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: umask(2) in the child between fork and exec; it touches no memory.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            libc::umask(0);
            Ok(())
        });
    }
    let mut traced = Traced {
        strace: command.spawn().expect("spawn strace"),
        pidfile,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let first_seen = loop {
        if let Ok(meta) = std::fs::symlink_metadata(&socket) {
            break meta;
        }
        assert!(Instant::now() < deadline, "no socket within 60 s");
        assert!(
            traced.strace.try_wait().unwrap().is_none(),
            "berthd exited early"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    let answered = loop {
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    traced.stop();
    // What is left once berthd has gone: its temporary socket directory must not be.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name())
        .filter(|name| name.to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(
        (first_seen.mode() & 0o7777, first_seen.gid()),
        (0o660, 1),
        "the socket appeared with mode {:o}",
        first_seen.mode()
    );
    assert!(answered, "berthd never answered on its socket");
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
