//! `cargo xtask bench`: side-by-side benchmarks of berth against its anchors (runc, crun,
//! dockerd, createrepo_c, rpmbuild), measured interleaved in the same run.
//!
//! Each section (one submodule per issue) prepares its fixtures and returns [`Row`]s; this
//! module owns the measuring (wall time of a child; its peak RSS from GNU time, see
//! [`run_under_time`]), the statistics, the printed table and docs/benchmarks.md.

mod build;
mod daemon;
mod image;
mod packaging;
mod report;
mod runtime;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::util::project_root;

#[derive(clap::Args)]
pub struct Args {
    /// Repetitions of each measured command (interleaved with its anchors).
    #[arg(long, default_value_t = 30)]
    pub reps: usize,
    /// Run only the sections whose name contains this text.
    #[arg(long)]
    pub only: Option<String>,
    /// Where to write the report (relative to the workspace root).
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub output: PathBuf,
}

/// One benchmark row: berth's measurement next to its anchor's, with the target ratio.
pub struct Row {
    pub name: String,
    pub ours: Sample,
    pub anchor: Option<Sample>,
    /// The target, as text shown in the report, e.g. "≤ 0.5× runc".
    pub target: String,
    /// Whether the target holds, when it can be judged from this row.
    pub met: Option<bool>,
}

/// What one command measured over its repetitions.
#[derive(Clone)]
pub struct Sample {
    pub label: String,
    pub wall: Vec<Duration>,
    /// Peak resident set size of the measured process tree's largest process, in KiB (from
    /// the instrumented warm-up run).
    pub max_rss_kib: u64,
}

impl Sample {
    pub fn median(&self) -> Duration {
        let mut sorted = self.wall.clone();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }
}

/// A command to measure, built afresh for each repetition.
pub struct Measured<'a> {
    pub label: String,
    pub command: Box<dyn Fn() -> Command + 'a>,
}

impl<'a> Measured<'a> {
    pub fn new(label: impl Into<String>, command: impl Fn() -> Command + 'a) -> Self {
        Measured {
            label: label.into(),
            command: Box::new(command),
        }
    }
}

/// Runs every command `reps` times, interleaved (a, b, c, a, b, c, …), after one warm-up each
/// that also measures its peak RSS. A command that exits non-zero fails the benchmark: a
/// failing run is no result.
pub fn measure_interleaved(commands: &[Measured<'_>], reps: usize) -> Result<Vec<Sample>> {
    let mut samples: Vec<Sample> = commands
        .iter()
        .map(|measured| Sample {
            label: measured.label.clone(),
            wall: Vec::with_capacity(reps),
            max_rss_kib: 0,
        })
        .collect();
    for round in 0..=reps {
        for (measured, sample) in commands.iter().zip(samples.iter_mut()) {
            let context = || format!("benchmark command '{}'", measured.label);
            if round == 0 {
                let (_, rss_kib) = run_under_time(&(measured.command)()).with_context(context)?;
                sample.max_rss_kib = rss_kib;
                continue;
            }
            let wall = run_once(&mut (measured.command)()).with_context(context)?;
            sample.wall.push(wall);
        }
    }
    Ok(samples)
}

/// Runs a command to completion and returns its wall time.
pub fn run_once(command: &mut Command) -> Result<Duration> {
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    let started = Instant::now();
    let status = command.status().context("cannot start")?;
    let wall = started.elapsed();
    if !status.success() {
        bail!("exited with {status}");
    }
    Ok(wall)
}

/// Runs `command` once under GNU time: its wall time (GNU time's start-up included, under a
/// millisecond) and peak RSS in KiB.
///
/// `wait4` on a child of this process cannot tell: Linux carries the RSS high-water mark of the
/// memory a process had before `exec` into its `ru_maxrss`, and std spawns with vfork, so every
/// child would report at least this (large, growing) process's RSS. GNU time is small and forks
/// the command itself, so the figure is the command's own.
pub fn run_under_time(command: &Command) -> Result<(Duration, u64)> {
    let report = tempfile::NamedTempFile::new().context("temp file for GNU time")?;
    // /proc/self/exe (how xtask runs itself) would name GNU time once it runs.
    let program = match command.get_program() {
        program if program == "/proc/self/exe" => std::env::current_exe()
            .context("this xtask's path")?
            .into_os_string(),
        program => program.to_os_string(),
    };
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["--format", "%M", "--output"])
        .arg(report.path())
        .arg(program)
        .args(command.get_args())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    if let Some(dir) = command.get_current_dir() {
        timed.current_dir(dir);
    }
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => timed.env(key, value),
            None => timed.env_remove(key),
        };
    }
    let started = Instant::now();
    let status = timed.status().context("cannot start /usr/bin/time")?;
    let wall = started.elapsed();
    if !status.success() {
        bail!("exited with {status} (under /usr/bin/time)");
    }
    let text = std::fs::read_to_string(report.path()).context("reading GNU time's report")?;
    let rss_kib = text
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .with_context(|| format!("GNU time printed no peak RSS: {text:?}"))?;
    Ok((wall, rss_kib))
}

impl Args {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let wanted = |section: &str| {
            self.only
                .as_deref()
                .is_none_or(|only| section.contains(only))
        };
        let binaries = release_binaries(sh, wanted("image"), wanted("packaging"))?;
        let mut rows = Vec::new();
        if wanted("runtime") {
            rows.extend(runtime::rows(&binaries, self.reps).context("runtime benchmarks")?);
        }
        if wanted("packaging") {
            rows.extend(packaging::rows(&binaries, self.reps).context("packaging benchmarks")?);
        }
        if wanted("image") {
            rows.extend(image::rows(sh, &binaries, self.reps).context("image benchmarks")?);
        }
        if wanted("build") {
            rows.extend(build::rows(self.reps).context("build benchmarks")?);
        }
        if wanted("daemon") {
            rows.extend(daemon::rows(sh, &binaries, self.reps).context("daemon benchmarks")?);
        }
        if rows.is_empty() {
            bail!("no benchmark section matched --only");
        }
        let text = report::render(&rows, self.reps)?;
        print!("{text}");
        let output = project_root().join(&self.output);
        report::write_atomically(&output, &text)?;
        println!("wrote {}", output.display());
        Ok(())
    }
}

/// Where the private dockerd of the image and daemon sections keeps its data between runs
/// (apart from the e2e harness's, so the two never wait for each other's lock).
fn bench_cache_dir() -> Result<PathBuf> {
    let dir = PathBuf::from("/var/cache/berth-bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Paths of the release binaries under test.
pub struct Binaries {
    /// The directory holding berth, berthd and berth-runtime.
    pub release_dir: PathBuf,
    pub runtime: PathBuf,
    pub berthd: PathBuf,
    pub berth: PathBuf,
    /// berth-image's `pull-bench` example: one pull into a fresh store, as JSON.
    pub pull_bench: PathBuf,
    /// berth-packaging's `repodata` example: one repodata update of a directory.
    pub repodata_example: PathBuf,
}

/// Builds the engine binaries, and the measuring examples the chosen sections run, in release
/// mode on the host (the benchmark measures the code, not the build container).
fn release_binaries(sh: &Shell, pull_bench: bool, repodata: bool) -> Result<Binaries> {
    cmd!(
        sh,
        "cargo build --release --locked -p berth-runtime -p berthd -p berth"
    )
    .run()
    .context("building the release binaries")?;
    if pull_bench {
        cmd!(
            sh,
            "cargo build --release --locked -p berth-image --example pull-bench"
        )
        .run()
        .context("building berth-image's pull-bench example")?;
    }
    if repodata {
        cmd!(
            sh,
            "cargo build --release --locked -p berth-packaging --example repodata"
        )
        .run()
        .context("building berth-packaging's repodata example")?;
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"));
    let release_dir = target_dir.join("release");
    Ok(Binaries {
        runtime: release_dir.join("berth-runtime"),
        berthd: release_dir.join("berthd"),
        berth: release_dir.join("berth"),
        pull_bench: release_dir.join("examples/pull-bench"),
        repodata_example: release_dir.join("examples/repodata"),
        release_dir,
    })
}
