//! Container output: the json-file log (`{"log","stream","time"}` lines, rotated at max-size
//! keeping max-file files) and the live feed that attach and `logs -f` subscribe to.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_api::container::LogConfig;
use berth_api::stream::StreamKind;
use berth_api::time::format_rfc3339;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::config::Config;

/// One piece of live output.
#[derive(Debug, Clone)]
pub enum Output {
    /// A line (or a partial line at EOF, or a terminal's chunk) from stdout or stderr, with
    /// its log time.
    Line(StreamKind, Bytes, String),
    /// The process exited and every byte it wrote has been sent.
    End,
}

/// A json-file log line.
#[derive(Debug, Serialize, Deserialize)]
pub struct LogLine {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Rotation settings.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    pub max_size: Option<u64>,
    pub max_file: u32,
}

impl Rotation {
    /// A container's rotation: its own log options (`--log-opt`, HostConfig.LogConfig) when
    /// it has any, else the daemon's (`log-opts` in daemon.json), as dockerd does.
    pub fn of(log_config: &LogConfig, daemon: &Config) -> Rotation {
        let daemon_default = Rotation {
            max_size: daemon.log_max_size,
            max_file: daemon.log_max_file,
        };
        if log_config.config.is_empty() {
            return daemon_default;
        }
        // Checked when the container was created.
        match crate::config::log_rotation(&log_config.config) {
            Ok((max_size, max_file)) => Rotation { max_size, max_file },
            Err(_) => daemon_default,
        }
    }
}

/// The json-file writer of one container, shared by its stdout and stderr pumps.
pub struct JsonFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
}

impl JsonFile {
    /// Opens (appending) the log at `path`.
    pub fn open(path: &Path, rotation: Rotation) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(JsonFile {
            path: path.to_owned(),
            file,
            size,
            rotation,
        })
    }

    fn write(&mut self, line: &LogLine) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(line).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        if let Some(max) = self.rotation.max_size {
            if self.size > 0 && self.size + bytes.len() as u64 > max {
                self.rotate()?;
            }
        }
        self.file.write_all(&bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// log → log.1 → log.2 ...; the oldest beyond max-file is dropped.
    fn rotate(&mut self) -> std::io::Result<()> {
        let keep = self.rotation.max_file.saturating_sub(1);
        if keep == 0 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for index in (1..keep).rev() {
            let from = rotated(&self.path, index);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, index + 1))?;
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// `PATH.N`.
fn rotated(path: &Path, index: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{index}"));
    PathBuf::from(name)
}

/// Every log file of a container, oldest first.
pub fn log_files(path: &Path, max_file: u32) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..max_file.max(1))
        .rev()
        .map(|index| rotated(path, index))
        .filter(|file| file.exists())
        .collect();
    files.push(path.to_owned());
    files
}

/// Reads a container's output until EOF: a pipe line by line into the json-file log (exec
/// output has none) and the live feed; a terminal chunk by chunk into the feed (a prompt has no newline) and line by
/// line into the log.
pub fn pump(
    output: super::stdio::Output,
    log: Option<&Mutex<JsonFile>>,
    feed: &broadcast::Sender<Output>,
) {
    let stream = match output.kind {
        StreamKind::Stderr => "stderr",
        _ => "stdout",
    };
    let kind = output.kind;
    let write_log = |line: &[u8], time: &str| {
        let entry = LogLine {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: stream.to_owned(),
            time: time.to_owned(),
        };
        if let Some(Ok(mut log)) = log.map(Mutex::lock) {
            if let Err(err) = log.write(&entry) {
                tracing::warn!(error = %err, "cannot write container log");
            }
        }
    };
    let mut reader = BufReader::new(File::from(output.fd));
    if output.raw {
        let mut chunk = vec![0u8; 32 * 1024];
        let mut partial = Vec::new();
        loop {
            let count = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(count) => count,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                // A terminal's master reads EIO once the container side has closed.
                Err(err) if err.raw_os_error() == Some(libc::EIO) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "reading container output failed");
                    break;
                }
            };
            let time = format_rfc3339(std::time::SystemTime::now());
            partial.extend_from_slice(&chunk[..count]);
            while let Some(end) = partial.iter().position(|&byte| byte == b'\n') {
                write_log(&partial[..=end], &time);
                partial.drain(..=end);
            }
            if partial.len() >= 16 * 1024 {
                write_log(&partial, &time);
                partial.clear();
            }
            let _ = feed.send(Output::Line(
                kind,
                Bytes::copy_from_slice(&chunk[..count]),
                time,
            ));
        }
        if !partial.is_empty() {
            write_log(&partial, &format_rfc3339(std::time::SystemTime::now()));
        }
        return;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader).take(16 * 1024).read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {
                let time = format_rfc3339(std::time::SystemTime::now());
                write_log(&line, &time);
                let _ = feed.send(Output::Line(kind, Bytes::copy_from_slice(&line), time));
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                tracing::warn!(error = %err, "reading container output failed");
                break;
            }
        }
    }
}

/// Reads the stored lines, oldest first.
pub fn read_all(path: &Path, max_file: u32) -> Vec<LogLine> {
    let mut lines = Vec::new();
    for file in log_files(path, max_file) {
        let Ok(file) = File::open(&file) else {
            continue;
        };
        for line in BufReader::new(file).lines().map_while(Result::ok) {
            if let Ok(entry) = serde_json::from_str::<LogLine>(&line) {
                lines.push(entry);
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_and_reads_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let rotation = Rotation {
            max_size: Some(200),
            max_file: 3,
        };
        let mut log = JsonFile::open(&path, rotation).unwrap();
        for index in 0..20 {
            log.write(&LogLine {
                log: format!("line {index}\n"),
                stream: "stdout".into(),
                time: "2026-01-01T00:00:00.000000000Z".into(),
            })
            .unwrap();
        }
        assert!(rotated(&path, 1).exists());
        assert!(rotated(&path, 2).exists());
        assert!(!rotated(&path, 3).exists(), "max-file 3 keeps 3 files");
        for file in log_files(&path, 3) {
            assert!(std::fs::metadata(&file).unwrap().len() <= 200);
        }
        let lines = read_all(&path, 3);
        assert_eq!(lines.last().unwrap().log, "line 19\n");
        let numbers: Vec<u32> = lines
            .iter()
            .map(|l| l.log.trim().trim_start_matches("line ").parse().unwrap())
            .collect();
        assert!(numbers.windows(2).all(|w| w[0] + 1 == w[1]), "{numbers:?}");
    }
}
