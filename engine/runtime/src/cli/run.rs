//! `run` (and `exec`) in the foreground: the runtime becomes a child subreaper, forwards the signals it
//! gets to the container, reaps orphans while it waits, and exits with the container's code.

use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::Result;
use berth_runtime::{Bundle, CreateOptions, ExitStatus, Runtime};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// The pid signals are forwarded to (0 before the container exists).
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

extern "C" fn forward(signal: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, signal) };
    }
}

pub fn run(runtime: &Runtime, id: &str, bundle: &Bundle, options: CreateOptions) -> Result<i32> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes 1; orphans of the container then become ours.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let container = runtime.create(id, bundle, options)?;
    forward_signals_to(container.pid())?;
    if let Err(err) = runtime.start(id) {
        let _ = runtime.delete(id, true);
        return Err(err.into());
    }
    let status = wait_reaping(container.pid());
    FORWARD_TO.store(0, Ordering::Relaxed);
    runtime.delete(id, true)?;
    Ok(status?.code())
}

/// Forwards the signals a foreground runtime gets to `pid` from now on.
pub fn forward_signals_to(pid: i32) -> Result<()> {
    FORWARD_TO.store(pid, Ordering::Relaxed);
    let action = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in FORWARDED {
        // SAFETY: the handler only calls kill.
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}

/// Waits for `pid`, reaping any other child (re-parented orphans) on the way.
pub fn wait_reaping(pid: i32) -> Result<ExitStatus> {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(status) if status.pid() == Some(Pid::from_raw(pid)) => {
                if let Some(exit) = ExitStatus::from_wait(status) {
                    return Ok(exit);
                }
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(errno) => anyhow::bail!("waiting for the container: {errno}"),
        }
    }
}
