//! What berthd keeps about one container on disk (data-root/containers/ID/config.v2.json,
//! replaced atomically on every change), and its views as the API shows them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::etc_files::EtcPaths;
use anyhow::{Context, Result};
use berth_api::container::{
    ContainerConfig, ContainerInspect, ContainerState, ContainerSummary, HostConfig, MountPoint,
    NetworkSettings, SummaryHostConfig,
};
use berth_api::time::{format_rfc3339, parse_rfc3339, ZERO_TIME};
use berth_api::units::human_duration;
use berth_image::Rootfs;
use serde::{Deserialize, Serialize};

/// Where the container's root filesystem lives, as berth_image prepared it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RootfsRecord {
    /// overlay2: layer dirs (topmost first), writable upper and work dirs, mountpoint.
    Overlay {
        lowerdirs: Vec<PathBuf>,
        upperdir: PathBuf,
        workdir: PathBuf,
        target: PathBuf,
    },
    /// vfs: a full copy.
    Dir { path: PathBuf },
}

impl RootfsRecord {
    /// Records a prepared rootfs.
    pub fn from_rootfs(rootfs: &Rootfs) -> Self {
        match rootfs {
            Rootfs::Overlay {
                lowerdirs,
                upperdir,
                workdir,
                target,
            } => RootfsRecord::Overlay {
                lowerdirs: lowerdirs.clone(),
                upperdir: upperdir.clone(),
                workdir: workdir.clone(),
                target: target.clone(),
            },
            Rootfs::Dir { path } => RootfsRecord::Dir { path: path.clone() },
        }
    }

    /// The berth_image value, to mount or unmount.
    pub fn to_rootfs(&self) -> Rootfs {
        match self {
            RootfsRecord::Overlay {
                lowerdirs,
                upperdir,
                workdir,
                target,
            } => Rootfs::Overlay {
                lowerdirs: lowerdirs.clone(),
                upperdir: upperdir.clone(),
                workdir: workdir.clone(),
                target: target.clone(),
            },
            RootfsRecord::Dir { path } => Rootfs::Dir { path: path.clone() },
        }
    }
}

/// A container's lifecycle state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// "created", "running", "restarting", "exited", "removing" or "dead".
    pub status: String,
    /// Host pid while running.
    pub pid: i64,
    /// Last exit code.
    pub exit_code: i64,
    /// Why it could not run, if it could not.
    pub error: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: String,
    /// Stopped by the user (unless-stopped does not restart it).
    pub stopped_by_user: bool,
    /// Frozen by `pause` (while "running").
    #[serde(default)]
    pub paused: bool,
}

impl RunState {
    /// Whether the process runs (paused or not).
    pub fn running(&self) -> bool {
        self.status == "running"
    }

    /// The status as docker shows it: "paused" for a paused running container.
    pub fn shown_status(&self) -> &str {
        if self.running() && self.paused {
            "paused"
        } else {
            &self.status
        }
    }
}

/// Everything kept about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub created: String,
    /// The image as the user named it.
    pub image_name: String,
    /// `sha256:...`.
    pub image_id: String,
    /// Merged with the image's config.
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub path: String,
    pub args: Vec<String>,
    pub rootfs: RootfsRecord,
    pub log_path: PathBuf,
    pub state: RunState,
    pub restart_count: i64,
    /// The mountpoints of the named volumes its binds use, by name.
    #[serde(default)]
    pub volumes: BTreeMap<String, String>,
}

/// The file a record lives in.
pub fn record_path(dir: &Path) -> PathBuf {
    dir.join("config.v2.json")
}

impl Record {
    /// Writes the record atomically into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        crate::fsutil::write_atomic(&record_path(dir), &bytes)
    }

    /// Reads a record from `dir`.
    pub fn load(dir: &Path) -> Result<Record> {
        let path = record_path(dir);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("corrupt {}", path.display()))
    }

    /// The command line as `docker ps` shows it.
    pub fn command_line(&self) -> String {
        std::iter::once(self.path.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// "Up 5 seconds", "Exited (0) 2 minutes ago", "Created"...
    pub fn status_text(&self) -> String {
        let since = |time: &str| {
            parse_rfc3339(time)
                .and_then(|then| then.elapsed().ok())
                .map(human_duration)
                .unwrap_or_else(|| "Less than a second".to_owned())
        };
        match self.state.status.as_str() {
            "running" if self.state.paused => {
                format!("Up {} (Paused)", since(&self.state.started_at))
            }
            "running" => format!("Up {}", since(&self.state.started_at)),
            "restarting" => format!(
                "Restarting ({}) {} ago",
                self.state.exit_code,
                since(&self.state.finished_at)
            ),
            "exited" => format!(
                "Exited ({}) {} ago",
                self.state.exit_code,
                since(&self.state.finished_at)
            ),
            "removing" => "Removal In Progress".to_owned(),
            "dead" => "Dead".to_owned(),
            _ => "Created".to_owned(),
        }
    }

    fn mounts(&self) -> Vec<MountPoint> {
        self.host_config
            .binds
            .iter()
            .filter_map(|bind| super::spec::parse_bind(bind).ok())
            .map(|bind| {
                let mode = if bind.read_only { "ro" } else { "" }.to_owned();
                match bind.volume() {
                    Some(name) => MountPoint {
                        kind: "volume".to_owned(),
                        name: name.to_owned(),
                        driver: "local".to_owned(),
                        source: self.volumes.get(name).cloned().unwrap_or_default(),
                        destination: bind.destination,
                        mode: if bind.read_only { "ro" } else { "z" }.to_owned(),
                        rw: !bind.read_only,
                        propagation: String::new(),
                    },
                    None => MountPoint {
                        kind: "bind".to_owned(),
                        name: String::new(),
                        driver: String::new(),
                        source: bind.source,
                        destination: bind.destination,
                        mode,
                        rw: !bind.read_only,
                        propagation: "rprivate".to_owned(),
                    },
                }
            })
            .collect()
    }

    /// A `GET /containers/json` entry.
    pub fn summary(&self) -> ContainerSummary {
        ContainerSummary {
            id: self.id.clone(),
            names: vec![format!("/{}", self.name)],
            image: self.image_name.clone(),
            image_id: self.image_id.clone(),
            command: self.command_line(),
            created: parse_rfc3339(&self.created)
                .map(berth_api::time::unix_seconds)
                .unwrap_or(0),
            ports: Vec::new(),
            labels: self.config.labels.clone(),
            state: self.state.shown_status().to_owned(),
            status: self.status_text(),
            host_config: SummaryHostConfig {
                network_mode: self.host_config.network_mode.clone(),
            },
            mounts: self.mounts(),
            network_settings: NetworkSettings::default(),
            size_rw: None,
            size_root_fs: None,
        }
    }

    /// The `GET /containers/{id}/json` body.
    pub fn inspect(&self, driver: &str) -> ContainerInspect {
        let state = &self.state;
        let etc = EtcPaths::in_dir(self.log_path.parent().unwrap_or(Path::new("/")));
        let time_or_zero = |time: &str| {
            if time.is_empty() {
                ZERO_TIME.to_owned()
            } else {
                time.to_owned()
            }
        };
        ContainerInspect {
            id: self.id.clone(),
            created: self.created.clone(),
            path: self.path.clone(),
            args: self.args.clone(),
            state: ContainerState {
                status: state.shown_status().to_owned(),
                running: state.running(),
                paused: state.paused,
                restarting: state.status == "restarting",
                oom_killed: false,
                dead: state.status == "dead",
                pid: state.pid,
                exit_code: state.exit_code,
                error: state.error.clone(),
                started_at: time_or_zero(&state.started_at),
                finished_at: time_or_zero(&state.finished_at),
            },
            image: self.image_id.clone(),
            resolv_conf_path: etc.resolv_conf.display().to_string(),
            hostname_path: etc.hostname.display().to_string(),
            hosts_path: etc.hosts.display().to_string(),
            log_path: self.log_path.display().to_string(),
            name: format!("/{}", self.name),
            restart_count: self.restart_count,
            driver: driver.to_owned(),
            platform: "linux".to_owned(),
            host_config: self.host_config.clone(),
            mounts: self.mounts(),
            config: self.config.clone(),
            network_settings: NetworkSettings::default(),
        }
    }
}

/// Now, as the API writes times.
pub fn now() -> String {
    format_rfc3339(std::time::SystemTime::now())
}
