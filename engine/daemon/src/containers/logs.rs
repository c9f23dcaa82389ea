//! Container output: the pump that reads a process's pipes or terminal into the json-file
//! log (`{"log","stream","time"}` lines, rotated at max-size keeping max-file files) and to
//! its attached clients.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_api::container::LogConfig;
use berth_api::stream::StreamKind;
use berth_api::time::format_rfc3339;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::fanout::{Chunk, Fanout};
use crate::config::Config;

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
    /// Bumped after every line written, to wake `logs -f`.
    written: watch::Sender<u64>,
}

impl JsonFile {
    /// Opens (appending) the log at `path`; `written` is bumped after every line.
    pub fn open(
        path: &Path,
        rotation: Rotation,
        written: watch::Sender<u64>,
    ) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(JsonFile {
            path: path.to_owned(),
            file,
            size,
            rotation,
            written,
        })
    }

    pub(super) fn write(&mut self, line: &LogLine) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(line).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        if let Some(max) = self.rotation.max_size {
            if self.size > 0 && self.size + bytes.len() as u64 > max {
                self.rotate()?;
            }
        }
        self.file.write_all(&bytes)?;
        self.size += bytes.len() as u64;
        self.written.send_modify(|lines| *lines += 1);
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

/// The longest log line: longer ones are split, as dockerd splits them at 16 KiB.
const MAX_LOG_LINE: usize = 16 * 1024;

/// Reads a container's (or an exec's) output until EOF: each read goes whole to the
/// attached clients through `fanout` (waiting while a slow one catches up), and line by line
/// into the json-file log (exec output has none).
pub fn pump(output: super::stdio::Output, log: Option<&Mutex<JsonFile>>, fanout: &Fanout) {
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
    let mut file = File::from(output.fd);
    let mut chunk = vec![0u8; 32 * 1024];
    let mut partial = Vec::new();
    loop {
        let count = match file.read(&mut chunk) {
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
        if log.is_some() {
            let time = format_rfc3339(std::time::SystemTime::now());
            partial.extend_from_slice(&chunk[..count]);
            let mut start = 0;
            while let Some(end) = partial[start..].iter().position(|&byte| byte == b'\n') {
                let end = start + end + 1;
                for piece in partial[start..end].chunks(MAX_LOG_LINE) {
                    write_log(piece, &time);
                }
                start = end;
            }
            while partial.len() - start >= MAX_LOG_LINE {
                write_log(&partial[start..start + MAX_LOG_LINE], &time);
                start += MAX_LOG_LINE;
            }
            partial.drain(..start);
        }
        fanout.send(Chunk {
            kind,
            bytes: Bytes::copy_from_slice(&chunk[..count]),
        });
    }
    if !partial.is_empty() {
        write_log(&partial, &format_rfc3339(std::time::SystemTime::now()));
    }
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
        let mut log = JsonFile::open(&path, rotation, watch::Sender::new(0)).unwrap();
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
        let lines = super::super::log_reader::LogReader::new(&path, 3).read(usize::MAX);
        assert_eq!(lines.last().unwrap().log, "line 19\n");
        let numbers: Vec<u32> = lines
            .iter()
            .map(|l| l.log.trim().trim_start_matches("line ").parse().unwrap())
            .collect();
        assert!(numbers.windows(2).all(|w| w[0] + 1 == w[1]), "{numbers:?}");
    }
}
