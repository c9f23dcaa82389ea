//! Subscriber setup, in one place: text or JSON, to `--log FILE` (appended) or stderr, at
//! debug level with `--debug` and warnings otherwise.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use tracing_subscriber::filter::LevelFilter;

use super::LogFormat;

pub fn init(log: Option<&Path>, format: LogFormat, debug: bool) -> anyhow::Result<()> {
    let level = if debug {
        LevelFilter::DEBUG
    } else {
        LevelFilter::WARN
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false);
    match (log, format) {
        (Some(path), format) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("--log {}", path.display()))?;
            let builder = builder.with_ansi(false).with_writer(Mutex::new(file));
            if format == LogFormat::Json {
                builder.json().flatten_event(true).init();
            } else {
                builder.init();
            }
        }
        (None, LogFormat::Json) => builder
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .init(),
        (None, LogFormat::Text) => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}
