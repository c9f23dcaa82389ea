//! The build container: the OCI spec `cargo xtask binary` runs the compiler under (read-only
//! image and sources, no network, writes only to the dev cache), and running it to completion.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use berth_runtime::{Bundle, CreateOptions, Runtime};
use oci_spec::runtime::{
    LinuxNamespaceBuilder, LinuxNamespaceType, Mount, MountBuilder, RootBuilder, Spec,
};

/// Fixed paths inside the build container. Every path the compiler sees is one of these, so the
/// host's checkout, cache and toolchain locations never reach the binaries.
pub mod paths {
    pub const SOURCE: &str = "/src";
    pub const VENDOR: &str = "/vendor";
    pub const CACHE: &str = "/cache";
    /// The target dir of the build with `profile`, relative to [`CACHE`]: `target` for
    /// `release`, `target-PROFILE` for another, so the two builds can run at the same time
    /// without waiting for each other's cargo lock.
    pub fn target_subdir(profile: &str) -> String {
        if profile == "release" {
            "target".to_owned()
        } else {
            format!("target-{profile}")
        }
    }
    /// [`target_subdir`] as the container sees it.
    pub fn target_dir_for(profile: &str) -> String {
        format!("{CACHE}/{}", target_subdir(profile))
    }
    pub const CARGO_HOME: &str = "/cache/cargo-home";
    pub const TMP: &str = "/cache/tmp";
}

/// One read-only or read-write bind mount into the container.
#[derive(Debug, Clone)]
pub struct Bind {
    pub host: PathBuf,
    pub container: String,
    pub writable: bool,
}

impl Bind {
    pub fn read_only(host: &Path, container: &str) -> Self {
        Self {
            host: host.to_owned(),
            container: container.to_owned(),
            writable: false,
        }
    }

    pub fn writable(host: &Path, container: &str) -> Self {
        Self {
            host: host.to_owned(),
            container: container.to_owned(),
            writable: true,
        }
    }
}

/// What to run and with what.
#[derive(Debug, Clone)]
pub struct ContainerConfig {
    pub rootfs: PathBuf,
    pub hostname: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub binds: Vec<Bind>,
    /// Mount /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue and /sys (runc's defaults). Off for a
    /// container whose rootfs must hold nothing but one binary.
    pub system_mounts: bool,
}

/// The spec: the image as a read-only root, new mount, pid, uts, ipc and network namespaces (a
/// network namespace with only a downed loopback: no network), /proc, a small /dev, the binds.
pub fn spec(config: &ContainerConfig) -> Result<Spec> {
    let mut spec = berth_runtime::default_spec();
    spec.set_hostname(Some(config.hostname.clone()));
    spec.set_root(Some(
        RootBuilder::default()
            .path(&config.rootfs)
            .readonly(true)
            .build()?,
    ));
    let process = spec
        .process_mut()
        .as_mut()
        .context("the default spec has no process")?;
    process.set_terminal(Some(false));
    process.set_args(Some(config.args.clone()));
    process.set_env(Some(config.env.clone()));
    process.set_cwd(PathBuf::from(&config.cwd));
    process.set_no_new_privileges(Some(true));

    let mut mounts: Vec<Mount> = spec
        .mounts()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|mount| config.system_mounts && mount.destination() != Path::new("/sys/fs/cgroup"))
        .collect();
    for bind in &config.binds {
        let mut options = vec!["rbind".to_owned(), "nosuid".to_owned(), "nodev".to_owned()];
        options.push(if bind.writable { "rw" } else { "ro" }.to_owned());
        mounts.push(
            MountBuilder::default()
                .destination(&bind.container)
                .typ("bind")
                .source(&bind.host)
                .options(options)
                .build()?,
        );
    }
    spec.set_mounts(Some(mounts));

    let namespaces = [
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Network,
    ]
    .into_iter()
    .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
    .collect::<std::result::Result<Vec<_>, _>>()?;
    if let Some(linux) = spec.linux_mut() {
        linux.set_namespaces(Some(namespaces));
    }
    Ok(spec)
}

/// berth_runtime's state root for build containers: short, because the runtime's sockets live
/// below it and unix socket paths are limited to 108 bytes.
const RUNTIME_ROOT: &str = "/run/berth-build";

/// A fresh container id for one build container.
pub fn new_id() -> String {
    format!(
        "build-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or_default()
    )
}

/// Runs the container described by `config` through berth_runtime to completion as `id`, with
/// stdin from /dev/null and stdout and stderr going to `log`, and returns its exit code.
/// `state_dir` holds the bundle while it runs; the runtime's own state is under `RUNTIME_ROOT`.
///
/// The calling binary is the container's init, so its `main` must call
/// `berth_runtime::init_hook()` first (xtask's does).
pub fn run(config: &ContainerConfig, state_dir: &Path, log: &File, id: &str) -> Result<i32> {
    let spec = spec(config)?;
    let bundle_dir = state_dir.join("bundles").join(id);
    std::fs::create_dir_all(&bundle_dir)
        .with_context(|| format!("create {}", bundle_dir.display()))?;
    let result = run_bundle(spec, &bundle_dir, id, log);
    let _ = std::fs::remove_dir_all(&bundle_dir);
    result
}

/// SIGKILLs every process of container `id` (its pid namespace goes with its init). An error
/// means the container does not exist (yet, or any more).
pub fn kill(id: &str) -> Result<()> {
    Runtime::new(RUNTIME_ROOT)
        .kill(id, berth_runtime::Signal::SIGKILL, true)
        .with_context(|| format!("kill the build container {id}"))
}

fn run_bundle(spec: Spec, bundle_dir: &Path, id: &str, log: &File) -> Result<i32> {
    let bundle = Bundle::new(bundle_dir, spec).context("the build container's spec")?;
    let runtime = Runtime::new(RUNTIME_ROOT);
    let options = CreateOptions {
        stdin: Some(OwnedFd::from(File::open("/dev/null")?)),
        stdout: Some(OwnedFd::from(log.try_clone()?)),
        stderr: Some(OwnedFd::from(log.try_clone()?)),
        ..CreateOptions::default()
    };
    let status = runtime
        .run(id, &bundle, options)
        .with_context(|| format!("berth_runtime could not run the container {id}"))?;
    Ok(status.code())
}
