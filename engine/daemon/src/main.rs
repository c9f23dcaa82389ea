//! `berthd`: the berth daemon. main only parses flags, loads the configuration, maps errors to
//! the exit code, and runs [`run`] on a small tokio runtime.

mod cli;
mod config;
mod containers;
mod daemon;
mod fsutil;
mod images;
mod listen;
mod lock;
mod logging;
#[cfg(target_feature = "crt-static")]
mod no_nss;
mod notify;
mod private_dirs;
mod server;
mod tls;
mod volumes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use cli::Flags;
use config::Config;

/// Blocking threads the runtime may run at once (tokio's default). Every start, removal, log
/// read and archive holds one while it works, so a small cap makes ordinary parallel API use
/// queue behind itself.
const MAX_BLOCKING_THREADS: usize = 512;

/// How long berthd waits at exit for blocking work still running (a stuck kernel call, say)
/// before exiting anyway: dropping the runtime would wait for it forever.
const BLOCKING_WORK_GRACE: Duration = Duration::from_secs(5);

fn main() {
    // berthd is also the container init (berth_runtime re-executes it): this returns at once
    // in the daemon and never returns in a container's init.
    berth_runtime::init_hook();
    let flags = Flags::parse();
    if let Some(dir) = &flags.generate_man {
        if let Err(err) = write_man_page(dir) {
            eprintln!("berthd: {err:#}");
            std::process::exit(1);
        }
        return;
    }
    let config = match Config::load(&flags) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(1);
        }
    };
    if flags.validate {
        println!("configuration OK");
        return;
    }
    let level = logging::init(config.effective_log_level());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("failed to start daemon: cannot create the async runtime: {err}");
            std::process::exit(1);
        }
    };
    if let Err(err) = runtime.block_on(run(config, flags, level)) {
        eprintln!("failed to start daemon: {err:#}");
        std::process::exit(1);
    }
    let waited = Instant::now();
    runtime.shutdown_timeout(BLOCKING_WORK_GRACE);
    if waited.elapsed() >= BLOCKING_WORK_GRACE {
        tracing::warn!(
            seconds = BLOCKING_WORK_GRACE.as_secs(),
            "blocking work still running at exit; exiting without it"
        );
    }
    std::process::exit(0);
}

/// Writes berthd.8 into `dir`.
fn write_man_page(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let man = clap_mangen::Man::new(Flags::command()).section("8");
    let mut page = Vec::new();
    man.render(&mut page)?;
    let path = dir.join("berthd.8");
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Takes the locks, opens the listeners, serves until SIGTERM/SIGINT, then shuts down.
async fn run(config: Config, flags: Flags, level: logging::LevelHandle) -> Result<()> {
    // Handlers first: a client may signal as soon as the socket exists.
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    private_dirs::secure(&config.data_root, &config.exec_root)?;
    let _lock = lock::DataRootLock::acquire(&config.data_root)?;
    let _pidfile = lock::PidFile::write(&config.pidfile)?;
    let gid = match listen::group_gid(&config.group)? {
        Some(gid) => gid,
        None if config.group_explicit => {
            anyhow::bail!(
                "group {} not found (set in --group or \"group\")",
                config.group
            )
        }
        None => {
            tracing::debug!(
                group = config.group,
                "group not found; the socket stays root-only"
            );
            0
        }
    };
    let acceptor = config.tls.as_ref().map(tls::acceptor).transpose()?;
    let tls = acceptor
        .as_ref()
        .zip(config.tls.as_ref())
        .map(|(acceptor, settings)| (acceptor, settings.verify_clients));
    let listeners = listen::open_all(&config.hosts, gid, tls)?;
    let socket_paths: Vec<_> = listeners
        .iter()
        .filter_map(|listener| match listener {
            listen::Listener::Unix(_, Some(path)) => Some(path.clone()),
            _ => None,
        })
        .collect();
    let daemon = Arc::new(daemon::Daemon::new(config.clone(), flags, level)?);
    // Containers a crashed berthd left are reconciled before the API answers.
    containers::restart_on_boot(&daemon).await;
    let (shutdown_sender, shutdown) = watch::channel(false);
    let server = tokio::spawn(server::serve(listeners, Arc::clone(&daemon), shutdown));
    tracing::info!(
        version = server::ENGINE_VERSION,
        hosts = ?config.hosts,
        data_root = %config.data_root.display(),
        "API listen and serve"
    );
    notify::notify("READY=1");
    loop {
        tokio::select! {
            _ = hangup.recv() => daemon.reload(),
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("shutting down");
    notify::notify("STOPPING=1");
    containers::shutdown(&daemon).await;
    let _ = shutdown_sender.send(true);
    let _ = server.await;
    for path in socket_paths {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!("daemon shutdown complete");
    Ok(())
}
