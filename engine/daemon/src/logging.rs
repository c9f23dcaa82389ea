//! Log setup: tracing to stderr at the configured level, changeable on SIGHUP (debug).

use std::io::IsTerminal;

use tracing_subscriber::prelude::*;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Changes the log level of the running daemon.
pub struct LevelHandle(reload::Handle<EnvFilter, Registry>);

impl LevelHandle {
    /// Switches to `level` ("debug", "info", ...).
    pub fn set(&self, level: &str) {
        if let Err(err) = self.0.reload(filter(level)) {
            tracing::warn!(error = %err, "cannot change the log level");
        }
    }
}

/// "fatal" is Docker's name; tracing stops at "error".
fn filter(level: &str) -> EnvFilter {
    let level = if level == "fatal" { "error" } else { level };
    EnvFilter::new(level)
}

/// Installs the global subscriber.
pub fn init(level: &str) -> LevelHandle {
    let (filter, handle) = reload::Layer::new(filter(level));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr),
        )
        .init();
    LevelHandle(handle)
}
