//! Container endpoints: the create body (`Config` + `HostConfig`), list entries, inspect, and
//! the wait answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// A container's (or image's) process configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    /// Host name inside the container.
    pub hostname: String,
    /// Domain name inside the container.
    pub domainname: String,
    /// `user[:group]` the process runs as.
    pub user: String,
    /// Whether stdin is attached.
    pub attach_stdin: bool,
    /// Whether stdout is attached.
    pub attach_stdout: bool,
    /// Whether stderr is attached.
    pub attach_stderr: bool,
    /// Whether a pseudo-terminal is allocated.
    pub tty: bool,
    /// Whether stdin is kept open.
    pub open_stdin: bool,
    /// Whether stdin closes after the first attach.
    pub stdin_once: bool,
    /// `KEY=value` entries.
    #[serde(deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    /// Command (arguments to the entrypoint).
    #[serde(deserialize_with = "string_or_list")]
    pub cmd: Option<Vec<String>>,
    /// Entrypoint.
    #[serde(deserialize_with = "string_or_list")]
    pub entrypoint: Option<Vec<String>>,
    /// Image reference the container was created from.
    pub image: String,
    /// Working directory.
    pub working_dir: String,
    /// Labels.
    #[serde(deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    /// Signal that stops the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds to wait before SIGKILL on stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Paths that get an anonymous volume (the image's `VOLUME`s and `-v /path`), each
    /// mapped to `{}`.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub volumes: BTreeMap<String, serde_json::Value>,
}

/// A restart policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    /// "", "no", "always", "unless-stopped" or "on-failure".
    pub name: String,
    /// Retry limit for on-failure (0 = unlimited).
    pub maximum_retry_count: i64,
}

/// One resource limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    /// Name without RLIMIT_, lowercase ("nofile").
    pub name: String,
    /// Soft limit.
    pub soft: i64,
    /// Hard limit.
    pub hard: i64,
}

/// The host-side settings of a container (the subset berthd honours; the rest is ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// `host-path:container-path[:ro]` bind mounts.
    #[serde(deserialize_with = "null_as_default")]
    pub binds: Vec<String>,
    /// "none", "host" ("default"/"bridge" are refused for now).
    pub network_mode: String,
    /// Restart policy.
    pub restart_policy: RestartPolicy,
    /// Remove the container when it exits.
    pub auto_remove: bool,
    /// Memory limit in bytes (0 = none).
    pub memory: i64,
    /// CPU quota in units of 1e-9 CPUs (0 = none).
    pub nano_cpus: i64,
    /// Relative CPU weight (0 = default).
    pub cpu_shares: i64,
    /// Process limit (None or <= 0 = none).
    pub pids_limit: Option<i64>,
    /// Memory plus swap limit in bytes (0 = default, -1 = unlimited); checked, not applied yet.
    pub memory_swap: i64,
    /// CFS period in microseconds (0 = default); checked, not applied yet.
    pub cpu_period: i64,
    /// CFS quota in microseconds (0 = none); checked, not applied yet.
    pub cpu_quota: i64,
    /// Block IO weight, 10 to 1000 (0 = default); checked, not applied yet.
    pub blkio_weight: i64,
    /// The OOM killer's score adjustment, -1000 to 1000; checked, not applied yet.
    pub oom_score_adj: i64,
    /// Size of /dev/shm in bytes (0 = default); checked, not applied yet.
    pub shm_size: i64,
    /// Resource limits.
    #[serde(deserialize_with = "null_as_default")]
    pub ulimits: Vec<Ulimit>,
    /// Log driver settings.
    pub log_config: LogConfig,
    /// `--privileged` (refused: see the daemon's security module).
    pub privileged: bool,
    /// Capabilities added to Docker's default set (`NET_ADMIN`, `CAP_SYS_PTRACE`, `ALL`).
    #[serde(deserialize_with = "null_as_default")]
    pub cap_add: Vec<String>,
    /// Capabilities removed from it.
    #[serde(deserialize_with = "null_as_default")]
    pub cap_drop: Vec<String>,
    /// `--security-opt`: `seccomp=unconfined`, `seccomp=<profile JSON>`, `no-new-privileges`.
    #[serde(deserialize_with = "null_as_default")]
    pub security_opt: Vec<String>,
    /// The terminal's initial `[height, width]` with `Tty` (API 1.42+).
    #[serde(deserialize_with = "null_as_default")]
    pub console_size: Option<[u16; 2]>,
    /// `--mount`: bind, volume and tmpfs mounts.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mounts: Vec<Mount>,
    /// `--tmpfs PATH[:OPTIONS]`: path to mount options.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub tmpfs: BTreeMap<String, String>,
    /// `--read-only`: the root filesystem cannot be written.
    pub readonly_rootfs: bool,
}

/// One `HostConfig.Mounts` entry (`--mount type=...,src=...,dst=...`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    /// "bind", "volume" or "tmpfs".
    #[serde(rename = "Type")]
    pub kind: String,
    /// Host path (bind) or volume name (volume; empty for an anonymous one).
    pub source: String,
    /// Container path.
    pub target: String,
    pub read_only: bool,
    /// tmpfs size and mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// `Mount.TmpfsOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    /// Bytes; 0 for the kernel's default.
    pub size_bytes: i64,
    /// Permission bits; 0 for the default (1777).
    pub mode: u32,
}

/// `HostConfig.LogConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    /// Driver name.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Driver options.
    #[serde(deserialize_with = "null_as_default")]
    pub config: BTreeMap<String, String>,
}

/// The body of `POST /containers/create`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerCreateRequest {
    /// Process configuration.
    #[serde(flatten)]
    pub config: ContainerConfig,
    /// Host configuration.
    pub host_config: HostConfig,
}

/// The answer of `POST /containers/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerCreateResponse {
    /// 64 hex digits.
    pub id: String,
    /// Warnings for the user.
    pub warnings: Vec<String>,
}

/// A mount as listed and inspected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountPoint {
    /// "bind" or "volume".
    #[serde(rename = "Type")]
    pub kind: String,
    /// The volume's name (volumes only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// "local" (volumes only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    /// Host path.
    pub source: String,
    /// Container path.
    pub destination: String,
    /// Mount mode ("ro", "rw" or "").
    pub mode: String,
    /// Whether it is writable.
    #[serde(rename = "RW")]
    pub rw: bool,
    /// Propagation.
    pub propagation: String,
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerSummary {
    /// 64 hex digits.
    pub id: String,
    /// `/name`.
    pub names: Vec<String>,
    /// Image as given at create.
    pub image: String,
    /// `sha256:` image id.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// Command line, joined with spaces.
    pub command: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Published ports (always empty: no bridge networking yet).
    pub ports: Vec<serde_json::Value>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// "created", "running", "exited", ...
    pub state: String,
    /// "Up 5 seconds", "Exited (0) 2 minutes ago", ...
    pub status: String,
    /// `{"NetworkMode": ...}`.
    pub host_config: SummaryHostConfig,
    /// Mounts.
    pub mounts: Vec<MountPoint>,
    /// Network settings (empty map of networks).
    pub network_settings: NetworkSettings,
    /// Bytes the container wrote (with `size=1`, and in `/system/df`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    /// Those bytes plus its image's (with `size=1`, and in `/system/df`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
}

/// `HostConfig` of a list entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryHostConfig {
    /// Network mode.
    pub network_mode: String,
}

/// `NetworkSettings` (networks by name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    /// Networks the container is attached to.
    pub networks: BTreeMap<String, serde_json::Value>,
}

/// `State` of a container inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    /// "created", "running", "restarting", "removing", "exited" or "dead".
    pub status: String,
    /// Whether the process runs.
    pub running: bool,
    /// Always false (no pause support).
    pub paused: bool,
    /// Whether a restart is pending.
    pub restarting: bool,
    /// Whether the OOM killer ended it.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Whether it is dead (removal failed).
    pub dead: bool,
    /// Host pid of the main process (0 when not running).
    pub pid: i64,
    /// Last exit code.
    pub exit_code: i64,
    /// Error that kept it from running.
    pub error: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// RFC 3339 end time.
    pub finished_at: String,
}

/// The body of `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerInspect {
    /// 64 hex digits.
    pub id: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// Executable.
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Current state.
    pub state: ContainerState,
    /// `sha256:` image id.
    pub image: String,
    /// Path of the container's resolv.conf.
    pub resolv_conf_path: String,
    /// Path of the container's hostname file.
    pub hostname_path: String,
    /// Path of the container's hosts file.
    pub hosts_path: String,
    /// Path of the json-file log.
    pub log_path: String,
    /// `/name`.
    pub name: String,
    /// Restarts done by the restart policy.
    pub restart_count: i64,
    /// Storage driver.
    pub driver: String,
    /// "linux".
    pub platform: String,
    /// Host settings.
    pub host_config: HostConfig,
    /// Mounts.
    pub mounts: Vec<MountPoint>,
    /// Process settings.
    pub config: ContainerConfig,
    /// Network settings.
    pub network_settings: NetworkSettings,
}

/// `GET /containers/{id}/top` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerTop {
    /// Column titles, as `ps` prints them.
    pub titles: Vec<String>,
    /// One row per process.
    pub processes: Vec<Vec<String>>,
}

/// `Error` of a wait answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitError {
    /// What went wrong.
    pub message: String,
}

/// The body of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitResponse {
    /// Exit code.
    pub status_code: i64,
    /// Set when waiting failed.
    pub error: Option<WaitError>,
}

/// Reads `null` as the type's default.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads Docker's "strslice": `null`, `"a b"`-style single string, or a list.
fn string_or_list<'de, D>(deserializer: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrSlice {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<StrSlice>::deserialize(deserializer)? {
        None => None,
        Some(StrSlice::One(one)) => Some(vec![one]),
        Some(StrSlice::Many(many)) => Some(many),
    })
}

/// `POST /containers/prune`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainersPruneResponse {
    /// Ids of the removed containers.
    #[serde(default, deserialize_with = "crate::container::null_as_default")]
    pub containers_deleted: Vec<String>,
    /// Bytes their writable layers held.
    #[serde(default)]
    pub space_reclaimed: u64,
}

/// One entry of `GET /containers/{id}/changes` (`docker diff`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilesystemChange {
    /// Absolute path inside the container.
    pub path: String,
    /// 0 modified, 1 added, 2 deleted.
    pub kind: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_docker_cli_create_body() {
        let body = r#"{"Hostname":"","User":"","AttachStdout":true,"Tty":false,"Env":null,
            "Cmd":null,"Image":"hello-world","Entrypoint":"/bin/sh","Labels":{},
            "HostConfig":{"Binds":null,"NetworkMode":"none","AutoRemove":true,
            "RestartPolicy":{"Name":"no","MaximumRetryCount":0},"PidsLimit":null,
            "Memory":0,"Ulimits":null,"CapAdd":null},"NetworkingConfig":{"EndpointsConfig":{}}}"#;
        let request: ContainerCreateRequest = serde_json::from_str(body).unwrap();
        assert_eq!(request.config.image, "hello-world");
        assert_eq!(request.config.entrypoint, Some(vec!["/bin/sh".to_owned()]));
        assert_eq!(request.config.cmd, None);
        assert!(request.config.env.is_empty());
        assert!(request.host_config.auto_remove);
        assert_eq!(request.host_config.network_mode, "none");
        assert_eq!(request.host_config.pids_limit, None);
    }

    #[test]
    fn wait_answer_has_null_error() {
        let answer = WaitResponse {
            status_code: 3,
            error: None,
        };
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"StatusCode":3,"Error":null}"#
        );
    }
}
