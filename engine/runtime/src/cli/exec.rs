//! `exec`, as runc's: a process in a running container, described by `--process FILE` (an
//! OCI process JSON) or by the command line and flags on top of the container's own process.
//! In the foreground the runtime forwards signals and exits with the process's exit code.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use berth_runtime::oci_spec::runtime::{Process, UserBuilder};
use berth_runtime::{Bundle, CreateOptions, Runtime};
use clap::Args;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// An OCI process JSON file describing the process (instead of COMMAND and flags).
    #[arg(long, short)]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal (needs --console-socket).
    #[arg(long, short)]
    pub tty: bool,
    /// A unix socket to receive the pty master with --tty.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// The working directory inside the container.
    #[arg(long)]
    pub cwd: Option<String>,
    /// Extra environment variables, KEY=VALUE.
    #[arg(long, short)]
    pub env: Vec<String>,
    /// UID[:GID] to run as (GID 0 when not given).
    #[arg(long, short)]
    pub user: Option<String>,
    /// Do not wait: print nothing and exit once the process runs.
    #[arg(long, short)]
    pub detach: bool,
    /// Write the process's host pid to this file.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// The container id.
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true)]
    pub command: Vec<String>,
}

pub fn exec(runtime: &Runtime, args: ExecArgs) -> Result<i32> {
    let state = runtime.state(&args.id)?;
    let bundle = Bundle::load(&state.bundle)?;
    let process = process(bundle.spec().process().as_ref(), &args)?;
    let options = CreateOptions {
        console_socket: args.console_socket.clone(),
        inherit_terminal: args.tty && args.console_socket.is_none(),
        ..Default::default()
    };
    let exec = runtime.exec(&args.id, bundle.spec(), process, options)?;
    if let Some(pid_file) = &args.pid_file {
        std::fs::write(pid_file, exec.pid().to_string())
            .with_context(|| format!("--pid-file {}", pid_file.display()))?;
    }
    if args.detach {
        return Ok(0);
    }
    super::run::forward_signals_to(exec.pid())?;
    Ok(super::run::wait_reaping(exec.pid())?.code())
}

/// The process to run: `--process`, or the container's process with the command line and
/// flags applied.
fn process(container: Option<&Process>, args: &ExecArgs) -> Result<Process> {
    if let Some(path) = &args.process {
        let text = std::fs::read(path).with_context(|| format!("--process {}", path.display()))?;
        return serde_json::from_slice(&text)
            .with_context(|| format!("--process {}: not an OCI process", path.display()));
    }
    if args.command.is_empty() {
        bail!("exec needs a command or --process");
    }
    let mut process = container.cloned().unwrap_or_default();
    process.set_args(Some(args.command.clone()));
    process.set_terminal(Some(args.tty));
    process.set_console_size(None);
    let mut env = process.env().clone().unwrap_or_default();
    for entry in &args.env {
        let Some((key, _)) = entry.split_once('=') else {
            bail!("--env {entry:?}: expected KEY=VALUE");
        };
        env.retain(|existing| existing.split('=').next() != Some(key));
        env.push(entry.clone());
    }
    process.set_env(Some(env));
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.into());
    }
    if let Some(user) = &args.user {
        // As runc: the gid is 0 unless given.
        let (uid, gid) = user.split_once(':').unwrap_or((user, "0"));
        let number = |text: &str| {
            text.parse::<u32>()
                .with_context(|| format!("--user {user:?}: expected UID[:GID] as numbers"))
        };
        process.set_user(
            UserBuilder::default()
                .uid(number(uid)?)
                .gid(number(gid)?)
                .build()?,
        );
    }
    Ok(process)
}
