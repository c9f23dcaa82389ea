//! System endpoints: `GET /version` and `GET /info`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One component in `/version`'s `Components` list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ComponentVersion {
    /// Component name, "Engine" for the daemon itself.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Free-form details (ApiVersion, GitCommit, ...).
    pub details: BTreeMap<String, String>,
}

/// The body of `GET /version`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SystemVersion {
    /// Platform name, e.g. {"Name": "berth"}.
    pub platform: Platform,
    /// Components of the engine.
    pub components: Vec<ComponentVersion>,
    /// Engine version.
    pub version: String,
    /// Advertised API version.
    pub api_version: String,
    /// Oldest accepted API version.
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    /// Commit the daemon was built from.
    pub git_commit: String,
    /// Toolchain; docker puts the Go version here, berth the Rust one.
    pub go_version: String,
    /// "linux".
    pub os: String,
    /// Architecture in Go's spelling ("amd64").
    pub arch: String,
    /// `uname -r`.
    pub kernel_version: String,
    /// Build time, RFC 3339 (may be empty).
    pub build_time: String,
}

/// `{"Name": ...}` in `/version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Platform {
    /// Product name.
    pub name: String,
}

/// One registry's settings inside `RegistryConfig.IndexConfigs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IndexInfo {
    /// Registry host name.
    pub name: String,
    /// Mirrors tried before it.
    pub mirrors: Vec<String>,
    /// Whether TLS verification is skipped.
    pub secure: bool,
    /// Whether it is the official index.
    pub official: bool,
}

/// `RegistryConfig` in `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RegistryConfig {
    /// Insecure registries given as CIDRs.
    #[serde(rename = "InsecureRegistryCIDRs")]
    pub insecure_registry_cidrs: Vec<String>,
    /// Per-registry settings.
    pub index_configs: BTreeMap<String, IndexInfo>,
    /// Mirrors of docker.io.
    pub mirrors: Vec<String>,
}

/// The body of `GET /info` (the subset the docker CLI prints).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SystemInfo {
    /// Daemon identity.
    #[serde(rename = "ID")]
    pub id: String,
    /// All containers.
    pub containers: u64,
    /// Running containers.
    pub containers_running: u64,
    /// Paused containers.
    pub containers_paused: u64,
    /// Stopped containers.
    pub containers_stopped: u64,
    /// Images.
    pub images: u64,
    /// Storage driver.
    pub driver: String,
    /// Storage driver details as pairs.
    pub driver_status: Vec<[String; 2]>,
    /// Whether memory limits work.
    pub memory_limit: bool,
    /// Whether swap limits work.
    pub swap_limit: bool,
    /// Whether CPU CFS quota works.
    pub cpu_cfs_quota: bool,
    /// Whether CPU CFS period works.
    pub cpu_cfs_period: bool,
    /// Whether CPU shares work.
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    /// Whether cpuset works.
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    /// Whether pids limits work.
    pub pids_limit: bool,
    /// Whether kernel memory limits work (deprecated by the kernel: always false, as dockerd).
    pub kernel_memory: bool,
    /// Whether kernel TCP buffer limits work (cgroup v1 only).
    #[serde(rename = "KernelMemoryTCP")]
    pub kernel_memory_tcp: bool,
    /// Whether the OOM killer can be disabled (cgroup v1 only).
    pub oom_kill_disable: bool,
    /// Whether IPv4 forwarding is on.
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    /// Whether bridge-nf-call-iptables is on.
    pub bridge_nf_iptables: bool,
    /// Whether bridge-nf-call-ip6tables is on.
    pub bridge_nf_ip6tables: bool,
    /// Debug mode.
    pub debug: bool,
    /// Open file descriptors of the daemon.
    pub n_fd: u64,
    /// Tasks of the daemon (goroutines for dockerd).
    pub n_goroutines: u64,
    /// Current time, RFC 3339.
    pub system_time: String,
    /// Default log driver.
    pub logging_driver: String,
    /// "cgroupfs" or "systemd".
    pub cgroup_driver: String,
    /// "1" or "2".
    pub cgroup_version: String,
    /// Event listeners.
    pub n_events_listener: u64,
    /// `uname -r`.
    pub kernel_version: String,
    /// PRETTY_NAME of /etc/os-release.
    pub operating_system: String,
    /// VERSION_ID of /etc/os-release.
    pub os_version: String,
    /// "linux".
    #[serde(rename = "OSType")]
    pub os_type: String,
    /// `uname -m`.
    pub architecture: String,
    /// The default registry.
    pub index_server_address: String,
    /// Registry settings.
    pub registry_config: RegistryConfig,
    /// CPUs.
    #[serde(rename = "NCPU")]
    pub ncpu: u64,
    /// Memory in bytes.
    pub mem_total: u64,
    /// Data root.
    pub docker_root_dir: String,
    /// Host name.
    pub name: String,
    /// Daemon labels.
    pub labels: Vec<String>,
    /// Experimental features.
    pub experimental_build: bool,
    /// Daemon version.
    pub server_version: String,
    /// Runtimes by name.
    pub runtimes: BTreeMap<String, Runtime>,
    /// The default runtime's name.
    pub default_runtime: String,
    /// Whether live restore is enabled.
    pub live_restore_enabled: bool,
    /// "name=seccomp,profile=default", ...
    pub security_options: Vec<String>,
    /// Warnings the CLI prints at the end.
    pub warnings: Vec<String>,
}

/// A runtime entry in `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Runtime {
    /// Path of the runtime binary.
    pub path: String,
}
/// `GET /system/df`: what images, containers, volumes and the build cache take on disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SystemDataUsage {
    /// Bytes of every image layer, each counted once.
    #[serde(default)]
    pub layers_size: i64,
    /// Images, with `SharedSize` and `Containers` filled in.
    #[serde(default, deserialize_with = "crate::container::null_as_default")]
    pub images: Vec<crate::image::ImageSummary>,
    /// Containers, with `SizeRw` and `SizeRootFs` filled in.
    #[serde(default, deserialize_with = "crate::container::null_as_default")]
    pub containers: Vec<crate::container::ContainerSummary>,
    /// Volumes, with `UsageData` filled in.
    #[serde(default, deserialize_with = "crate::container::null_as_default")]
    pub volumes: Vec<crate::volume::Volume>,
    /// Build cache records (berthd builds no images).
    #[serde(default, deserialize_with = "crate::container::null_as_default")]
    pub build_cache: Vec<serde_json::Value>,
}
