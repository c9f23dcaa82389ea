//! Reading a container's json-file log in order, from its oldest stored line on, and
//! following it as it grows: the reader remembers which file (by device and inode) and how far
//! it has read, so it goes on across rotation without skipping or repeating a line, however
//! slowly its client reads (dockerd's `logs -f` reads the file the same way).

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::logs::{log_files, LogLine};

/// Which file: rotation renames files, so they are told apart by device and inode.
type FileId = (u64, u64);

fn file_id(metadata: &std::fs::Metadata) -> FileId {
    (metadata.dev(), metadata.ino())
}

/// The log files as they are now, oldest first, with their ids.
fn current_files(path: &Path, max_file: u32) -> Vec<(PathBuf, FileId)> {
    log_files(path, max_file)
        .into_iter()
        .filter_map(|file| {
            let id = file_id(&std::fs::metadata(&file).ok()?);
            Some((file, id))
        })
        .collect()
}

/// The file being read.
struct Reading {
    reader: BufReader<File>,
    id: FileId,
    /// Bytes consumed, up to the end of the last complete line.
    offset: u64,
    /// The start of a line whose end is not written yet.
    partial: Vec<u8>,
}

/// A position in a container's log.
pub struct LogReader {
    path: PathBuf,
    max_file: u32,
    reading: Option<Reading>,
}

/// How a read of the current file ended.
enum Stop {
    /// `limit` lines were read.
    Full,
    /// The end of what is written.
    End,
}

impl LogReader {
    /// A reader at the oldest stored line of the log at `path` (rotated up to `max_file`).
    pub fn new(path: &Path, max_file: u32) -> LogReader {
        LogReader {
            path: path.to_owned(),
            max_file,
            reading: None,
        }
    }

    /// Up to `limit` lines from where the last read stopped; fewer once it has caught up
    /// with the writer.
    pub fn read(&mut self, limit: usize) -> Vec<LogLine> {
        let mut lines = Vec::new();
        // Each round either fills `lines`, catches up, or moves to a newer file; the bound
        // only guards against a log rotated faster than it can be read.
        for _ in 0..1000 {
            if self.reading.is_none() && !self.open_oldest() {
                return lines;
            }
            let Some(reading) = self.reading.as_mut() else {
                return lines;
            };
            if let Stop::Full = read_lines(reading, &mut lines, limit) {
                return lines;
            }
            let files = current_files(&self.path, self.max_file);
            let position = files.iter().position(|(_, id)| *id == reading.id);
            match position {
                Some(index) if index + 1 == files.len() => {
                    // The newest file; one truncated in place (max-file 1) starts over.
                    let truncated = files[index].0.metadata().is_ok_and(|metadata| {
                        metadata.len() < reading.offset + reading.partial.len() as u64
                    });
                    if truncated {
                        let _ = reading.reader.seek(SeekFrom::Start(0));
                        reading.offset = 0;
                        reading.partial.clear();
                        continue;
                    }
                    return lines;
                }
                Some(index) => {
                    // Rotated: lines written before the rename are still to read.
                    if let Stop::Full = read_lines(reading, &mut lines, limit) {
                        return lines;
                    }
                    // When the next one was rotated again meanwhile, the list is read anew.
                    let (next, id) = &files[index + 1];
                    self.open(next, *id);
                }
                None => {
                    // Dropped by rotation: finish it, then go on from the oldest kept.
                    if let Stop::Full = read_lines(reading, &mut lines, limit) {
                        return lines;
                    }
                    self.reading = None;
                }
            }
        }
        lines
    }

    fn open_oldest(&mut self) -> bool {
        match current_files(&self.path, self.max_file).first() {
            Some((file, id)) => self.open(file, *id),
            None => false,
        }
    }

    /// Starts reading `file` if it still is `id` (it may have been rotated since listed).
    fn open(&mut self, file: &Path, id: FileId) -> bool {
        let Ok(handle) = File::open(file) else {
            return false;
        };
        if handle.metadata().map(|metadata| file_id(&metadata)).ok() != Some(id) {
            return false;
        }
        self.reading = Some(Reading {
            reader: BufReader::new(handle),
            id,
            offset: 0,
            partial: Vec::new(),
        });
        true
    }
}

/// Reads complete lines from `reading` into `lines` until it has `limit` or reaches the end.
fn read_lines(reading: &mut Reading, lines: &mut Vec<LogLine>, limit: usize) -> Stop {
    while lines.len() < limit {
        match reading.reader.read_until(b'\n', &mut reading.partial) {
            Ok(0) => return Stop::End,
            Ok(_) if reading.partial.ends_with(b"\n") => {
                reading.offset += reading.partial.len() as u64;
                if let Ok(line) = serde_json::from_slice::<LogLine>(&reading.partial) {
                    lines.push(line);
                }
                reading.partial.clear();
            }
            // The writer is mid-line: the rest comes with a later read.
            Ok(_) => return Stop::End,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read a container log");
                return Stop::End;
            }
        }
    }
    Stop::Full
}

#[cfg(test)]
mod tests {
    use super::super::logs::{JsonFile, Rotation};
    use super::*;

    fn numbers(lines: &[LogLine]) -> Vec<u32> {
        lines
            .iter()
            .map(|line| line.log.trim().parse().unwrap())
            .collect()
    }

    #[test]
    fn follows_across_rotation_without_skipping_or_repeating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let rotation = Rotation {
            max_size: Some(300),
            max_file: 50,
        };
        let mut log = JsonFile::open(&path, rotation, tokio::sync::watch::Sender::new(0)).unwrap();
        let mut reader = LogReader::new(&path, 50);
        let mut seen = Vec::new();
        let mut next = 0u32;
        for round in 0..40 {
            // Several rotations between reads, and reads of a few lines at a time.
            for _ in 0..(round % 7) * 3 {
                log.write(&LogLine {
                    log: format!("{next}\n"),
                    stream: "stdout".into(),
                    time: "2026-01-01T00:00:00.000000000Z".into(),
                })
                .unwrap();
                next += 1;
            }
            seen.extend(numbers(&reader.read(2 + round % 5)));
        }
        loop {
            let lines = reader.read(10);
            if lines.is_empty() {
                break;
            }
            seen.extend(numbers(&lines));
        }
        assert_eq!(seen, (0..next).collect::<Vec<_>>());
    }
}
