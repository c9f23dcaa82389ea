//! `cargo xtask e2e`: the user's whole path on a real systemd host, checked step by step.
//!
//! A private Docker daemon (started and stopped here) boots a cached Debian rootfs with systemd
//! as PID 1, rpm and dnf. On that host the harness installs berth from the generated yum repo
//! (served over http on 127.0.0.1), enables it with systemctl, points it at a local registry
//! mirror, runs hello-world, upgrades to N+1 and removes it again. Every step prints what it
//! checks and how long it took; a failing step prints the journal of berth.service and the last
//! dnf output. `--until STEP` stops early, so the finished parts can be proved while the rest
//! of the pipeline is still being built.

mod base_provides;
mod berth;
mod cgroup_driver;
pub(crate) mod docker;
mod host;
mod host_image;
mod http;
mod publish;
pub(crate) mod registry;
pub(crate) mod scratch;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use xshell::Shell;

use crate::util::project_root;

/// The steps of the path, in the order they run. `--until` names the last one to run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, clap::ValueEnum)]
pub enum Step {
    /// `cargo xtask release` with a throwaway key builds version N and the repo.
    Release,
    /// Build (or reuse) the cached host image and boot it with systemd as PID 1.
    Host,
    /// Install the "base provides" RPM that stands for the host's Debian packages.
    Base,
    /// Build library/hello-world and push it to a local registry on 127.0.0.1.
    Registry,
    /// Serve the repo, add berth.repo, import the key, `dnf install berth-engine berth-cli`.
    Install,
    /// `systemctl enable --now`, unit states, socket mode and `berth version`.
    Enable,
    /// Add the registry mirror to daemon.json, reload, `berth run --rm hello-world`.
    Mirror,
    /// `systemctl restart berth` keeps the pulled image.
    Restart,
    /// exec-opts native.cgroupdriver=systemd: a container runs in a systemd scope.
    Scope,
    /// Publish N+1 and `dnf upgrade`: config kept, service restarted, image kept.
    Upgrade,
    /// `dnf remove`: units stopped and disabled, /var/lib/berth kept.
    Remove,
}

#[derive(clap::Args)]
pub struct Args {
    /// Run the steps up to and including this one (all of them by default).
    #[arg(long, value_enum, default_value = "remove")]
    pub until: Step,
    /// Do not run `cargo xtask release`: use the repo already in bundles/repo.
    #[arg(long)]
    pub skip_build: bool,
    /// Where the host rootfs and the private Docker daemon's data are cached between runs.
    #[arg(long, env = "BERTH_E2E_CACHE", default_value = "/var/cache/berth-e2e")]
    pub cache_dir: PathBuf,
    /// Skip the mirror step (`berth run --rm hello-world`) and the image checks that depend on
    /// it, while image pulling is still being built. The summary names what was not proved.
    #[arg(long)]
    pub skip_mirror: bool,
    /// Let `cargo xtask release` compile on this machine instead of in the build container.
    #[arg(long)]
    pub host_build: bool,
    /// With --skip-build: the armored secret key the repo in bundles/ was signed with, needed
    /// to publish N+1 in the upgrade step.
    #[arg(long, value_name = "FILE")]
    pub gpg_key: Option<PathBuf>,
    /// Debian mirror for debootstrap (default: the first bookworm source apt uses here).
    #[arg(long)]
    pub mirror: Option<String>,
    /// Leave the host and the private Docker daemon running at the end, for debugging.
    #[arg(long)]
    pub keep: bool,
}

impl Args {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let started = Instant::now();
        let mut timings: Vec<(Step, Option<f64>)> = Vec::new();
        let result = self.run_steps(sh, &mut timings);
        println!("e2e: summary");
        let mut skipped = Vec::new();
        for (step, secs) in &timings {
            let name = format!("{step:?}").to_lowercase();
            match secs {
                Some(secs) => println!("e2e:   {name:<9} {secs:>7.1}s"),
                None => {
                    println!("e2e:   {name:<9} SKIPPED");
                    skipped.push(name);
                }
            }
        }
        let total = started.elapsed().as_secs_f64();
        let not_proved = if skipped.is_empty() {
            String::new()
        } else {
            format!(" (SKIPPED, not proved: {})", skipped.join(", "))
        };
        match &result {
            Ok(()) => println!(
                "e2e: passed every step up to '{:?}' in {total:.1}s{not_proved}",
                self.until
            ),
            Err(err) => println!("e2e: FAILED after {total:.1}s: {err:#}"),
        }
        result
    }

    fn run_steps(&self, sh: &Shell, timings: &mut Vec<(Step, Option<f64>)>) -> Result<()> {
        let mut run = Run::new(self, sh, timings);
        let bundles = project_root().join("bundles");

        let key = run.step(Step::Release, |_| {
            if self.skip_build {
                println!(
                    "e2e: --skip-build: using the repo already in {}",
                    bundles.display()
                );
                // The key path is relative to where the command was typed.
                self.gpg_key
                    .as_deref()
                    .map(std::path::absolute)
                    .transpose()
                    .map_err(Into::into)
            } else {
                publish::release_n(sh, &bundles, self.host_build).map(Some)
            }
        })?;
        if run.done() {
            return Ok(());
        }

        std::fs::create_dir_all(&self.cache_dir)
            .with_context(|| format!("creating the e2e cache dir {}", self.cache_dir.display()))?;
        let docker = docker::PrivateDocker::start(sh, &self.cache_dir, !self.keep)?;
        let outcome = self.run_on_host(&mut run, &docker, &bundles, key);
        if self.keep {
            docker.keep();
        }
        outcome
    }

    fn run_on_host(
        &self,
        run: &mut Run<'_>,
        docker: &docker::PrivateDocker,
        bundles: &std::path::Path,
        key: Option<PathBuf>,
    ) -> Result<()> {
        let sh = run.sh;
        let host = run.step(Step::Host, |_| {
            let recipe = host_image::Recipe::bookworm(self.mirror.clone())?;
            let image = host_image::ensure(sh, docker, &recipe, &self.cache_dir)?;
            host::SystemdHost::boot(sh, docker, &image, self.keep)
        })?;
        if run.done() {
            return Ok(());
        }
        let result = self.berth_steps(run, &host, bundles, key);
        if result.is_err() {
            host.print_diagnostics();
        }
        result
    }

    fn berth_steps(
        &self,
        run: &mut Run<'_>,
        host: &host::SystemdHost<'_>,
        bundles: &std::path::Path,
        key: Option<PathBuf>,
    ) -> Result<()> {
        let sh = run.sh;
        run.step(Step::Base, |_| base_provides::install(sh, host))?;
        if run.done() {
            return Ok(());
        }
        let registry = run.step(Step::Registry, |_| registry::HelloRegistry::start(sh))?;
        if run.done() {
            return Ok(());
        }
        let mut session = run.step(Step::Install, |_| {
            berth::Session::install(sh, host, bundles, key.clone())
        })?;
        if run.done() {
            return Ok(());
        }
        run.step(Step::Enable, |_| session.enable())?;
        if run.done() {
            return Ok(());
        }
        if self.skip_mirror {
            run.skip(Step::Mirror);
        } else {
            run.step(Step::Mirror, |_| session.mirror(&registry))?;
        }
        if run.done() {
            return Ok(());
        }
        run.step(Step::Restart, |_| session.restart())?;
        if run.done() {
            return Ok(());
        }
        if self.skip_mirror {
            run.skip(Step::Scope);
        } else {
            run.step(Step::Scope, |_| cgroup_driver::systemd_scope(host))?;
        }
        if run.done() {
            return Ok(());
        }
        run.step(Step::Upgrade, |_| session.upgrade())?;
        if run.done() {
            return Ok(());
        }
        run.step(Step::Remove, |_| session.remove())
    }
}

/// Runs the steps in order, timing each and remembering the last one that ran.
struct Run<'a> {
    sh: &'a Shell,
    until: Step,
    last: Option<Step>,
    timings: &'a mut Vec<(Step, Option<f64>)>,
}

impl<'a> Run<'a> {
    fn new(args: &Args, sh: &'a Shell, timings: &'a mut Vec<(Step, Option<f64>)>) -> Self {
        Run {
            sh,
            until: args.until,
            last: None,
            timings,
        }
    }

    fn step<T>(&mut self, step: Step, body: impl FnOnce(&Shell) -> Result<T>) -> Result<T> {
        let name = format!("{step:?}").to_lowercase();
        println!("e2e: ===== step '{name}' =====");
        let started = Instant::now();
        let result = body(self.sh);
        let secs = started.elapsed().as_secs_f64();
        self.timings.push((step, Some(secs)));
        self.last = Some(step);
        match &result {
            Ok(_) => println!("e2e: step '{name}' passed in {secs:.1}s"),
            Err(err) => println!("e2e: step '{name}' FAILED in {secs:.1}s: {err:#}"),
        }
        result.with_context(|| format!("e2e step '{name}'"))
    }

    /// Records a step that did not run, loudly.
    fn skip(&mut self, step: Step) {
        let name = format!("{step:?}").to_lowercase();
        println!("e2e: ===== step '{name}' SKIPPED: nothing in it is proved =====");
        self.last = Some(step);
        self.timings.push((step, None));
    }

    /// True once the `--until` step has run.
    fn done(&self) -> bool {
        self.last.is_some_and(|last| last >= self.until)
    }
}

/// Prints one check the harness makes, so the log reads as a list of claims.
pub fn check(what: &str) {
    println!("e2e: check: {what}");
}
