//! The resolved daemon configuration: command-line flags merged with daemon.json, defaults
//! filled in, and every value checked. Also the subset SIGHUP may change.

pub mod file;
mod registry;
mod tls;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use berth_api::container::Ulimit;

use crate::cli::{Flags, DEFAULT_CONFIG_FILE};
pub use registry::{RegistrySettings, TransferLimits};
pub use tls::TlsSettings;

/// How container cgroups are managed (`exec-opts native.cgroupdriver=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupDriver {
    /// Directories under each controller's `berth` parent.
    Cgroupfs,
    /// systemd scopes.
    Systemd,
}

impl CgroupDriver {
    /// Docker's name for it.
    pub fn name(self) -> &'static str {
        match self {
            CgroupDriver::Cgroupfs => "cgroupfs",
            CgroupDriver::Systemd => "systemd",
        }
    }
}

/// Everything berthd runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file the config came from, if one was read (reloaded on SIGHUP).
    pub config_file: Option<PathBuf>,
    /// Listener addresses (unix://, fd://, tcp://).
    pub hosts: Vec<String>,
    /// Persistent state.
    pub data_root: PathBuf,
    /// Runtime state (sockets, bundles).
    pub exec_root: PathBuf,
    /// Pid file.
    pub pidfile: PathBuf,
    /// Group owning the unix sockets.
    pub group: String,
    /// Whether the group was asked for explicitly (then it must exist).
    pub group_explicit: bool,
    /// Debug logging.
    pub debug: bool,
    /// Log level when not debugging.
    pub log_level: String,
    /// Container log rotation: bytes per file (None = unlimited).
    pub log_max_size: Option<u64>,
    /// Container log rotation: files kept.
    pub log_max_file: u32,
    /// The log options as given, for container inspect.
    pub log_opts: BTreeMap<String, String>,
    /// Storage driver name.
    pub storage_driver: String,
    /// Ulimits applied to every container.
    pub default_ulimits: Vec<Ulimit>,
    /// cgroup manager.
    pub cgroup_driver: CgroupDriver,
    /// How long stop waits before SIGKILL at daemon shutdown.
    pub shutdown_timeout: Duration,
    /// Daemon labels.
    pub labels: Vec<String>,
    /// Registry settings handed to the image store.
    pub registry: RegistrySettings,
    /// TLS for tcp listeners.
    pub tls: Option<TlsSettings>,
}

const DEFAULT_SOCKET: &str = "unix:///var/run/berth.sock";
const LOG_LEVELS: &[&str] = &["debug", "info", "warn", "error", "fatal"];

impl Config {
    /// Loads the configuration berthd starts with: flags, then daemon.json (the default file
    /// may be missing; an explicit `--config-file` must exist).
    pub fn load(flags: &Flags) -> Result<Config, String> {
        let explicit = flags.config_file.is_some();
        let path = flags
            .config_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
        let file_config = if explicit || path.exists() {
            Some(file::read(&path, &flags.set_keys())?)
        } else {
            None
        };
        let config_file = file_config.as_ref().map(|_| path.clone());
        resolve(flags, file_config.unwrap_or_default(), config_file).map_err(|err| {
            match explicit || path.exists() {
                true => format!(
                    "unable to configure the berth daemon with file {}: {err}",
                    path.display()
                ),
                false => err,
            }
        })
    }

    /// Re-reads the config file for SIGHUP and returns `self` with the reloadable keys
    /// (registry-mirrors, insecure-registries, debug, max-concurrent-downloads,
    /// max-concurrent-uploads, max-download-attempts, labels, shutdown-timeout) taken from it.
    pub fn reloaded(&self, flags: &Flags) -> Result<Config, String> {
        let fresh = Config::load(flags)?;
        let mut next = self.clone();
        next.registry = fresh.registry;
        next.debug = fresh.debug;
        next.labels = fresh.labels;
        next.shutdown_timeout = fresh.shutdown_timeout;
        Ok(next)
    }

    /// The level tracing filters at.
    pub fn effective_log_level(&self) -> &str {
        if self.debug {
            "debug"
        } else {
            &self.log_level
        }
    }
}

/// Merges flags (which win; conflicts were refused already) over the file, then checks values.
fn resolve(
    flags: &Flags,
    file: file::FileConfig,
    config_file: Option<PathBuf>,
) -> Result<Config, String> {
    let pick_list = |flag: &Vec<String>, from_file: Option<Vec<String>>| {
        if flag.is_empty() {
            from_file.unwrap_or_default()
        } else {
            flag.clone()
        }
    };
    let tls = tls::resolve(flags, &file)?;
    let mut hosts = pick_list(&flags.hosts, file.hosts);
    if hosts.is_empty() {
        hosts.push(DEFAULT_SOCKET.to_owned());
    }
    let data_root = absolute(
        "data-root",
        flags
            .data_root
            .clone()
            .or(file.data_root)
            .unwrap_or_else(|| "/var/lib/berth".into()),
    )?;
    let exec_root = absolute(
        "exec-root",
        flags
            .exec_root
            .clone()
            .or(file.exec_root)
            .unwrap_or_else(|| "/var/run/berth".into()),
    )?;
    let pidfile = absolute(
        "pidfile",
        flags
            .pidfile
            .clone()
            .or(file.pidfile)
            .unwrap_or_else(|| "/var/run/berthd.pid".into()),
    )?;
    let group_explicit = flags.group.is_some() || file.group.is_some();
    let group = flags
        .group
        .clone()
        .or(file.group)
        .unwrap_or_else(|| "berth".to_owned());

    let log_level = flags
        .log_level
        .clone()
        .or(file.log_level)
        .unwrap_or_else(|| "info".to_owned());
    if !LOG_LEVELS.contains(&log_level.as_str()) {
        return Err(format!(
            "invalid log-level \"{log_level}\": must be one of {}",
            LOG_LEVELS.join(", ")
        ));
    }
    let log_driver = flags
        .log_driver
        .clone()
        .or(file.log_driver)
        .unwrap_or_else(|| "json-file".to_owned());
    if log_driver != "json-file" {
        return Err(format!(
            "log-driver: unsupported logging driver \"{log_driver}\" (berthd supports json-file)"
        ));
    }
    let mut log_opts = file.log_opts.unwrap_or_default();
    for opt in &flags.log_opts {
        let (key, value) = opt
            .split_once('=')
            .ok_or_else(|| format!("invalid log-opt \"{opt}\": expected KEY=VALUE"))?;
        log_opts.insert(key.to_owned(), value.to_owned());
    }
    let (log_max_size, log_max_file) = log_rotation(&log_opts)?;

    let storage_driver = flags
        .storage_driver
        .clone()
        .or(file.storage_driver)
        .unwrap_or_else(|| "overlay2".to_owned());
    if !matches!(storage_driver.as_str(), "overlay2" | "overlay") {
        return Err(format!(
            "storage-driver: unsupported storage driver \"{storage_driver}\" (berthd supports overlay2)"
        ));
    }

    let mut default_ulimits = Vec::new();
    for text in &flags.default_ulimits {
        default_ulimits.push(parse_ulimit(text)?);
    }
    for (name, limit) in file.default_ulimits.unwrap_or_default() {
        if !limit.name.is_empty() && limit.name != name {
            return Err(format!(
                "default-ulimits: entry \"{name}\" has mismatched Name \"{}\"",
                limit.name
            ));
        }
        default_ulimits.push(Ulimit {
            name,
            soft: limit.soft,
            hard: limit.hard,
        });
    }
    for limit in &default_ulimits {
        check_ulimit(limit)?;
    }

    let mut cgroup_driver = CgroupDriver::Cgroupfs;
    for opt in pick_list(&flags.exec_opts, file.exec_opts) {
        let (key, value) = opt
            .split_once('=')
            .ok_or_else(|| format!("invalid exec-opt \"{opt}\": expected KEY=VALUE"))?;
        match (key.trim(), value.trim()) {
            ("native.cgroupdriver", "cgroupfs") => cgroup_driver = CgroupDriver::Cgroupfs,
            ("native.cgroupdriver", "systemd") => cgroup_driver = CgroupDriver::Systemd,
            ("native.cgroupdriver", other) => {
                return Err(format!("native.cgroupdriver option {other} not supported"))
            }
            (other, _) => return Err(format!("unknown exec-opt \"{other}\"")),
        }
    }

    let labels = pick_list(&flags.labels, file.labels);
    let mut seen = BTreeMap::new();
    for label in &labels {
        let (key, value) = label
            .split_once('=')
            .ok_or_else(|| format!("labels: invalid label '{label}': expected key=value"))?;
        if let Some(previous) = seen.insert(key, value) {
            if previous != value {
                return Err(format!(
                    "labels: conflict labels for {key}={value} and {key}={previous}"
                ));
            }
        }
    }

    let defaults = TransferLimits::default();
    let registry = RegistrySettings::new(
        pick_list(&flags.registry_mirrors, file.registry_mirrors),
        pick_list(&flags.insecure_registries, file.insecure_registries),
        TransferLimits {
            max_concurrent_downloads: flags
                .max_concurrent_downloads
                .or(file.max_concurrent_downloads)
                .unwrap_or(defaults.max_concurrent_downloads),
            max_concurrent_uploads: flags
                .max_concurrent_uploads
                .or(file.max_concurrent_uploads)
                .unwrap_or(defaults.max_concurrent_uploads),
            max_download_attempts: flags
                .max_download_attempts
                .or(file.max_download_attempts)
                .unwrap_or(defaults.max_download_attempts),
        },
    )?;

    Ok(Config {
        config_file,
        hosts,
        data_root,
        exec_root,
        pidfile,
        group,
        group_explicit,
        debug: flags.debug || file.debug.unwrap_or(false),
        log_level,
        log_max_size,
        log_max_file,
        log_opts,
        storage_driver,
        default_ulimits,
        cgroup_driver,
        shutdown_timeout: Duration::from_secs(u64::from(
            flags
                .shutdown_timeout
                .or(file.shutdown_timeout)
                .unwrap_or(15),
        )),
        labels,
        registry,
        tls,
    })
}

fn absolute(key: &str, path: PathBuf) -> Result<PathBuf, String> {
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(format!(
            "{key} must be an absolute path: {}",
            path.display()
        ))
    }
}

/// json-file's max-size and max-file.
/// json-file's max-size and max-file from log options (daemon.json's or a container's).
pub fn log_rotation(opts: &BTreeMap<String, String>) -> Result<(Option<u64>, u32), String> {
    let mut max_size = None;
    let mut max_file = 1;
    for (key, value) in opts {
        match key.as_str() {
            "max-size" => {
                let bytes = berth_api::units::parse_human_size(value)
                    .map_err(|err| format!("log-opts: max-size: {err}"))?;
                max_size = (bytes > 0).then_some(bytes);
            }
            "max-file" => {
                max_file = value
                    .parse::<u32>()
                    .ok()
                    .filter(|count| *count >= 1)
                    .ok_or_else(|| {
                        format!("log-opts: max-file must be a positive number, got \"{value}\"")
                    })?;
            }
            other => {
                return Err(format!(
                    "unknown log opt '{other}' for json-file log driver"
                ))
            }
        }
    }
    if max_file > 1 && max_size.is_none() {
        return Err("log-opts: max-file cannot be set without max-size".to_owned());
    }
    Ok((max_size, max_file))
}

/// `NAME=SOFT[:HARD]` as in `--default-ulimit nofile=1024:2048`.
pub fn parse_ulimit(text: &str) -> Result<Ulimit, String> {
    let invalid = || format!("invalid ulimit \"{text}\": expected NAME=SOFT[:HARD]");
    let (name, limits) = text.split_once('=').ok_or_else(invalid)?;
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    let limit = Ulimit {
        name: name.to_owned(),
        soft: soft.parse().map_err(|_| invalid())?,
        hard: hard.parse().map_err(|_| invalid())?,
    };
    check_ulimit(&limit)?;
    Ok(limit)
}

/// Names a real resource (go-units' ulimit names), and soft does not exceed hard: for
/// daemon.json's default-ulimits and for a container's at create alike.
pub(crate) fn check_ulimit(limit: &Ulimit) -> Result<(), String> {
    const NAMES: &[&str] = &[
        "as",
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ];
    if !NAMES.contains(&limit.name.as_str()) {
        return Err(format!("invalid ulimit type: {}", limit.name));
    }
    if limit.soft > limit.hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {} > {}",
            limit.soft, limit.hard
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn from_json(json: &str) -> Result<Config, String> {
        let file = file::parse(json, &[]).unwrap();
        resolve(&Flags::default(), file, None)
    }

    #[test]
    fn defaults_match_the_docs() {
        let config = from_json("{}").unwrap();
        assert_eq!(config.hosts, vec![DEFAULT_SOCKET]);
        assert_eq!(config.data_root, Path::new("/var/lib/berth"));
        assert_eq!(config.pidfile, Path::new("/var/run/berthd.pid"));
        assert_eq!(config.group, "berth");
        assert!(!config.group_explicit);
        assert_eq!(config.shutdown_timeout, Duration::from_secs(15));
        assert_eq!(config.cgroup_driver, CgroupDriver::Cgroupfs);
        assert_eq!(config.registry.max_concurrent_downloads, 3);
        assert_eq!(config.registry.max_concurrent_uploads, 5);
    }

    #[test]
    fn shipped_style_config_is_accepted() {
        let config = from_json(
            r#"{"registry-mirrors": [], "storage-driver": "overlay2", "log-driver": "json-file",
                "log-opts": {"max-size": "10m", "max-file": "3"}}"#,
        )
        .unwrap();
        assert_eq!(config.log_max_size, Some(10_000_000));
        assert_eq!(config.log_max_file, 3);
    }

    #[test]
    fn bad_values_name_the_field() {
        let cases = [
            (r#"{"log-level": "loud"}"#, "invalid log-level \"loud\""),
            (r#"{"log-driver": "syslog"}"#, "log-driver: unsupported"),
            (
                r#"{"log-opts": {"colour": "x"}}"#,
                "unknown log opt 'colour'",
            ),
            (
                r#"{"storage-driver": "btrfs"}"#,
                "storage-driver: unsupported",
            ),
            (
                r#"{"exec-opts": ["native.cgroupdriver=x"]}"#,
                "native.cgroupdriver option x",
            ),
            (
                r#"{"labels": ["nolabel"]}"#,
                "labels: invalid label 'nolabel'",
            ),
            (
                r#"{"data-root": "relative"}"#,
                "data-root must be an absolute path",
            ),
            (
                r#"{"default-ulimits": {"nofile": {"Hard": 1, "Soft": 2}}}"#,
                "ulimit soft limit",
            ),
            (r#"{"registry-mirrors": ["ftp://x"]}"#, "invalid mirror"),
        ];
        for (json, expected) in cases {
            let err = from_json(json).unwrap_err();
            assert!(err.starts_with(expected), "{json}: {err}");
        }
    }

    #[test]
    fn exec_opt_selects_systemd() {
        let config = from_json(r#"{"exec-opts": ["native.cgroupdriver=systemd"]}"#).unwrap();
        assert_eq!(config.cgroup_driver, CgroupDriver::Systemd);
    }

    #[test]
    fn flag_ulimits_parse() {
        let limit = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((limit.soft, limit.hard), (1024, 2048));
        assert!(parse_ulimit("bogus=1").is_err());
    }
}
