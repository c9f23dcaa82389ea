//! Daemon benchmarks (issue 6): `berth run --rm hello-world` through a release berthd (temp
//! data-root, exec-root and socket; image already pulled through a registry mirror) against
//! `docker run --rm --network none hello-world` on a private dockerd with the same image, and
//! the idle resident memory of berthd next to dockerd + containerd.
//!
//! Idle RSS is VmRSS from /proc/PID/status a few seconds after each daemon answers (for docker,
//! dockerd plus the containerd it started). The time in that row is from spawn to the first
//! answer on the socket. A `berth run` that fails fails the section: there is no number then.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{measure_interleaved, Binaries, Measured, Row, Sample};
use crate::e2e::docker::PrivateDocker;
use crate::e2e::registry::{HelloRegistry, HELLO_MESSAGE};
use crate::e2e::scratch::{spawn_tied_to_us, stop_child};

const RUN_TARGET: f64 = 0.4;
const IDLE_RSS_TARGET_KIB: u64 = 15 * 1024;
/// How long a daemon sits idle before its RSS is read.
const SETTLE: Duration = Duration::from_secs(3);
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub fn rows(sh: &Shell, binaries: &Binaries, reps: usize) -> Result<Vec<Row>> {
    crate::test::which("dockerd")
        .context("dockerd is not installed (docker.io): run cargo xtask test --tools-only")?;
    let registry = HelloRegistry::start(sh)?;
    let work = tempfile::tempdir().context("creating the daemon benchmark dir")?;
    let berthd = Berthd::start(binaries, work.path(), &registry.mirror_url())?;
    let berth_idle = berthd.idle_rss()?;

    let cache = super::bench_cache_dir()?;
    let docker_started = Instant::now();
    let docker = PrivateDocker::start(sh, &cache, true)?;
    let docker_ready = docker_started.elapsed();
    std::thread::sleep(SETTLE);
    let docker_idle = docker_idle_rss(&docker)?;

    let mirrored = format!(
        "{}/library/hello-world:latest",
        registry.mirror_url().trim_start_matches("http://")
    );
    let _cleanup = RemoveImages {
        docker: &docker,
        references: [mirrored.clone(), "hello-world:latest".to_owned()],
    };
    let berth = || {
        let mut command = Command::new(&binaries.berth);
        command.env("BERTH_HOST", berthd.host());
        command
    };
    prepare(
        "berth pull hello-world",
        berth().args(["pull", "hello-world"]),
    )?;
    check_hello(
        "berth run --rm hello-world",
        berth().args(["run", "--rm", "hello-world"]),
        &berthd,
    )?;
    let docker_cmd = || -> Command { docker.docker().into() };
    prepare("docker pull", docker_cmd().args(["pull", &mirrored]))?;
    prepare(
        "docker tag",
        docker_cmd().args(["tag", &mirrored, "hello-world:latest"]),
    )?;
    let docker_run = ["run", "--rm", "--network", "none", "hello-world"];
    check_hello(
        "docker run --rm --network none hello-world",
        docker_cmd().args(docker_run),
        &berthd,
    )?;

    let commands = [
        Measured::new("berth run --rm", || {
            let mut command = berth();
            command.args(["run", "--rm", "hello-world"]);
            command
        }),
        Measured::new("docker run --rm --network none", || {
            let mut command = docker_cmd();
            command.args(docker_run);
            command
        }),
    ];
    let measured = measure_interleaved(&commands, reps);
    if measured.is_err() {
        berthd.print_log_tail();
    }
    let [ours, theirs] =
        <[Sample; 2]>::try_from(measured?).map_err(|_| anyhow::anyhow!("expected two samples"))?;

    let run_met = super::report::ratio(&ours, &theirs) <= RUN_TARGET;
    Ok(vec![
        Row {
            name: "daemon: `run --rm hello-world`, image present".to_owned(),
            target: format!("≤ {RUN_TARGET}× {}", theirs.label),
            ours,
            anchor: Some(theirs),
            met: Some(run_met),
        },
        Row {
            name: "daemon: idle RSS (VmRSS; the time is spawn → socket answers)".to_owned(),
            target: "≤ 15 MiB".to_owned(),
            met: Some(berth_idle <= IDLE_RSS_TARGET_KIB),
            ours: Sample {
                label: "berthd".to_owned(),
                wall: vec![berthd.ready_after],
                max_rss_kib: berth_idle,
            },
            anchor: Some(Sample {
                label: "dockerd + containerd".to_owned(),
                wall: vec![docker_ready],
                max_rss_kib: docker_idle,
            }),
        },
    ])
}

/// A release berthd on its own data-root, exec-root, pidfile and socket, stopped on drop.
struct Berthd {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
    ready_after: Duration,
}

impl Berthd {
    fn start(binaries: &Binaries, dir: &Path, mirror: &str) -> Result<Self> {
        let config = dir.join("daemon.json");
        std::fs::write(
            &config,
            serde_json::json!({ "registry-mirrors": [mirror] }).to_string(),
        )?;
        let socket = dir.join("berth.sock");
        let log = dir.join("berthd.log");
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = Command::new(&binaries.berthd);
        command
            .arg("--config-file")
            .arg(&config)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("berthd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let started = Instant::now();
        let child = spawn_tied_to_us(&mut command, true)?;
        let mut berthd = Berthd {
            child,
            socket,
            log,
            ready_after: Duration::ZERO,
        };
        loop {
            if let Some(status) = berthd.child.try_wait()? {
                berthd.print_log_tail();
                bail!("berthd exited during start-up ({status})");
            }
            if UnixStream::connect(&berthd.socket).is_ok() {
                berthd.ready_after = started.elapsed();
                break;
            }
            if started.elapsed() > START_TIMEOUT {
                berthd.print_log_tail();
                bail!(
                    "berthd did not answer on {} within {START_TIMEOUT:?}",
                    berthd.socket.display()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        println!(
            "bench: berthd answers on {} after {:.0} ms",
            berthd.socket.display(),
            berthd.ready_after.as_secs_f64() * 1000.0
        );
        Ok(berthd)
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn idle_rss(&self) -> Result<u64> {
        std::thread::sleep(SETTLE);
        vm_rss_kib(self.child.id())
    }

    fn print_log_tail(&self) {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(30)..];
        println!(
            "bench: last lines of {}:\n{}",
            self.log.display(),
            tail.join("\n")
        );
    }
}

impl Drop for Berthd {
    fn drop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(30));
    }
}

/// Runs a preparation step, failing with its output.
fn prepare(what: &str, command: &mut Command) -> Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// One untimed run that must exit 0 and print the hello message.
fn check_hello(what: &str, command: &mut Command, berthd: &Berthd) -> Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !stdout.contains(HELLO_MESSAGE) {
        berthd.print_log_tail();
        bail!(
            "{what} did not print '{HELLO_MESSAGE}' and exit 0 ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// dockerd's VmRSS plus that of the containerd it started.
fn docker_idle_rss(docker: &PrivateDocker<'_>) -> Result<u64> {
    let dockerd = docker.pid().context("the private dockerd has no pid")?;
    let mut total = vm_rss_kib(dockerd)?;
    let mut containerd = 0;
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let parent = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if head.ends_with("(containerd") && parent == Some(dockerd) {
            total += vm_rss_kib(pid)?;
            containerd += 1;
        }
    }
    if containerd != 1 {
        bail!("expected one containerd started by dockerd (pid {dockerd}), found {containerd}");
    }
    Ok(total)
}

fn vm_rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS in {path}"))
}

/// Removes the benchmark's tags from the private dockerd's cached data root when dropped.
struct RemoveImages<'a, 'b> {
    docker: &'a PrivateDocker<'b>,
    references: [String; 2],
}

impl Drop for RemoveImages<'_, '_> {
    fn drop(&mut self) {
        for reference in &self.references {
            let mut command: Command = self.docker.docker().into();
            let _ = command
                .args(["rmi", "--force", reference])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
