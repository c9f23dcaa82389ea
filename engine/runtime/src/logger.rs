//! A small `tracing` subscriber for the CLI in runc's (logrus) formats: text lines
//! `time="…" level=error msg="…"` or JSON lines `{"level":"error","msg":"…","time":"…"}`,
//! which containerd-style callers parse. It keeps the runtime free of a regex engine.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Subscriber;
use tracing::{Event, Level, Metadata};

/// Writes every event at or above `max_level` as one line to `out`.
pub struct Logger {
    max_level: Level,
    json: bool,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Logger {
    /// A logger writing text (or JSON with `json`) lines to `out`.
    pub fn new(max_level: Level, json: bool, out: Box<dyn Write + Send>) -> Logger {
        Logger {
            max_level,
            json,
            out: Mutex::new(out),
        }
    }

    fn line(&self, level: &Level, fields: &Fields) -> String {
        let time = crate::fsutil::now_rfc3339();
        let level = level.as_str().to_ascii_lowercase();
        if self.json {
            let mut object = serde_json::Map::new();
            object.insert("level".into(), level.into());
            object.insert("msg".into(), fields.message.clone().into());
            object.insert("time".into(), time.into());
            for (name, value) in &fields.others {
                object.insert(name.clone(), value.clone().into());
            }
            return serde_json::Value::Object(object).to_string();
        }
        let mut line = format!("time={time:?} level={level} msg={:?}", fields.message);
        for (name, value) in &fields.others {
            let _ = write!(line, " {name}={value:?}");
        }
        line
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl Fields {
    fn record(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            self.others.push((field.name().to_owned(), value));
        }
    }
}

impl Subscriber for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max_level
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::from_level(
            self.max_level,
        ))
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = self.line(event.metadata().level(), &fields);
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_level_msg_and_fields() {
        let buffer = Buffer::default();
        let logger = Logger::new(Level::INFO, true, Box::new(buffer.clone()));
        tracing::subscriber::with_default(logger, || {
            tracing::debug!("hidden");
            tracing::error!(id = "c1", "it broke");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["level"], "error");
        assert_eq!(line["msg"], "it broke");
        assert_eq!(line["id"], "c1");
    }

    #[test]
    fn text_lines_look_like_logrus() {
        let buffer = Buffer::default();
        let logger = Logger::new(Level::WARN, false, Box::new(buffer.clone()));
        tracing::subscriber::with_default(logger, || tracing::warn!("careful"));
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(text.starts_with("time=\""), "{text}");
        assert!(
            text.trim_end().ends_with("level=warn msg=\"careful\""),
            "{text}"
        );
    }
}
