//! Ctrl-C (SIGINT) and SIGTERM while a build container runs: the request is recorded here, and
//! the caller kills the container and reports the interruption instead of dying and leaving
//! the compiler running in its namespaces.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Result};

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn record(_signal: libc::c_int) {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Catches SIGINT and SIGTERM from now on; [`requested`] tells whether one came.
pub fn catch() -> Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic, which is
        // async-signal-safe.
        let failed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut()) != 0
        };
        if failed {
            bail!(
                "install a handler for signal {signal}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM arrived since [`catch`].
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
