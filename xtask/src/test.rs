//! `cargo xtask test`: installs the Debian packages the tests need, then runs the whole suite.
//!
//! The suite runs as root against real components (the kernel, rpm, dnf, a registry, systemd),
//! so the tools are installed here rather than mocked in the tests.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser as _;
use xshell::{cmd, Shell};

use crate::e2e;

mod pypi;

/// Commands the tests call, and the Debian package that provides each.
const TOOLS: &[(&str, &str)] = &[
    ("rpm", "rpm"),
    ("rpmbuild", "rpm"),
    ("createrepo_c", "createrepo-c"),
    ("dnf", "dnf"),
    ("rpmlint", "rpmlint"),
    ("docker-registry", "docker-registry"),
    ("skopeo", "skopeo"),
    ("umoci", "umoci"),
    ("runc", "runc"),
    ("crun", "crun"),
    ("debootstrap", "debootstrap"),
    ("busybox", "busybox-static"),
    ("dockerd", "docker.io"),
    ("docker", "docker.io"),
    ("openssl", "openssl"),
    ("curl", "curl"),
    ("dbus-daemon", "dbus-daemon"),
    ("unshare", "util-linux"),
    ("setpriv", "util-linux"),
    ("strace", "strace"),
    ("systemd-analyze", "systemd"),
    ("gpg", "gnupg"),
    ("hyperfine", "hyperfine"),
    ("time", "time"),
    ("ps", "procps"),
    ("nginx", "nginx"),
];

#[derive(clap::Args)]
pub struct Args {
    /// Only check and install the tools; do not run the tests.
    #[arg(long)]
    pub tools_only: bool,
    /// Run only the format-and-lints stage and the quick stage (`cargo test --workspace`): skip
    /// the build-container stage (a static release build, checked and built twice for
    /// reproducibility) and the end-to-end stage on a systemd host.
    #[arg(long)]
    pub quick: bool,
    /// Skip the end-to-end stage only.
    #[arg(long)]
    pub no_e2e: bool,
    /// The last end-to-end step to run.
    #[arg(long, value_enum, default_value = "remove")]
    pub e2e_until: e2e::Step,
    /// Extra arguments passed to the quick stage's `cargo test` (e.g. a test name filter).
    #[arg(last = true)]
    pub cargo_args: Vec<String>,
}

/// The build-container tests: `#[ignore]`d in the quick stage because each compiles the engine
/// in the build container, and run here one after another.
const BUILD_CONTAINER_TESTS: &[&str] = &["binary_stage", "reproducible"];

impl Args {
    pub fn run(self, sh: &Shell) -> Result<()> {
        if !nix_is_root() {
            bail!("cargo xtask test runs the suite as root (namespaces, cgroups, rpm installroots); run it as root");
        }
        install_missing_tools(sh)?;
        pypi::install_missing_tools(sh)?;
        if self.tools_only {
            return Ok(());
        }
        report_free_disk(sh);
        stage("format and lints", || {
            cmd!(sh, "cargo fmt --all -- --check")
                .run()
                .context("cargo fmt --check found unformatted files (run cargo fmt --all)")?;
            cmd!(
                sh,
                "cargo clippy --workspace --all-targets --locked -- -D warnings"
            )
            .run()
            .context("cargo clippy found warnings")
        })?;
        let cargo_args = &self.cargo_args;
        stage("unit and integration tests", || {
            cmd!(sh, "cargo test --workspace --locked {cargo_args...}")
                .run()
                .context("cargo test failed")
        })?;
        if self.quick {
            println!("xtask test: stages 'build container' and 'end to end' SKIPPED (--quick)");
            return Ok(());
        }
        let test_args: Vec<String> = BUILD_CONTAINER_TESTS
            .iter()
            .flat_map(|name| ["--test".to_owned(), (*name).to_owned()])
            .collect();
        stage("build container", || {
            cmd!(
                sh,
                "cargo test -p xtask --locked {test_args...} -- --ignored --test-threads=1"
            )
            .run()
            .context("the build-container tests failed")
        })?;
        if self.no_e2e {
            println!("xtask test: stage 'end to end' SKIPPED (--no-e2e)");
            return Ok(());
        }
        let until = format!("{:?}", self.e2e_until).to_lowercase();
        let e2e = E2eDefaults::try_parse_from(["e2e", "--until", until.as_str()])
            .context("e2e arguments")?;
        stage("end to end", || e2e.args.run(sh))
    }
}

/// `cargo xtask e2e`'s own defaults (cache dir, environment), parsed as its command line would be.
#[derive(clap::Parser)]
struct E2eDefaults {
    #[command(flatten)]
    args: e2e::Args,
}

/// Runs one named stage and prints a summary line for it, as CI reads them.
pub fn stage(name: &str, body: impl FnOnce() -> Result<()>) -> Result<()> {
    let started = Instant::now();
    let result = body();
    let secs = started.elapsed().as_secs_f64();
    match &result {
        Ok(()) => println!("xtask test: stage '{name}' passed in {secs:.1}s"),
        Err(err) => println!("xtask test: stage '{name}' FAILED in {secs:.1}s: {err:#}"),
    }
    result
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Prints the free space where the suite writes: the debug target dir (about 2 GiB from a clean
/// clone), the build and end-to-end caches under /var (about 3 GiB) and temp dirs. A full disk
/// otherwise shows up only as a linker's I/O error deep in the log.
fn report_free_disk(sh: &Shell) {
    println!(
        "xtask test: free disk where the suite writes (it needs about 6 GiB from a clean clone):"
    );
    if cmd!(sh, "df -h --output=avail,target . /var /tmp")
        .run()
        .is_err()
    {
        println!("xtask test: df failed; free space unknown");
    }
}

/// Installs, with apt-get, the package of every tool that is not on PATH.
pub fn install_missing_tools(sh: &Shell) -> Result<()> {
    let mut packages: Vec<&str> = TOOLS
        .iter()
        .filter(|(tool, _)| which(tool).is_none())
        .map(|(_, package)| *package)
        .collect();
    packages.sort_unstable();
    packages.dedup();
    if packages.is_empty() {
        return Ok(());
    }
    apt_install(sh, &packages)
}

/// `apt-get update` and `apt-get install` of `packages`.
fn apt_install(sh: &Shell, packages: &[&str]) -> Result<()> {
    println!("xtask test: installing {}", packages.join(" "));
    let _env = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
    cmd!(sh, "apt-get update -q")
        .run()
        .context("apt-get update failed")?;
    cmd!(
        sh,
        "apt-get install -y -q --no-install-recommends {packages...}"
    )
    .run()
    .context("apt-get install failed")?;
    Ok(())
}

/// The full path of `tool` on PATH, if any.
pub fn which(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}
