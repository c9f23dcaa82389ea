//! The e2e host: the cached image booted with systemd as PID 1 in the private Docker daemon,
//! with host networking and /var/lib/berth on the machine's own filesystem. Commands run in it
//! with `docker exec`.

use std::cell::RefCell;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::check;
use super::docker::PrivateDocker;
use super::scratch::ScratchDir;

/// How long systemd gets to reach running/degraded after the container starts.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

pub struct SystemdHost<'a> {
    docker: &'a PrivateDocker<'a>,
    id: String,
    berth_state: ScratchDir,
    keep: bool,
    /// The output of the last dnf command, printed when a step fails.
    last_dnf: RefCell<String>,
}

/// What one command in the host printed, and whether it succeeded.
pub struct Outcome {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl<'a> SystemdHost<'a> {
    /// `docker run -d ... /lib/systemd/systemd`, then waits for `systemctl is-system-running`.
    pub fn boot(
        _sh: &Shell,
        docker: &'a PrivateDocker<'a>,
        image: &str,
        keep: bool,
    ) -> Result<Self> {
        // The kernel refuses an overlay upper dir on overlayfs, so berthd's state must live on
        // the machine's own filesystem, not in the container's overlay.
        let mut berth_state = ScratchDir::new(Path::new("/var/tmp"), "berth-e2e-state")?;
        if keep {
            berth_state.keep();
        }
        let name = format!("berth-e2e-host-{}", std::process::id());
        let volume = format!("{}:/var/lib/berth", berth_state.path().display());
        let started = Instant::now();
        let id = docker
            .docker()
            .args(["run", "-d", "--name", &name, "--network", "host"])
            .args([
                "--cap-add=ALL",
                "--cap-drop=SYS_RESOURCE",
                "--security-opt",
                "seccomp=unconfined",
            ])
            .args(["--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw"])
            .args([
                "--tmpfs",
                "/run",
                "--tmpfs",
                "/tmp",
                "-e",
                "container=docker",
            ])
            .args([
                "--stop-signal",
                "SIGRTMIN+3",
                "-v",
                &volume,
                image,
                "/lib/systemd/systemd",
            ])
            .quiet()
            .read()
            .with_context(|| format!("booting {image} with systemd as PID 1"))?;
        let host = SystemdHost {
            docker,
            id: id.trim().to_string(),
            berth_state,
            keep,
            last_dnf: RefCell::default(),
        };
        println!(
            "e2e: host container {name} ({}) started",
            &host.id[..12.min(host.id.len())]
        );
        host.wait_for_systemd(started)?;
        Ok(host)
    }

    fn wait_for_systemd(&self, started: Instant) -> Result<()> {
        check("`systemctl is-system-running` reaches running or degraded");
        let mut last = String::new();
        while started.elapsed() < BOOT_TIMEOUT {
            let state = self.run(&["systemctl", "is-system-running"])?;
            last = state.stdout.trim().to_string();
            match last.as_str() {
                "running" => break,
                "degraded" => {
                    let failed = self.run(&["systemctl", "--failed", "--no-legend", "--plain"])?;
                    println!(
                        "e2e: the host is degraded; failed units:\n{}",
                        failed.stdout.trim_end()
                    );
                    break;
                }
                _ => std::thread::sleep(Duration::from_millis(250)),
            }
        }
        if last != "running" && last != "degraded" {
            let jobs = self.run(&["systemctl", "list-jobs", "--no-pager"])?;
            bail!(
                "systemd in the host is still '{last}' after {BOOT_TIMEOUT:?}; pending jobs:\n{}",
                jobs.stdout
            );
        }
        let pid1 = self.run(&["cat", "/proc/1/comm"])?;
        check("PID 1 in the host is systemd");
        if pid1.stdout.trim() != "systemd" {
            bail!("PID 1 in the host is '{}', not systemd", pid1.stdout.trim());
        }
        println!(
            "e2e: systemd is '{last}' in the host after {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Runs a command in the host and returns what happened, whatever its exit status.
    pub fn run(&self, argv: &[&str]) -> Result<Outcome> {
        self.run_with_stdin(argv, None)
    }

    pub fn run_with_stdin(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<Outcome> {
        let mut command = self.docker.docker().arg("exec");
        if stdin.is_some() {
            command = command.arg("-i");
        }
        command = command.arg(&self.id).args(argv).quiet().ignore_status();
        if let Some(bytes) = stdin {
            command = command.stdin(bytes);
        }
        let output = command
            .output()
            .with_context(|| format!("docker exec {argv:?}"))?;
        Ok(Outcome {
            success: output.status.success(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Runs a command that must succeed, echoing it, and returns its stdout.
    pub fn must(&self, argv: &[&str]) -> Result<String> {
        println!("e2e: host$ {}", argv.join(" "));
        let outcome = self.run(argv)?;
        if !outcome.success {
            bail!(
                "`{}` failed in the host (exit {:?}):\n{}{}",
                argv.join(" "),
                outcome.code,
                outcome.stdout,
                outcome.stderr
            );
        }
        Ok(outcome.stdout)
    }

    /// Runs dnf with the given arguments, remembering its output for the failure report.
    pub fn dnf(&self, args: &[&str]) -> Result<String> {
        let mut argv = vec!["dnf"];
        argv.extend_from_slice(args);
        println!("e2e: host$ {}", argv.join(" "));
        let outcome = self.run(&argv)?;
        let text = format!("{}{}", outcome.stdout, outcome.stderr);
        *self.last_dnf.borrow_mut() = format!("$ {}\n{text}", argv.join(" "));
        if !outcome.success {
            bail!(
                "`{}` failed in the host (exit {:?}):\n{text}",
                argv.join(" "),
                outcome.code
            );
        }
        Ok(text)
    }

    /// Writes `contents` to `path` in the host (via a temp file and rename, like a careful admin).
    pub fn write_file(&self, path: &str, contents: &[u8]) -> Result<()> {
        let script = format!(
            "cat > '{path}.e2e-tmp' && sync '{path}.e2e-tmp' && mv '{path}.e2e-tmp' '{path}'"
        );
        let outcome = self.run_with_stdin(&["sh", "-c", &script], Some(contents))?;
        if !outcome.success {
            bail!("writing {path} in the host failed: {}", outcome.stderr);
        }
        Ok(())
    }

    /// Copies a file from this machine into the host (through stdin: `docker cp` cannot write
    /// into the host's tmpfs mounts).
    pub fn copy_in(&self, source: &Path, destination: &str) -> Result<()> {
        let bytes =
            std::fs::read(source).with_context(|| format!("reading {}", source.display()))?;
        self.write_file(destination, &bytes)
    }

    /// The machine-side directory mounted at /var/lib/berth in the host.
    pub fn berth_state_dir(&self) -> &Path {
        self.berth_state.path()
    }

    /// The journal of berth.service and the last dnf output, for a failed step.
    pub fn print_diagnostics(&self) {
        println!("e2e: ----- journalctl -u berth.service (last 100 lines) -----");
        match self.run(&[
            "journalctl",
            "--no-pager",
            "-n",
            "100",
            "-u",
            "berth.service",
            "-u",
            "berth.socket",
        ]) {
            Ok(journal) => println!("{}{}", journal.stdout, journal.stderr),
            Err(err) => println!("(could not read the journal: {err:#})"),
        }
        println!("e2e: ----- last dnf output -----");
        let last_dnf = self.last_dnf.borrow();
        println!(
            "{}",
            if last_dnf.is_empty() {
                "(dnf has not run)"
            } else {
                last_dnf.as_str()
            }
        );
    }
}

impl Drop for SystemdHost<'_> {
    fn drop(&mut self) {
        if self.keep {
            println!(
                "e2e: --keep: the host still runs: `docker -H <socket above> exec -it {} bash`; /var/lib/berth is {}",
                &self.id[..12.min(self.id.len())],
                self.berth_state.path().display()
            );
            return;
        }
        let _ = self
            .docker
            .docker()
            .args(["rm", "-f", "-v", &self.id])
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run();
    }
}
