//! The command line: clap flags (kept apart from the library calls they resolve to), global
//! options, and the dispatch that maps each command's result to an exit code.

mod commands;
mod exec;
mod logging;
mod run;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A runc-compatible OCI runtime.
#[derive(Debug, Parser)]
#[command(
    name = "berth-runtime",
    version = concat!("version ", env!("CARGO_PKG_VERSION"), ", build ", env!("BERTH_BUILD_COMMIT")),
    about = "berth's OCI runtime: runs containers from OCI bundles, like runc"
)]
pub struct Cli {
    /// Directory for container state.
    #[arg(long, global = true, default_value = berth_runtime::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages.
    #[arg(long, global = true)]
    pub debug: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a default config.json into the bundle directory.
    Spec {
        /// The bundle directory.
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
    },
    /// Create a container; its process waits for `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start {
        /// The container id.
        id: String,
    },
    /// Print a container's state as JSON.
    State {
        /// The container id.
        id: String,
    },
    /// Send a signal (default SIGTERM) to a container.
    Kill {
        /// Signal every process in the container's cgroup.
        #[arg(long, short)]
        all: bool,
        /// The container id.
        id: String,
        /// A signal name (KILL, SIGKILL) or number.
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container and its resources.
    Delete {
        /// Kill a running container first.
        #[arg(long, short)]
        force: bool,
        /// The container id.
        id: String,
    },
    /// Create, start and wait for a container, then delete it; exits with its exit code.
    Run(CreateArgs),
    /// Run another process in a running container; exits with its exit code.
    Exec(exec::ExecArgs),
    /// Freeze every process of a running container.
    Pause {
        /// The container id.
        id: String,
    },
    /// Thaw a paused container.
    Resume {
        /// The container id.
        id: String,
    },
    /// List containers.
    List {
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Print only the ids.
        #[arg(long, short)]
        quiet: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The container id.
    pub id: String,
    /// The bundle directory (holding config.json).
    #[arg(long, short, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's host pid to this file.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to receive the pty master when process.terminal is set.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (for a rootfs on ramfs).
    #[arg(long)]
    pub no_pivot: bool,
}

/// Parses the command line, runs the command and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { 1 } else { 0 };
        }
    };
    if let Err(err) = logging::init(cli.log.as_deref(), cli.log_format, cli.debug) {
        eprintln!("berth-runtime: {err:#}");
        return 1;
    }
    let cli_logs_to_file = cli.log.is_some();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            let line = format!("{err:#}").replace('\n', " ");
            if cli_logs_to_file {
                tracing::error!("{line}");
            }
            eprintln!("berth-runtime: {line}");
            1
        }
    }
}
