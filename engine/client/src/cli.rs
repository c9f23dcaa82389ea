//! `berth`'s command line, with docker's command and flag names. Parsing only: the commands
//! live in [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The default daemon address.
pub const DEFAULT_HOST: &str = "unix:///var/run/berth.sock";

/// A Docker-compatible container engine client.
#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version = concat!("version ", env!("CARGO_PKG_VERSION"), ", build ", env!("BERTH_BUILD_COMMIT")),
    about = "A self-sufficient runtime for containers",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Daemon socket to connect to (unix://PATH or tcp://HOST:PORT)
    #[arg(
        short = 'H',
        long = "host",
        env = "BERTH_HOST",
        global = true,
        value_name = "HOST"
    )]
    pub host: Option<String>,
    /// Use TLS; implied by --tlsverify
    #[arg(long, global = true)]
    pub tls: bool,
    /// Use TLS and verify the daemon
    #[arg(
        long,
        global = true,
        env = "BERTH_TLS_VERIFY",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub tlsverify: bool,
    /// Trust certs signed only by this CA [default: $BERTH_CERT_PATH/ca.pem]
    #[arg(long, global = true, value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file [default: $BERTH_CERT_PATH/cert.pem]
    #[arg(long, global = true, value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// Path to TLS key file [default: $BERTH_CERT_PATH/key.pem]
    #[arg(long, global = true, value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Every `berth` command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the berth version information
    Version,
    /// Display system-wide information
    Info,
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// List images
    Images(ImagesArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Pause all processes within one or more containers
    Pause(PauseArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Unpause all processes within one or more containers
    Unpause(PauseArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage berth
    #[command(subcommand)]
    System(SystemCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// List containers
    Ps(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Return low-level information on containers or images
    Inspect(InspectArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Generate a shell completion script
    Completion(CompletionArgs),
    /// Write the berth.1 man page into DIR
    #[command(hide = true)]
    GenerateMan(GenerateManArgs),
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Image to pull (NAME[:TAG|@DIGEST])
    pub image: String,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Image to push (NAME[:TAG])
    pub image: String,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show all images
    #[arg(short, long)]
    pub all: bool,
    /// Filter output based on conditions provided (dangling=, label=, reference=, before=,
    /// since=, until=)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Only images of this repository
    pub repository: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Images to remove
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Images to save
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG]
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    pub target: String,
}

/// Flags shared by `create` and `run`.
#[derive(Debug, Args)]
pub struct ContainerFlags {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Set meta data on a container
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Mount a tmpfs directory
    #[arg(long, value_name = "PATH[:OPTIONS]")]
    pub tmpfs: Vec<String>,
    /// Attach a filesystem mount to the container (type=bind|volume|tmpfs,src=,dst=,readonly)
    #[arg(long, value_name = "MOUNT")]
    pub mount: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Container host name
    #[arg(short = 'h', long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Bind mount a volume (HOST-PATH:CONTAINER-PATH[:ro])
    #[arg(short, long = "volume", value_name = "BIND")]
    pub volume: Vec<String>,
    /// Memory limit (e.g. 512m)
    #[arg(short, long, value_name = "BYTES")]
    pub memory: Option<String>,
    /// Number of CPUs
    #[arg(long, value_name = "DECIMAL")]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "INT")]
    pub cpu_shares: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, value_name = "INT", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Connect a container to a network (none or host)
    #[arg(long, value_name = "NETWORK")]
    pub network: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,
    /// Restart policy to apply when a container exits (no, on-failure[:N], always, unless-stopped)
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Ulimit options (NAME=SOFT[:HARD])
    #[arg(long, value_name = "ULIMIT")]
    pub ulimit: Vec<String>,
    /// Logging driver for the container (json-file)
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=SIZE, max-file=N)
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub log_opts: Vec<String>,
    /// Add Linux capabilities
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Security options (seccomp=unconfined|PROFILE.json, no-new-privileges)
    #[arg(long, value_name = "OPTION")]
    pub security_opt: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// IMAGE [COMMAND] [ARG...]: everything after the image belongs to the command
    #[arg(
        value_name = "IMAGE [COMMAND] [ARG...]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub image_and_command: Vec<String>,
}

impl ContainerFlags {
    /// The image (the first positional).
    pub fn image(&self) -> &str {
        self.image_and_command
            .first()
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The command and its arguments (after the image).
    pub fn command(&self) -> &[String] {
        self.image_and_command.get(1..).unwrap_or(&[])
    }
}

/// `-h` is `--hostname` for run and create, as in docker; help stays on `--help`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching from a terminal session
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    #[command(flatten)]
    pub container: ContainerFlags,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    #[command(flatten)]
    pub container: ContainerFlags,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching from a terminal session
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// CONTAINER COMMAND [ARG...]: everything after the container belongs to the command
    #[arg(
        value_name = "CONTAINER COMMAND [ARG...]",
        required = true,
        num_args = 2..,
        trailing_var_arg = true
    )]
    pub container_and_command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Containers to start
    #[arg(required = true)]
    pub containers: Vec<String>,
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching from a terminal session
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Containers (default: all running ones)
    pub containers: Vec<String>,
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The container
    pub container: String,
    /// Its new name
    pub new_name: String,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    /// CONTAINER:SRC_PATH, a local path, or - for a tar on stdin
    pub source: String,
    /// CONTAINER:DEST_PATH, a local path, or - for a tar on stdout
    pub destination: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The container
    pub container: String,
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The container
    pub container: String,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// The container
    pub container: String,
    /// ps options (-ef by default)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_options: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Containers
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The running container to attach to
    pub container: String,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Override the key sequence for detaching from a terminal session
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Containers
    #[arg(required = true)]
    pub containers: Vec<String>,
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<i64>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Containers to kill
    #[arg(required = true)]
    pub containers: Vec<String>,
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Containers to remove
    #[arg(required = true)]
    pub containers: Vec<String>,
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (status=, name=, id=, label=, ancestor=,
    /// exited=, before=, since=)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

/// `berth container ...`.
#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Remove all stopped containers
    Prune(ContainerPruneArgs),
}

/// `berth image ...`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Remove unused images
    Prune(PruneArgs),
}

/// `berth system ...`.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show berth disk usage
    Df,
    /// Remove stopped containers and unused images
    Prune(PruneArgs),
}

/// `berth volume ...`.
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// List volumes
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeNamesArgs),
    /// Remove one or more volumes
    Rm(VolumeRmArgs),
    /// Remove unused volumes (with -a named ones too; berth makes no anonymous ones)
    Prune(VolumePruneArgs),
}

#[derive(Debug, Args)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// Set metadata for a volume
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Specify volume driver name
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Volume name (generated when omitted)
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (e.g. "dangling=true", "label=<key>", "name=<part>")
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeNamesArgs {
    /// Volumes
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    /// Do not fail when a volume does not exist
    #[arg(short, long)]
    pub force: bool,
    /// Volumes
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ContainerPruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Container
    pub container: String,
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, value_name = "N", default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since a timestamp (RFC 3339 or unix seconds) or relative (e.g. 42m)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (RFC 3339 or unix seconds) or relative (e.g. 42m)
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Containers or images
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Only inspect objects of this type (container or image)
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Containers to wait for
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Shell to generate the script for
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct GenerateManArgs {
    /// Directory to write berth.1 into
    pub dir: PathBuf,
}
