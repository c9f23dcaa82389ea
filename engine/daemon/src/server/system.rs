//! System endpoints: `/_ping`, `/version` and `/info`.

use std::collections::BTreeMap;

use berth_api::system::{
    ComponentVersion, IndexInfo, Platform, RegistryConfig, Runtime, SystemInfo, SystemVersion,
};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use hyper::{Method, Response};

use super::host_facts;
use super::http::{full, ok_json, ApiResult};
use crate::containers::cgroup_support::CgroupSupport;
use crate::daemon::Daemon;

/// `GET|HEAD /_ping`: "OK" (empty for HEAD) with no-cache headers.
pub fn ping(method: &Method) -> ApiResult {
    let body = if method == Method::HEAD { "" } else { "OK" };
    let mut response = Response::new(full(body));
    let headers = response.headers_mut();
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// The version string berthd reports.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");
const GIT_COMMIT: &str = env!("BERTH_BUILD_COMMIT");
const TOOLCHAIN: &str = "rust";

/// `GET /version`.
pub fn version() -> ApiResult {
    let kernel = kernel_version();
    let arch = go_arch();
    let details = BTreeMap::from([
        ("ApiVersion".to_owned(), berth_api::API_VERSION.to_owned()),
        (
            "MinAPIVersion".to_owned(),
            berth_api::MIN_API_VERSION.to_owned(),
        ),
        ("GitCommit".to_owned(), GIT_COMMIT.to_owned()),
        ("GoVersion".to_owned(), TOOLCHAIN.to_owned()),
        ("Os".to_owned(), "linux".to_owned()),
        ("Arch".to_owned(), arch.to_owned()),
        ("KernelVersion".to_owned(), kernel.clone()),
        ("Experimental".to_owned(), "false".to_owned()),
        ("BuildTime".to_owned(), String::new()),
    ]);
    ok_json(&SystemVersion {
        platform: Platform {
            name: "berth".to_owned(),
        },
        components: vec![ComponentVersion {
            name: "Engine".to_owned(),
            version: ENGINE_VERSION.to_owned(),
            details,
        }],
        version: ENGINE_VERSION.to_owned(),
        api_version: berth_api::API_VERSION.to_owned(),
        min_api_version: berth_api::MIN_API_VERSION.to_owned(),
        git_commit: GIT_COMMIT.to_owned(),
        go_version: TOOLCHAIN.to_owned(),
        os: "linux".to_owned(),
        arch: arch.to_owned(),
        kernel_version: kernel,
        build_time: String::new(),
    })
}

/// Counts the handlers fill into `/info`.
#[derive(Debug, Default)]
pub struct Counts {
    pub containers: u64,
    pub running: u64,
    pub paused: u64,
    pub stopped: u64,
    pub images: u64,
}

/// `GET /info`.
pub fn info(daemon: &Daemon, counts: Counts) -> ApiResult {
    let config = daemon.config();
    let uts = nix::sys::utsname::uname().ok();
    let text = |value: Option<&std::ffi::OsStr>| {
        value
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut index_configs = BTreeMap::new();
    index_configs.insert(
        "docker.io".to_owned(),
        IndexInfo {
            name: "docker.io".to_owned(),
            mirrors: config.registry.mirrors.clone(),
            secure: true,
            official: true,
        },
    );
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let os_field = |key: &str| {
        os_release
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(|value| value.trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    let support = CgroupSupport::read();
    let forwarding = host_facts::Forwarding::read();
    let cgroup_version = cgroup_version();
    let warnings = host_facts::warnings(&support, &forwarding, cgroup_version == "2");
    ok_json(&SystemInfo {
        id: daemon.id.clone(),
        containers: counts.containers,
        containers_running: counts.running,
        containers_paused: counts.paused,
        containers_stopped: counts.stopped,
        images: counts.images,
        driver: config.storage_driver.clone(),
        driver_status: host_facts::driver_status(&config.storage_driver, &config.data_root),
        memory_limit: support.memory_limit,
        swap_limit: support.swap_limit,
        cpu_cfs_quota: support.cpu_cfs,
        cpu_cfs_period: support.cpu_cfs,
        cpu_shares: support.cpu_shares,
        cpu_set: support.cpuset,
        pids_limit: support.pids_limit,
        kernel_memory: false,
        kernel_memory_tcp: support.kernel_memory_tcp,
        oom_kill_disable: support.oom_kill_disable,
        ipv4_forwarding: forwarding.ipv4,
        bridge_nf_iptables: forwarding.bridge_nf_iptables,
        bridge_nf_ip6tables: forwarding.bridge_nf_ip6tables,
        debug: config.debug,
        n_fd: std::fs::read_dir("/proc/self/fd")
            .map(|dir| dir.count() as u64)
            .unwrap_or(0),
        n_goroutines: thread_count(),
        system_time: berth_api::time::format_rfc3339(std::time::SystemTime::now()),
        logging_driver: "json-file".to_owned(),
        cgroup_driver: config.cgroup_driver.name().to_owned(),
        cgroup_version: cgroup_version.to_owned(),
        n_events_listener: 0,
        kernel_version: text(uts.as_ref().map(|u| u.release())),
        operating_system: os_field("PRETTY_NAME"),
        os_version: os_field("VERSION_ID"),
        os_type: "linux".to_owned(),
        architecture: text(uts.as_ref().map(|u| u.machine())),
        index_server_address: "https://index.docker.io/v1/".to_owned(),
        registry_config: RegistryConfig {
            insecure_registry_cidrs: config.registry.insecure_registries.clone(),
            index_configs,
            mirrors: config.registry.mirrors.clone(),
        },
        ncpu: cpu_count(),
        mem_total: mem_total(),
        docker_root_dir: config.data_root.display().to_string(),
        name: text(uts.as_ref().map(|u| u.nodename())),
        labels: config.labels.clone(),
        experimental_build: false,
        server_version: ENGINE_VERSION.to_owned(),
        runtimes: BTreeMap::from([(
            "berth-runtime".to_owned(),
            Runtime {
                path: "berth-runtime".to_owned(),
            },
        )]),
        default_runtime: "berth-runtime".to_owned(),
        live_restore_enabled: false,
        security_options: vec!["name=seccomp,profile=default".to_owned()],
        warnings,
    })
}

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|uts| uts.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Go's GOARCH spelling of this machine.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn thread_count() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Threads:"))
                .and_then(|count| count.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn cpu_count() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let count = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    count.max(1) as u64
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0)
}

/// "2" on a unified cgroup2 host, else "1".
fn cgroup_version() -> &'static str {
    match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(stat) if stat.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => "2",
        _ => "1",
    }
}
