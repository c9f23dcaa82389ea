//! The private Docker daemon the e2e host runs in: started here, with its own data root (cached
//! between runs), exec root, pid file and unix socket, so it never collides with another
//! dockerd on the machine, and stopped at the end.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::{Cmd, Shell};

use super::scratch::{spawn_tied_to_us, stop_child, ScratchDir};

/// How long dockerd gets to answer on its socket after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(90);

pub struct PrivateDocker<'a> {
    sh: &'a Shell,
    host: String,
    child: Option<Child>,
    exec_root: ScratchDir,
    log: PathBuf,
    pid_record: PathBuf,
    keep: std::cell::Cell<bool>,
    // Held for the daemon's lifetime: one run at a time owns the cached data root.
    _lock: File,
}

impl<'a> PrivateDocker<'a> {
    /// Starts `dockerd --iptables=false --bridge=none` on a private socket, with its data root
    /// at `<cache>/docker-data` so imported images survive between runs.
    pub fn start(sh: &'a Shell, cache: &Path, tied: bool) -> Result<Self> {
        let lock = lock_cache(cache)?;
        let data_root = cache.join("docker-data");
        let pid_record = cache.join("dockerd.pid");
        stop_leftover_daemon(&pid_record, &data_root);

        // The exec root holds containerd's sockets: keep its path short (108-byte limit).
        let exec_root = ScratchDir::new(Path::new("/run"), "berth-e2e")?;
        let socket = exec_root.path().join("docker.sock");
        let log = exec_root.path().join("dockerd.log");
        let log_file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let namespace = format!("berth-e2e-{}", std::process::id());
        let mut command = Command::new("dockerd");
        command
            .arg("--iptables=false")
            .arg("--bridge=none")
            .arg("--data-root")
            .arg(&data_root)
            .arg("--exec-root")
            .arg(exec_root.path())
            .arg("--pidfile")
            .arg(exec_root.path().join("dockerd.pid"))
            .arg("--containerd-namespace")
            .arg(&namespace)
            .arg("--containerd-plugins-namespace")
            .arg(format!("{namespace}-plugins"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        println!(
            "e2e: starting a private dockerd (data root {})",
            data_root.display()
        );
        let child = spawn_tied_to_us(&mut command, tied).context(
            "starting dockerd (Debian package docker.io; run `cargo xtask test --tools-only`)",
        )?;
        std::fs::write(&pid_record, child.id().to_string())
            .with_context(|| format!("writing {}", pid_record.display()))?;
        let mut docker = PrivateDocker {
            sh,
            host: format!("unix://{}", socket.display()),
            child: Some(child),
            exec_root,
            log,
            pid_record,
            keep: std::cell::Cell::new(false),
            _lock: lock,
        };
        docker.wait_ready()?;
        docker.remove_leftover_containers();
        Ok(docker)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.print_log_tail();
                    bail!("the private dockerd exited during start-up ({status})");
                }
            }
            let probe = self
                .docker()
                .args(["version", "--format", "{{.Server.Version}}"]);
            if let Ok(version) = probe.quiet().ignore_stderr().read() {
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "e2e: private dockerd {version} answers on {} ({secs:.1}s)",
                    self.host
                );
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                self.print_log_tail();
                bail!(
                    "the private dockerd did not answer on {} within {START_TIMEOUT:?}",
                    self.host
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Containers in the cached data root are from earlier, killed runs (we hold the lock).
    fn remove_leftover_containers(&self) {
        let listing = self
            .docker()
            .args(["ps", "-aq"])
            .quiet()
            .read()
            .unwrap_or_default();
        for id in listing.split_whitespace() {
            println!("e2e: removing container {id} left by an earlier run");
            let _ = self
                .docker()
                .args(["rm", "-f", "-v", id])
                .quiet()
                .ignore_stdout()
                .run();
        }
    }

    /// `docker -H unix://<private socket>`, ready for more arguments.
    pub fn docker(&self) -> Cmd<'a> {
        self.sh.cmd("docker").arg("-H").arg(&self.host)
    }

    /// The pid of dockerd (containerd is its child), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Leaves the daemon running when the harness ends, and says how to reach and stop it.
    pub fn keep(&self) {
        self.keep.set(true);
        if let Some(child) = &self.child {
            println!(
                "e2e: --keep: the private dockerd (pid {}) still runs: `docker -H {} ps`; stop it with `kill {}`",
                child.id(),
                self.host,
                child.id()
            );
        }
    }

    fn print_log_tail(&self) {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(40)..];
        println!(
            "e2e: last lines of {}:\n{}",
            self.log.display(),
            tail.join("\n")
        );
    }
}

impl Drop for PrivateDocker<'_> {
    fn drop(&mut self) {
        if self.keep.get() {
            self.exec_root.keep();
            return;
        }
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, Duration::from_secs(30));
        }
        let _ = std::fs::remove_file(&self.pid_record);
        release_namespace_mounts(self.exec_root.path());
    }
}

/// dockerd bind-mounts network namespaces under its exec root and leaves them behind when it
/// stops; detach those (and only those) so the exec root can be removed.
fn release_namespace_mounts(exec_root: &Path) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(mount_point) = fields.get(4) else {
            continue;
        };
        let fstype = line
            .split(" - ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next());
        if fstype == Some("nsfs") && Path::new(mount_point).starts_with(exec_root) {
            let Ok(path) = std::ffi::CString::new(*mount_point) else {
                continue;
            };
            // SAFETY: a NUL-terminated path; MNT_DETACH only affects that mount.
            unsafe {
                libc::umount2(path.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
}

/// Takes the cache's lock, waiting (and saying so) while another run holds it.
fn lock_cache(cache: &Path) -> Result<File> {
    let path = cache.join("lock");
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        println!(
            "e2e: waiting for another e2e run that holds {}",
            path.display()
        );
        // SAFETY: as above.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("locking {}", path.display()));
        }
    }
    Ok(file)
}

/// Stops a dockerd that an earlier, killed run started on our data root (we hold the lock, so
/// nothing else may be using it). Only the recorded pid is signalled, and only if it is that
/// dockerd.
fn stop_leftover_daemon(pid_record: &Path, data_root: &Path) {
    let Ok(text) = std::fs::read_to_string(pid_record) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<&[u8]> = cmdline.split(|byte| *byte == 0).collect();
    let is_ours = args.first().is_some_and(|arg0| arg0.ends_with(b"dockerd"))
        && args.contains(&data_root.as_os_str().as_encoded_bytes());
    if !is_ours {
        return;
    }
    println!("e2e: stopping the dockerd (pid {pid}) that an earlier run left behind");
    // SAFETY: kill on a pid we recorded and whose command line we just checked.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && Path::new(&format!("/proc/{pid}")).exists() {
        std::thread::sleep(Duration::from_millis(200));
    }
}
