//! Running containers: start (mount the rootfs, build the spec, create and start through
//! berth_runtime with the stdio of the stdio module), the monitor thread that records the exit and
//! applies AutoRemove and restart policies, stop/kill/remove, daemon shutdown, and the
//! reconciliation of containers a crashed berthd left running.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use berth_runtime::{test_pause, Bundle, Signal};

use super::logs::{self, JsonFile, Rotation};
use super::record::now;
use super::{spec, stdio, systemd, Entry, Running};
use crate::config::CgroupDriver;
use crate::daemon::Daemon;

/// Starts a created or exited container. Returns `false` when it was already running.
pub async fn start(daemon: &Arc<Daemon>, entry: &Arc<Entry>) -> Result<bool> {
    let _guard = entry.operation.lock().await;
    if entry.record().state.running() {
        return Ok(false);
    }
    let (daemon_ref, entry_ref) = (Arc::clone(daemon), Arc::clone(entry));
    let started = tokio::task::spawn_blocking(move || start_blocking(&daemon_ref, &entry_ref))
        .await
        .map_err(|err| anyhow!("start task failed: {err}"))?;
    if let Err(err) = started {
        // Attach streams end, next-exit waiters wake, and --rm containers go, as with dockerd.
        entry.feed.end();
        entry.phase.send_modify(|phase| phase.exits += 1);
        if entry.record().host_config.auto_remove {
            let (daemon, entry) = (Arc::clone(daemon), Arc::clone(entry));
            let _ =
                tokio::task::spawn_blocking(move || remove_stopped(&daemon, &entry, true)).await;
        }
        return Err(err);
    }
    Ok(true)
}

fn start_blocking(daemon: &Arc<Daemon>, entry: &Arc<Entry>) -> Result<()> {
    let containers = &daemon.containers;
    let config = daemon.config();
    let record = entry.record();
    let id = record.id.clone();
    let dir = containers.dir(&id);
    let rootfs = record.rootfs.to_rootfs();
    let failed = |error: String| {
        entry.update(&dir, |record| {
            record.state.error = error.clone();
            if record.state.status == "created" || record.state.status == "restarting" {
                record.state.status = "exited".to_owned();
                record.state.exit_code = 128;
                record.state.finished_at = now();
            }
        });
    };
    // A runtime record left by a crash would block create.
    let _ = containers.runtime.delete(&id, true);
    if let Err(err) = rootfs.mount() {
        failed(err.to_string());
        bail!("cannot mount the root filesystem of {id}: {err}");
    }
    test_pause::pause_at("after-rootfs-mount");
    let result = (|| -> Result<(i32, Vec<std::thread::JoinHandle<()>>)> {
        let cgroups_path = match config.cgroup_driver {
            CgroupDriver::Cgroupfs => PathBuf::from(format!("/berth/{id}")),
            CgroupDriver::Systemd => systemd::cgroups_path(&id),
        };
        let spec = spec::build(
            &record,
            rootfs.path(),
            &dir,
            &cgroups_path,
            &config.default_ulimits,
        )?;
        let bundle_dir = containers.bundles.join(&id);
        std::fs::create_dir_all(&bundle_dir)
            .with_context(|| format!("cannot create {}", bundle_dir.display()))?;
        let spec = Arc::new(spec);
        let bundle = Bundle::new(&bundle_dir, (*spec).clone())?;
        let (options, pending) = stdio::prepare(
            record.config.tty,
            record.config.open_stdin,
            &containers.console_socket(&id),
        )?;
        let container = containers.runtime.create(&id, &bundle, options)?;
        test_pause::pause_at("after-runtime-create");
        let attached = match pending.attach() {
            Ok(attached) => attached,
            Err(err) => {
                let _ = containers.runtime.delete(&id, true);
                return Err(err);
            }
        };
        let log = Arc::new(Mutex::new(
            JsonFile::open(
                &record.log_path,
                Rotation::of(&record.host_config.log_config, &config),
                entry.log_written.clone(),
            )
            .with_context(|| format!("cannot open {}", record.log_path.display()))?,
        ));
        let mut pumps = Vec::new();
        for output in attached.outputs {
            let (log, entry) = (Arc::clone(&log), Arc::clone(entry));
            pumps.push(std::thread::spawn(move || {
                logs::pump(output, Some(&log), &entry.feed)
            }));
        }
        entry.set_running(Running {
            stdin: attached.stdin,
            terminal: attached.terminal,
            spec: Some(spec),
        });
        let scope_then_start = || -> Result<()> {
            if config.cgroup_driver == CgroupDriver::Systemd {
                let pid = u32::try_from(container.pid()).context("container init pid")?;
                systemd::start_scope(&id, pid, &record.host_config)?;
            }
            containers.runtime.start(&id)?;
            Ok(())
        };
        if let Err(err) = scope_then_start() {
            entry.set_running(Running::default());
            let _ = containers.runtime.kill(&id, Signal::SIGKILL, true);
            let _ = containers.runtime.wait(&id);
            let _ = containers.runtime.delete(&id, true);
            entry.feed.exited();
            for pump in pumps {
                let _ = pump.join();
            }
            return Err(err);
        }
        Ok((container.pid(), pumps))
    })();
    let (pid, pumps) = match result {
        Ok(started) => started,
        Err(err) => {
            let _ = rootfs.unmount();
            failed(format!("{err:#}"));
            return Err(err);
        }
    };
    test_pause::pause_at("after-runtime-start");
    entry.update(&dir, |record| {
        record.state.status = "running".to_owned();
        record.state.pid = i64::from(pid);
        record.state.error.clear();
        record.state.started_at = now();
        record.state.stopped_by_user = false;
    });
    tracing::debug!(container = id, pid, "container started");
    let (daemon, entry) = (Arc::clone(daemon), Arc::clone(entry));
    std::thread::spawn(move || monitor(&daemon, &entry, pumps));
    Ok(())
}

/// Waits for the container's exit, records it, cleans up, then removes or restarts it.
fn monitor(daemon: &Arc<Daemon>, entry: &Arc<Entry>, pumps: Vec<std::thread::JoinHandle<()>>) {
    let containers = &daemon.containers;
    let id = entry.id.clone();
    let exit_code = match containers.runtime.wait(&id) {
        Ok(status) => i64::from(status.code()),
        Err(err) => {
            tracing::error!(container = id, error = %err, "cannot wait for the container");
            255
        }
    };
    // What the pipes still hold goes to slow clients without holding the exit back.
    entry.feed.exited();
    entry.set_running(Running::default());
    for pump in pumps {
        let _ = pump.join();
    }
    entry.feed.end();
    if let Err(err) = containers.runtime.delete(&id, true) {
        tracing::warn!(container = id, error = %err, "runtime delete failed");
    }
    let record = entry.record();
    if let Err(err) = record.rootfs.to_rootfs().unmount() {
        tracing::warn!(container = id, error = %err, "cannot unmount the rootfs");
    }
    let _ = std::fs::remove_dir_all(containers.bundles.join(&id));
    let restart = should_restart(daemon, &record, exit_code);
    entry.update(&containers.dir(&id), |record| {
        record.state.status = if restart { "restarting" } else { "exited" }.to_owned();
        record.state.paused = false;
        record.state.pid = 0;
        record.state.exit_code = exit_code;
        record.state.finished_at = now();
    });
    tracing::debug!(container = id, exit_code, "container exited");
    if record.host_config.auto_remove {
        if let Err(err) = remove_stopped(daemon, entry, true) {
            tracing::error!(container = id, error = %format!("{err:#}"), "auto-remove failed");
        }
        return;
    }
    if restart {
        let delay = Duration::from_millis(100 << record.restart_count.clamp(0, 6));
        std::thread::sleep(delay);
        if containers.shutting_down() || entry.record().state.status != "restarting" {
            return;
        }
        entry.update(&containers.dir(&id), |record| record.restart_count += 1);
        if let Err(err) = start_blocking(daemon, entry) {
            tracing::error!(container = id, error = %format!("{err:#}"), "restart failed");
        }
    }
}

fn should_restart(daemon: &Daemon, record: &super::Record, exit_code: i64) -> bool {
    if daemon.containers.shutting_down() || record.state.stopped_by_user {
        return false;
    }
    let policy = &record.host_config.restart_policy;
    match policy.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            exit_code != 0
                && (policy.maximum_retry_count <= 0
                    || record.restart_count < policy.maximum_retry_count)
        }
        _ => false,
    }
}

/// Waits up to `timeout` for the container to stop running.
async fn wait_stopped(entry: &Entry, timeout: Duration) -> bool {
    let mut phase = entry.watch();
    let stopped = tokio::time::timeout(timeout, phase.wait_for(|phase| !phase.running))
        .await
        .is_ok();
    stopped
}

/// Sends a signal through the runtime.
/// Signals the container's init; a paused container is thawed after, so the signal lands.
async fn signal(daemon: &Arc<Daemon>, id: &str, signal: Signal) -> Result<()> {
    let (daemon, id) = (Arc::clone(daemon), id.to_owned());
    tokio::task::spawn_blocking(move || -> Result<()> {
        let runtime = &daemon.containers.runtime;
        runtime.kill(&id, signal, false)?;
        let Some(entry) = daemon.containers.find(&id) else {
            return Ok(());
        };
        if entry.record().state.paused {
            runtime.resume(&id)?;
            entry.update(&daemon.containers.dir(&id), |record| {
                record.state.paused = false
            });
        }
        Ok(())
    })
    .await
    .map_err(|err| anyhow!("kill task failed: {err}"))??;
    Ok(())
}

/// Stops a container: its stop signal (SIGTERM), then SIGKILL after `timeout` seconds.
/// Returns `false` when it was not running.
pub async fn stop(
    daemon: &Arc<Daemon>,
    entry: &Arc<Entry>,
    timeout: Option<i64>,
    by_user: bool,
) -> Result<bool> {
    let record = entry.record();
    if !record.state.running() {
        if record.state.status == "restarting" {
            entry.update(&daemon.containers.dir(&entry.id), |record| {
                record.state.status = "exited".to_owned();
                record.state.stopped_by_user = by_user;
            });
        }
        return Ok(false);
    }
    if by_user {
        entry.update(&daemon.containers.dir(&entry.id), |record| {
            record.state.stopped_by_user = true;
        });
    }
    let stop_signal = match record.config.stop_signal.as_deref() {
        Some(name) if !name.is_empty() => berth_runtime::parse_signal(name)?,
        _ => Signal::SIGTERM,
    };
    let seconds = timeout.or(record.config.stop_timeout).unwrap_or(10).max(0) as u64;
    let _ = signal(daemon, &entry.id, stop_signal).await;
    if wait_stopped(entry, Duration::from_secs(seconds)).await {
        return Ok(true);
    }
    tracing::info!(
        container = entry.id,
        seconds,
        "container did not stop in time: SIGKILL"
    );
    let _ = signal(daemon, &entry.id, Signal::SIGKILL).await;
    if !wait_stopped(entry, Duration::from_secs(30)).await {
        bail!("container {} did not exit after SIGKILL", entry.id);
    }
    Ok(true)
}

/// How long `kill` with SIGKILL waits for the exit to be recorded.
const KILL_EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// `kill`: sends `signal_name` to a running container. As with dockerd, SIGKILL answers only
/// once the exit is recorded (so an inspect or a removal right after sees it stopped); other
/// signals answer once delivered.
pub async fn kill(
    daemon: &Arc<Daemon>,
    entry: &Arc<Entry>,
    signal_name: &str,
) -> Result<(), String> {
    if !entry.record().state.running() {
        return Err(format!("Container {} is not running", entry.id));
    }
    let parsed = berth_runtime::parse_signal(signal_name).map_err(|err| err.to_string())?;
    if parsed == Signal::SIGKILL || parsed == Signal::SIGTERM {
        entry.update(&daemon.containers.dir(&entry.id), |record| {
            record.state.stopped_by_user = true;
        });
    }
    signal(daemon, &entry.id, parsed)
        .await
        .map_err(|err| format!("{err:#}"))?;
    if parsed == Signal::SIGKILL && !wait_stopped(entry, KILL_EXIT_TIMEOUT).await {
        return Err(format!(
            "container {} did not exit within {} s of SIGKILL",
            entry.id,
            KILL_EXIT_TIMEOUT.as_secs()
        ));
    }
    Ok(())
}

/// Removes a container (SIGKILL first when `force`), and with `anonymous_volumes` the
/// anonymous volumes it made (`docker rm -v`).
pub async fn remove(
    daemon: &Arc<Daemon>,
    entry: &Arc<Entry>,
    force: bool,
    anonymous_volumes: bool,
) -> Result<(), String> {
    let _guard = entry.operation.lock().await;
    if entry.record().state.running() {
        if !force {
            return Err(format!(
                "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                entry.id
            ));
        }
        entry.update(&daemon.containers.dir(&entry.id), |record| {
            record.state.stopped_by_user = true;
        });
        let _ = signal(daemon, &entry.id, Signal::SIGKILL).await;
        if !wait_stopped(entry, Duration::from_secs(30)).await {
            return Err(format!("container {} did not exit after SIGKILL", entry.id));
        }
    }
    let (daemon, entry) = (Arc::clone(daemon), Arc::clone(entry));
    tokio::task::spawn_blocking(move || remove_stopped(&daemon, &entry, anonymous_volumes))
        .await
        .map_err(|err| err.to_string())?
        .map_err(|err| format!("{err:#}"))
}

/// Deletes a stopped container's rootfs, record, logs and bundle, and with
/// `anonymous_volumes` the anonymous volumes no other container uses.
fn remove_stopped(daemon: &Arc<Daemon>, entry: &Arc<Entry>, anonymous_volumes: bool) -> Result<()> {
    let containers = &daemon.containers;
    let id = &entry.id;
    if entry.phase.borrow().removed {
        return Ok(());
    }
    let _ = containers.runtime.delete(id, true);
    daemon
        .images
        .store
        .remove_rootfs_blocking(id)
        .with_context(|| format!("cannot remove the rootfs of {id}"))?;
    let _ = std::fs::remove_dir_all(containers.bundles.join(id));
    let _ = std::fs::remove_file(containers.console_socket(id));
    let dir = containers.dir(id);
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    let volumes = entry.record().volumes;
    containers.forget(id);
    entry.phase.send_modify(|phase| phase.removed = true);
    if anonymous_volumes {
        for name in volumes.keys() {
            let anonymous = daemon
                .volumes
                .get(name)
                .is_ok_and(|volume| volume.labels.contains_key(crate::volumes::ANONYMOUS_LABEL));
            let used = containers
                .all()
                .iter()
                .any(|other| other.record().volumes.contains_key(name));
            if anonymous && !used {
                if let Err(err) = daemon.volumes.remove(name) {
                    tracing::warn!(volume = %name, error = %err, "cannot remove an anonymous volume");
                }
            }
        }
    }
    Ok(())
}

/// SIGTERM of berthd: stops every running container within shutdown-timeout.
pub async fn shutdown(daemon: &Arc<Daemon>) {
    daemon
        .containers
        .shutting_down
        .store(true, Ordering::SeqCst);
    let timeout = daemon.config().shutdown_timeout.as_secs() as i64;
    let mut tasks = Vec::new();
    for entry in daemon.containers.all() {
        if entry.record().state.running() {
            let daemon = Arc::clone(daemon);
            tasks.push(tokio::spawn(async move {
                if let Err(err) = stop(&daemon, &entry, Some(timeout), false).await {
                    tracing::error!(container = entry.id, error = %format!("{err:#}"), "stop at shutdown failed");
                }
            }));
        }
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// After a start: containers recorded as running belong to a berthd that died. Their
/// processes are killed and reaped, runtime state, mounts and cgroups removed, the exit
/// recorded. The others are cleared of what a start the dead berthd was in the middle of left
/// (see [`reap_interrupted_start`]). Then AutoRemove and restart policies (always,
/// unless-stopped) are applied.
pub async fn restart_on_boot(daemon: &Arc<Daemon>) {
    for entry in daemon.containers.all() {
        let record = entry.record();
        let reap = if matches!(record.state.status.as_str(), "running" | "restarting") {
            reap_orphan
        } else {
            reap_interrupted_start
        };
        let daemon_for_task = Arc::clone(daemon);
        let entry_for_task = Arc::clone(&entry);
        let result =
            tokio::task::spawn_blocking(move || reap(&daemon_for_task, &entry_for_task)).await;
        if let Ok(Err(err)) = result {
            tracing::error!(container = entry.id, error = %format!("{err:#}"), "cannot reconcile container");
        }
        let record = entry.record();
        if record.host_config.auto_remove && !record.state.running() {
            let _ = remove(daemon, &entry, false, true).await;
            continue;
        }
        let policy = record.host_config.restart_policy.name.as_str();
        let wanted =
            policy == "always" || (policy == "unless-stopped" && !record.state.stopped_by_user);
        if wanted && !record.state.running() {
            if let Err(err) = start(daemon, &entry).await {
                tracing::error!(container = entry.id, error = %format!("{err:#}"), "restart on boot failed");
            }
        }
    }
}

fn reap_orphan(daemon: &Arc<Daemon>, entry: &Arc<Entry>) -> Result<()> {
    let containers = &daemon.containers;
    let record = entry.record();
    let id = &record.id;
    let pid = record.state.pid as i32;
    let mut killed = false;
    if pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists() {
        if containers.runtime.kill(id, Signal::SIGKILL, true).is_ok() {
            killed = true;
        }
        for _ in 0..500 {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = containers.runtime.delete(id, true);
    let _ = record.rootfs.to_rootfs().unmount();
    let _ = std::fs::remove_dir_all(containers.bundles.join(id));
    entry.update(&containers.dir(id), |record| {
        record.state.status = "exited".to_owned();
        record.state.pid = 0;
        record.state.exit_code = if killed { 137 } else { 255 };
        record.state.error = "berthd stopped while the container was running".to_owned();
        record.state.finished_at = now();
    });
    tracing::info!(
        container = id,
        killed,
        "reconciled a container left running by a previous berthd"
    );
    Ok(())
}

/// A container not recorded as running may hold what a start interrupted by berthd's death
/// left at any step: its rootfs mount, bundle, console socket, runtime state with a waiting
/// or running init, and cgroups. All of it goes; a container still recorded as created whose
/// start had reached the runtime is recorded as exited, as a failed start leaves it.
fn reap_interrupted_start(daemon: &Arc<Daemon>, entry: &Arc<Entry>) -> Result<()> {
    let containers = &daemon.containers;
    let record = entry.record();
    let id = &record.id;
    let runtime_state = containers.runtime.root().join(id);
    let bundle = containers.bundles.join(id);
    let reached_runtime = runtime_state.exists() || bundle.exists();
    if runtime_state.exists() {
        containers
            .runtime
            .delete(id, true)
            .with_context(|| format!("cannot delete the runtime state of {id}"))?;
    }
    record
        .rootfs
        .to_rootfs()
        .unmount()
        .with_context(|| format!("cannot unmount the rootfs of {id}"))?;
    let _ = std::fs::remove_dir_all(&bundle);
    let _ = std::fs::remove_file(containers.console_socket(id));
    if reached_runtime && record.state.status == "created" {
        entry.update(&containers.dir(id), |record| {
            record.state.status = "exited".to_owned();
            record.state.exit_code = 128;
            record.state.error = "berthd stopped while the container was starting".to_owned();
            record.state.finished_at = now();
        });
        tracing::info!(
            container = id,
            "reconciled a container whose start a previous berthd left unfinished"
        );
    }
    Ok(())
}
