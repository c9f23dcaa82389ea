//! `berthd`'s command-line flags, kept raw: dockerd's names, shorthands and list flags.
//! [`crate::config`] merges them with daemon.json into the resolved configuration.

use std::path::PathBuf;

use clap::Parser;

/// Where daemon.json is read from when `--config-file` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/berth/daemon.json";

/// The berth daemon: serves the Docker Engine API and runs containers.
#[derive(Debug, Default, Parser)]
#[command(
    name = "berthd",
    version = concat!("version ", env!("CARGO_PKG_VERSION"), ", build ", env!("BERTH_BUILD_COMMIT")),
    about = "The berth daemon: a Docker Engine API compatible container engine"
)]
pub struct Flags {
    /// Daemon configuration file
    #[arg(long, value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Validate the daemon configuration and exit
    #[arg(long)]
    pub validate: bool,
    /// Daemon socket(s) to connect to (unix://PATH, fd://, tcp://HOST:PORT)
    #[arg(short = 'H', long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Root directory of persistent berth state
    #[arg(long, value_name = "DIR")]
    pub data_root: Option<PathBuf>,
    /// Root directory for execution state files
    #[arg(long, value_name = "DIR")]
    pub exec_root: Option<PathBuf>,
    /// Path to use for daemon PID file
    #[arg(short = 'p', long, value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// Group for the unix socket
    #[arg(short = 'G', long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// Set the logging level (debug, info, warn, error, fatal)
    #[arg(short = 'l', long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Preferred registry mirror
    #[arg(long = "registry-mirror", value_name = "URL")]
    pub registry_mirrors: Vec<String>,
    /// Enable insecure registry communication
    #[arg(long = "insecure-registry", value_name = "REGISTRY")]
    pub insecure_registries: Vec<String>,
    /// Set the max concurrent downloads
    #[arg(long, value_name = "N")]
    pub max_concurrent_downloads: Option<u32>,
    /// Set the max concurrent uploads
    #[arg(long, value_name = "N")]
    pub max_concurrent_uploads: Option<u32>,
    /// Set the max download attempts for each pull
    #[arg(long, value_name = "N")]
    pub max_download_attempts: Option<u32>,
    /// Default driver for container logs
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Default log driver options for containers (KEY=VALUE)
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub log_opts: Vec<String>,
    /// Storage driver to use
    #[arg(short = 's', long, value_name = "DRIVER")]
    pub storage_driver: Option<String>,
    /// Default ulimits for containers (NAME=SOFT[:HARD])
    #[arg(long = "default-ulimit", value_name = "ULIMIT")]
    pub default_ulimits: Vec<String>,
    /// Runtime execution options (native.cgroupdriver=cgroupfs|systemd)
    #[arg(long = "exec-opt", value_name = "OPT")]
    pub exec_opts: Vec<String>,
    /// Set the default shutdown timeout, in seconds
    #[arg(long, value_name = "SECONDS")]
    pub shutdown_timeout: Option<u32>,
    /// Set key=value labels to the daemon
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Use TLS on tcp listeners; implied by --tlsverify
    #[arg(long)]
    pub tls: bool,
    /// Use TLS and verify clients against --tlscacert
    #[arg(long)]
    pub tlsverify: bool,
    /// Trust certs signed only by this CA [default: /etc/berth/tls/ca.pem]
    #[arg(long, value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file [default: /etc/berth/tls/cert.pem]
    #[arg(long, value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// Path to TLS key file [default: /etc/berth/tls/key.pem]
    #[arg(long, value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
    /// Write the berthd.8 man page into DIR and exit
    #[arg(long, value_name = "DIR", hide = true)]
    pub generate_man: Option<PathBuf>,
}

impl Flags {
    /// The daemon.json keys set on the command line, with the flag's value printed the way
    /// dockerd prints it in a conflict message.
    pub fn set_keys(&self) -> Vec<(&'static str, String)> {
        let mut set = Vec::new();
        let mut list = |key: &'static str, values: &[String]| {
            if !values.is_empty() {
                set.push((key, format!("[{}]", values.join(" "))));
            }
        };
        list("hosts", &self.hosts);
        list("registry-mirrors", &self.registry_mirrors);
        list("insecure-registries", &self.insecure_registries);
        list("default-ulimits", &self.default_ulimits);
        list("exec-opts", &self.exec_opts);
        list("labels", &self.labels);
        if !self.log_opts.is_empty() {
            set.push((
                "log-opts",
                format!("map[{}]", self.log_opts.join(" ").replace('=', ":")),
            ));
        }
        let paths = [
            ("data-root", &self.data_root),
            ("exec-root", &self.exec_root),
            ("pidfile", &self.pidfile),
            ("tlscacert", &self.tlscacert),
            ("tlscert", &self.tlscert),
            ("tlskey", &self.tlskey),
        ];
        for (key, value) in paths {
            if let Some(path) = value {
                set.push((key, path.display().to_string()));
            }
        }
        let strings = [
            ("group", &self.group),
            ("log-level", &self.log_level),
            ("log-driver", &self.log_driver),
            ("storage-driver", &self.storage_driver),
        ];
        for (key, value) in strings {
            if let Some(value) = value {
                set.push((key, value.clone()));
            }
        }
        let numbers = [
            ("max-concurrent-downloads", self.max_concurrent_downloads),
            ("max-concurrent-uploads", self.max_concurrent_uploads),
            ("max-download-attempts", self.max_download_attempts),
            ("shutdown-timeout", self.shutdown_timeout),
        ];
        for (key, value) in numbers {
            if let Some(value) = value {
                set.push((key, value.to_string()));
            }
        }
        for (key, on) in [
            ("debug", self.debug),
            ("tls", self.tls),
            ("tlsverify", self.tlsverify),
        ] {
            if on {
                set.push((key, "true".to_owned()));
            }
        }
        set
    }
}
