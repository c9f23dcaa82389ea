//! `docker exec`: processes started in a running container. Each exec instance is created
//! with its config, started once (through berth_runtime's exec, with pipes or a terminal),
//! streams its output to whoever started it, and keeps its exit code for inspect until its
//! container is removed.

use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use berth_api::container::HostConfig;
use berth_api::exec::{ExecConfig, ExecInspect, ExecProcessConfig};
use berth_runtime::oci_spec::runtime::{BoxBuilder, UserBuilder};

use super::fanout::{Fanout, Subscription};
use super::logs;
use super::security::{self, HostFacts};
use super::{spec, stdio, Containers, Entry, ResizeError};

/// Why an exec cannot be created or started.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("Container {0} is not running")]
    NotRunning(String),
    #[error("exec {0} has already been started")]
    AlreadyStarted(String),
    #[error("Container {0} is paused, unpause the container before exec")]
    Paused(String),
    #[error("No exec command specified")]
    NoCommand,
    #[error("{0:#}")]
    Invalid(anyhow::Error),
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

#[derive(Debug, Default, Clone)]
struct ExecState {
    started: bool,
    running: bool,
    exit_code: Option<i64>,
    pid: i32,
    /// When it ended; ended execs are forgotten after [`KEEP_ENDED`].
    ended_at: Option<Instant>,
}

/// How long an ended exec stays inspectable (dockerd keeps them about as long).
const KEEP_ENDED: Duration = Duration::from_secs(5 * 60);

/// One exec instance.
pub struct Exec {
    pub id: String,
    pub container: Arc<Entry>,
    pub config: ExecConfig,
    state: Mutex<ExecState>,
    feed: Arc<Fanout>,
    /// While it runs: its stdin writer and its terminal.
    stdio: Mutex<(Option<File>, Option<File>)>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Exec {
    /// Claims the single start of this exec; refuses a second one, or a stopped container.
    pub fn claim_start(&self) -> Result<(), ExecError> {
        let mut state = lock(&self.state);
        if state.started {
            return Err(ExecError::AlreadyStarted(self.id.clone()));
        }
        if !self.container.record().state.running() {
            return Err(ExecError::NotRunning(self.container.id.clone()));
        }
        state.started = true;
        Ok(())
    }

    /// Subscribes to its stdout and stderr as wanted; do it before [`start`] to miss
    /// nothing. A subscriber that does not read holds the process back.
    pub fn output(&self, stdout: bool, stderr: bool) -> Subscription {
        self.feed.subscribe(stdout, stderr)
    }

    /// A writer to its stdin while it runs (with `AttachStdin`).
    pub fn stdin(&self) -> Option<File> {
        let stdio = lock(&self.stdio);
        stdio.0.as_ref().and_then(|stdin| stdin.try_clone().ok())
    }

    /// Closes its stdin (the client's input ended).
    pub fn close_stdin(&self) {
        lock(&self.stdio).0 = None;
    }

    /// Resizes its terminal.
    pub fn resize(&self, height: u16, width: u16) -> Result<(), ResizeError> {
        let stdio = lock(&self.stdio);
        if !lock(&self.state).running {
            return Err(ResizeError::NotRunning(self.id.clone()));
        }
        let terminal = stdio
            .1
            .as_ref()
            .ok_or_else(|| ResizeError::NoTerminal(self.id.clone()))?;
        stdio::resize(terminal, height, width)
            .map_err(|err| ResizeError::Failed(self.id.clone(), err))
    }

    /// `GET /exec/{id}/json`.
    pub fn inspect(&self) -> ExecInspect {
        let state = lock(&self.state).clone();
        let mut arguments = self.config.cmd.clone();
        let entrypoint = if arguments.is_empty() {
            String::new()
        } else {
            arguments.remove(0)
        };
        ExecInspect {
            id: self.id.clone(),
            container_id: self.container.id.clone(),
            running: state.running,
            exit_code: state.exit_code,
            open_stdin: self.config.attach_stdin,
            open_stdout: self.config.attach_stdout,
            open_stderr: self.config.attach_stderr,
            can_remove: !state.running,
            detach_keys: self.config.detach_keys.clone(),
            process_config: ExecProcessConfig {
                arguments,
                entrypoint,
                privileged: self.config.privileged,
                tty: self.config.tty,
                user: self.config.user.clone(),
            },
            pid: i64::from(state.pid),
        }
    }
}

impl Containers {
    /// `POST /containers/{id}/exec`: a new exec instance in running container `entry`.
    pub fn create_exec(
        &self,
        entry: &Arc<Entry>,
        config: ExecConfig,
    ) -> Result<Arc<Exec>, ExecError> {
        let state = entry.record().state;
        if !state.running() {
            return Err(ExecError::NotRunning(entry.id.clone()));
        }
        if state.paused {
            return Err(ExecError::Paused(entry.id.clone()));
        }
        if config.cmd.is_empty() {
            return Err(ExecError::NoCommand);
        }
        let id = super::new_id().map_err(ExecError::Failed)?;
        let exec = Arc::new(Exec {
            id,
            container: Arc::clone(entry),
            config,
            state: Mutex::new(ExecState::default()),
            feed: Arc::default(),
            stdio: Mutex::new((None, None)),
        });
        let mut execs = lock(&self.execs);
        // Execs of removed containers go with them, and ended ones after a while.
        execs.retain(|_, exec| {
            let ended_long_ago = lock(&exec.state)
                .ended_at
                .is_some_and(|ended| ended.elapsed() > KEEP_ENDED);
            !exec.container.watch().borrow().removed && !ended_long_ago
        });
        execs.insert(exec.id.clone(), Arc::clone(&exec));
        Ok(exec)
    }

    /// An exec instance by its id.
    pub fn exec(&self, id: &str) -> Option<Arc<Exec>> {
        lock(&self.execs).get(id).cloned()
    }
}

/// The table of exec instances.
pub type Execs = Mutex<HashMap<String, Arc<Exec>>>;

/// Starts `exec`, whose start was claimed (blocking): when this returns, its process runs
/// and a thread waits for it. On failure the exec ends with 127 (program not found) or 126,
/// as a shell reports a command it cannot run.
pub fn start(containers: &Containers, exec: &Arc<Exec>) -> Result<(), ExecError> {
    let started = start_claimed(containers, exec);
    if let Err(err) = &started {
        let code = if err.to_string().contains("not found") {
            127
        } else {
            126
        };
        {
            let mut state = lock(&exec.state);
            state.exit_code = Some(code);
            state.ended_at = Some(Instant::now());
        }
        exec.feed.end();
    }
    started
}

fn start_claimed(containers: &Containers, exec: &Arc<Exec>) -> Result<(), ExecError> {
    let container = &exec.container;
    let not_running = || ExecError::NotRunning(container.id.clone());
    let container_spec = container.running_spec().ok_or_else(not_running)?;
    let record = container.record();
    let config = &exec.config;
    let mut process = container_spec
        .process()
        .clone()
        .ok_or_else(|| ExecError::Failed(anyhow!("the container's spec has no process")))?;
    process.set_args(Some(config.cmd.clone()));
    let mut env = process.env().clone().unwrap_or_default();
    for entry in &config.env {
        let key = entry.split('=').next().unwrap_or_default();
        env.retain(|existing| existing.split('=').next() != Some(key));
        env.push(entry.clone());
    }
    if config.tty && !env.iter().any(|entry| entry.starts_with("TERM=")) {
        env.push("TERM=xterm".to_owned());
    }
    process.set_env(Some(env));
    if !config.working_dir.is_empty() {
        process.set_cwd(config.working_dir.clone().into());
    }
    if !config.user.is_empty() {
        let rootfs = record.rootfs.to_rootfs();
        let (uid, gid, additional_gids, _) =
            spec::resolve_user(rootfs.path(), &config.user).map_err(ExecError::Invalid)?;
        let user = UserBuilder::default()
            .uid(uid)
            .gid(gid)
            .additional_gids(additional_gids)
            .build()
            .map_err(|err| ExecError::Failed(err.into()))?;
        process.set_user(user);
    }
    if config.privileged {
        let everything = HostConfig {
            privileged: true,
            ..HostConfig::default()
        };
        let privileges = security::resolve(&everything, HostFacts::read())
            .map_err(|err| ExecError::Failed(err.into()))?;
        let capabilities =
            spec::linux_capabilities(&privileges.capabilities).map_err(ExecError::Failed)?;
        process.set_capabilities(Some(capabilities));
    }
    process.set_terminal(Some(config.tty));
    process.set_console_size(None);
    if let Some([height, width]) = config.console_size.filter(|size| size[0] > 0) {
        let size = BoxBuilder::default()
            .height(u64::from(height))
            .width(u64::from(width))
            .build()
            .map_err(|err| ExecError::Failed(err.into()))?;
        process.set_console_size(Some(size));
    }

    let socket = containers.consoles.join(format!("e-{}", &exec.id[..12]));
    let (options, pending) =
        stdio::prepare(config.tty, config.attach_stdin, &socket).map_err(ExecError::Failed)?;
    let process = containers
        .runtime
        .exec(&container.id, &container_spec, process, options)
        .map_err(|err| match err {
            berth_runtime::Error::InvalidStatus { .. } => not_running(),
            other => ExecError::Invalid(anyhow::Error::new(other)),
        })?;
    let attached = match pending.attach() {
        Ok(attached) => attached,
        Err(err) => {
            let pid = nix::unistd::Pid::from_raw(process.pid());
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = process.wait();
            return Err(ExecError::Failed(err));
        }
    };
    let pumps: Vec<_> = attached
        .outputs
        .into_iter()
        .map(|output| {
            let feed = Arc::clone(&exec.feed);
            std::thread::spawn(move || logs::pump(output, None, &feed))
        })
        .collect();
    *lock(&exec.stdio) = (attached.stdin, attached.terminal);
    {
        let mut state = lock(&exec.state);
        state.running = true;
        state.pid = process.pid();
    }
    tracing::debug!(
        container = container.id,
        exec = exec.id,
        pid = process.pid(),
        "exec started"
    );
    let exec = Arc::clone(exec);
    std::thread::Builder::new()
        .name("exec-wait".to_owned())
        .spawn(move || {
            let code = match process.wait() {
                Ok(status) => i64::from(status.code()),
                Err(err) => {
                    tracing::error!(exec = exec.id, error = %err, "cannot wait for the exec");
                    255
                }
            };
            // What the pipes still hold goes to a slow client without holding the exit back.
            exec.feed.exited();
            *lock(&exec.stdio) = (None, None);
            for pump in pumps {
                let _ = pump.join();
            }
            {
                let mut state = lock(&exec.state);
                state.running = false;
                state.exit_code = Some(code);
                state.ended_at = Some(Instant::now());
            }
            exec.feed.end();
        })
        .context("cannot start the exec's waiter")
        .map_err(ExecError::Failed)?;
    Ok(())
}
