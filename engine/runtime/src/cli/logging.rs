//! Subscriber setup, in one place: text or JSON lines, to `--log FILE` (appended) or stderr, at
//! debug level with `--debug` and warnings otherwise.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use berth_runtime::Logger;
use tracing::Level;

use super::LogFormat;

pub fn init(log: Option<&Path>, format: LogFormat, debug: bool) -> anyhow::Result<()> {
    let level = if debug { Level::DEBUG } else { Level::WARN };
    let out: Box<dyn Write + Send> = match log {
        Some(path) => Box::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("--log {}", path.display()))?,
        ),
        None => Box::new(std::io::stderr()),
    };
    let logger = Logger::new(level, format == LogFormat::Json, out);
    tracing::subscriber::set_global_default(logger).context("installing the logger")
}
