//! `cargo xtask binary`: compiles berth, berthd and berth-runtime fully static inside the build
//! container (no network, read-only sources) into bundles/<version>/binary, like moby's
//! `make binary`. [`build_binaries`] is the entry point other stages and tests call.

pub mod checks;
pub mod container;
pub mod elf;
pub mod interrupt;
pub mod output;
pub mod reproducible;
pub mod sources;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::build::progress::{LogFollower, Progress};
use crate::build::store::Cache;
use crate::build::{host, CacheArgs, Image};
use container::{paths, Bind, ContainerConfig};
use sources::{SourceInfo, PACKAGES};

/// Free space a build needs in the dev cache.
const BUILD_MIB: u64 = 2048;

/// What marks a linker warning about glibc functions that need the shared libraries at run time
/// (NSS: getaddrinfo, getpwnam...; dlopen). Any of them fails the build.
const STATIC_GLIBC_WARNING: &str = "in statically linked applications requires at runtime";

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// The target dir and cargo home to compile in (created if missing). Default: the build
    /// cache's dev-cache/<image digest>, kept between builds like moby's docker-dev-cache.
    #[arg(long, value_name = "DIR")]
    pub dev_cache: Option<PathBuf>,
}

impl Args {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let mut options = BuildOptions::new(crate::util::project_root(), self.cache.cache_dir);
        options.dev_cache = self.dev_cache;
        let output = build_binaries(sh, &options)?;
        println!("{}", output.binary_dir.display());
        Ok(())
    }
}

/// Where a build reads from and writes to.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The checkout to build (mounted read-only at /src); bundles/ is written below it.
    pub project_root: PathBuf,
    pub cache: Cache,
    /// The persistent target dir and cargo home; default: the cache's dev-cache/<image digest>.
    pub dev_cache: Option<PathBuf>,
}

impl BuildOptions {
    pub fn new(project_root: PathBuf, cache_dir: Option<PathBuf>) -> Self {
        Self {
            project_root,
            cache: Cache::resolve(cache_dir),
            dev_cache: None,
        }
    }
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    /// bundles/<version>/binary
    pub binary_dir: PathBuf,
    /// (name, sha256 hex) of each binary, in [`PACKAGES`] order.
    pub binaries: Vec<(String, String)>,
    pub info: output::BuildInfo,
}

/// Builds the image if needed, vendors the dependencies, compiles the engine in the build
/// container and writes bundles/<version>.
pub fn build_binaries(sh: &Shell, options: &BuildOptions) -> Result<BuildOutput> {
    host::require_privileges("binary")?;
    let root = &options.project_root;
    let image = crate::build::ensure_image(sh, &options.cache, root, false)?;
    let source = SourceInfo::read(sh, root)?;
    let vendor = sources::vendor(sh, &options.cache, root)
        .map_err(|err| host::name_disk_full(err, &options.cache.root))?;
    let dev_cache = options
        .dev_cache
        .clone()
        .unwrap_or_else(|| options.cache.dev_cache_dir(&image.digest));
    for dir in ["target", "cargo-home", "tmp", "state", "logs"] {
        std::fs::create_dir_all(dev_cache.join(dir))
            .with_context(|| format!("create {}", dev_cache.join(dir).display()))
            .map_err(|err| host::name_disk_full(err, &dev_cache))?;
    }
    host::require_free_space(&dev_cache, BUILD_MIB)?;

    // Held from compiling to copying out, so a parallel build using the same dev cache cannot
    // relink the binaries while this one reads them.
    let _dev_cache_lock = host::lock_exclusive(&dev_cache.join(".lock"))?;
    let configs = compile_configs(&image, &source, root, &vendor, &dev_cache);
    // One log per run (parallel runs may share a dev cache); a successful run's log becomes
    // logs/cargo-build.log, a failed one stays where the error message says.
    let run_log = dev_cache.join(format!("logs/cargo-build-{}.log", std::process::id()));
    compile(&configs, &dev_cache, &run_log)?;
    let log_path = dev_cache.join("logs/cargo-build.log");
    std::fs::rename(&run_log, &log_path)
        .with_context(|| format!("rename {} to {}", run_log.display(), log_path.display()))?;

    let target = &image.definition.toolchain.target;
    let built = |name: &str| {
        let profile = sources::profile_of(name);
        dev_cache
            .join(paths::target_subdir(profile))
            .join(target)
            .join(profile)
            .join(name)
    };
    for name in PACKAGES {
        let path = built(name);
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "the build did not produce {}; compiler output: {}",
                path.display(),
                log_path.display()
            )
        })?;
        checks::check_static(&path, &bytes)?;
    }
    let output = output::write_bundle(root, &built, &image, &source, &log_path)
        .map_err(|err| host::name_disk_full(err, &root.join("bundles")))?;
    checks::check_binaries(&output.binary_dir)?;
    Ok(output)
}

/// The containers that run `cargo build` for the engine binaries, one per cargo profile (see
/// [`sources::profile_of`]), in the same image, mounts and environment.
fn compile_configs(
    image: &Image,
    source: &SourceInfo,
    project_root: &Path,
    vendor: &Path,
    dev_cache: &Path,
) -> Vec<ContainerConfig> {
    let profiles: std::collections::BTreeSet<&str> =
        PACKAGES.iter().map(|p| sources::profile_of(p)).collect();
    profiles
        .into_iter()
        .map(|profile| {
            let packages: Vec<&str> = PACKAGES
                .into_iter()
                .filter(|package| sources::profile_of(package) == profile)
                .collect();
            compile_config(
                image,
                source,
                project_root,
                vendor,
                dev_cache,
                profile,
                &packages,
            )
        })
        .collect()
}

/// The container that runs `cargo build --profile PROFILE` for `packages`.
fn compile_config(
    image: &Image,
    source: &SourceInfo,
    project_root: &Path,
    vendor: &Path,
    dev_cache: &Path,
    profile: &str,
    packages: &[&str],
) -> ContainerConfig {
    let toolchain_mount = &image.definition.toolchain.mount;
    let target = &image.definition.toolchain.target;
    let rustflags = [
        "-C target-feature=+crt-static".to_owned(),
        // The image's GNU ld instead of the toolchain's rust-lld: it is the linker that warns
        // about glibc functions a static binary cannot use, and -W linker-messages shows it.
        "-C linker-features=-lld".to_owned(),
        "-W linker-messages".to_owned(),
        format!("--remap-path-prefix={}=/berth", paths::SOURCE),
        format!("--remap-path-prefix={}=/cargo/vendor", paths::VENDOR),
        format!("--remap-path-prefix={}=/cargo", paths::CARGO_HOME),
        format!(
            "--remap-path-prefix={}=/target",
            paths::target_dir_for(profile)
        ),
        format!("--remap-path-prefix={toolchain_mount}=/rust"),
    ]
    .join(" ");
    let mut args = vec![
        format!("{toolchain_mount}/bin/cargo"),
        "build".to_owned(),
        "--profile".to_owned(),
        profile.to_owned(),
        "--locked".to_owned(),
        "--offline".to_owned(),
        "--target".to_owned(),
        target.clone(),
        "--config".to_owned(),
        "source.crates-io.replace-with='vendored-sources'".to_owned(),
        "--config".to_owned(),
        format!("source.vendored-sources.directory='{}'", paths::VENDOR),
    ];
    for package in packages {
        args.extend(["-p".to_owned(), (*package).to_owned()]);
    }
    let env = vec![
        format!("PATH={toolchain_mount}/bin:/usr/local/bin:/usr/bin:/bin"),
        format!("HOME={}", paths::CACHE),
        format!("CARGO_HOME={}", paths::CARGO_HOME),
        format!("CARGO_TARGET_DIR={}", paths::target_dir_for(profile)),
        format!("TMPDIR={}", paths::TMP),
        format!("RUSTFLAGS={rustflags}"),
        format!("SOURCE_DATE_EPOCH={}", source.source_date_epoch),
        format!("BERTH_BUILD_COMMIT={}", source.commit),
        "CARGO_INCREMENTAL=0".to_owned(),
        "CARGO_TERM_COLOR=never".to_owned(),
        "CARGO_TERM_PROGRESS_WHEN=never".to_owned(),
        "TZ=UTC".to_owned(),
        "LC_ALL=C.UTF-8".to_owned(),
    ];
    // Cargo's own tracing (e.g. CARGO_LOG=cargo::core::compiler::fingerprint=info, to see
    // why something rebuilt) goes to the compiler log when asked for on the host.
    let env: Vec<String> = env
        .into_iter()
        .chain(
            std::env::var("CARGO_LOG")
                .ok()
                .map(|v| format!("CARGO_LOG={v}")),
        )
        .collect();
    ContainerConfig {
        rootfs: image.rootfs.clone(),
        hostname: "berth-build".to_owned(),
        args,
        env,
        cwd: paths::SOURCE.to_owned(),
        binds: vec![
            Bind::read_only(&image.toolchain.sysroot, toolchain_mount),
            Bind::read_only(project_root, paths::SOURCE),
            Bind::read_only(vendor, paths::VENDOR),
            Bind::writable(dev_cache, paths::CACHE),
        ],
        system_mounts: true,
    }
}

/// Runs the build containers side by side to completion (the `release` build leaves a core
/// idle for minutes while it links berthd), following their shared log into `progress`, and
/// kills them all when Ctrl-C or SIGTERM arrives. Returns the first non-zero exit code, or 0.
fn run_watched(
    configs: &[ContainerConfig],
    state_dir: &Path,
    log: &File,
    follower: &mut LogFollower,
    progress: &mut Progress,
) -> Result<i32> {
    let ids: Vec<String> = configs.iter().map(|_| container::new_id()).collect();
    std::thread::scope(|scope| {
        let containers: Vec<_> = configs
            .iter()
            .zip(&ids)
            .map(|(config, id)| scope.spawn(move || container::run(config, state_dir, log, id)))
            .collect();
        while !containers.iter().all(|container| container.is_finished()) {
            if interrupt::requested() {
                for id in &ids {
                    // Until it works: the signal may come before the container exists.
                    let _ = container::kill(id);
                }
            }
            follower.poll(|line| progress.line(line));
            std::thread::sleep(Duration::from_millis(150));
        }
        follower.poll(|line| progress.line(line));
        let mut first_failure = 0;
        for container in containers {
            let code = container
                .join()
                .unwrap_or_else(|_| bail!("the build container thread panicked"))?;
            if first_failure == 0 {
                first_failure = code;
            }
        }
        Ok(first_failure)
    })
}

/// Runs the compile container with progress, keeping its output in `log_path`; fails with one
/// line naming the cause and the log. Ctrl-C or SIGTERM kills the container (every process in
/// it) and fails with "interrupted".
fn compile(configs: &[ContainerConfig], dev_cache: &Path, log_path: &Path) -> Result<()> {
    let log = File::create(log_path).with_context(|| format!("create {}", log_path.display()))?;
    let mut follower = LogFollower::new(File::open(log_path)?);
    interrupt::catch()?;
    let mut progress = Progress::start("cargo build --release (in the build container)");
    let state_dir = dev_cache.join("state");
    let exit_code = run_watched(configs, &state_dir, &log, &mut follower, &mut progress);
    if interrupt::requested() {
        progress.finish("interrupted");
        bail!(
            "interrupted: the build container was killed; compiler output so far: {}",
            log_path.display()
        );
    }
    let exit_code = match exit_code {
        Ok(code) => code,
        Err(err) => {
            progress.finish("failed");
            return Err(err);
        }
    };
    let output = std::fs::read_to_string(log_path).unwrap_or_default();
    if exit_code != 0 {
        progress.finish("failed");
        if output.contains("No space left on device") {
            bail!(
                "disk full: the build ran out of space; compiler output: {}",
                log_path.display()
            );
        }
        bail!(
            "cargo build failed in the build container (exit code {exit_code}); compiler output: {}",
            log_path.display()
        );
    }
    if let Some(line) = output
        .lines()
        .find(|line| line.contains(STATIC_GLIBC_WARNING))
    {
        progress.finish("failed");
        let symbol = line.split('\'').nth(1).unwrap_or("a glibc function");
        bail!(
            "the static link uses '{symbol}', which needs glibc's shared libraries at run time; compiler output: {}",
            log_path.display()
        );
    }
    progress.finish("done");
    Ok(())
}
