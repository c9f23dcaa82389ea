//! Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the directory;
//! and the same without the fsyncs for files that are rebuilt whenever they are needed.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Replaces `path` with `contents` so that readers see the old or the new file, never half.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    replace(path, contents, true)
}

/// Like [`write_atomic`], without waiting for the disk: for files regenerated at each use
/// (a container's /etc/hosts and friends, written at every start), where a crash may lose the
/// new content but never leaves half of it.
pub fn write_replacing(path: &Path, contents: &[u8]) -> Result<()> {
    replace(path, contents, false)
}

fn replace(path: &Path, contents: &[u8], durable: bool) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    let file_name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let temp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let mut file = std::fs::File::create(&temp)
        .with_context(|| format!("cannot create {}", temp.display()))?;
    file.write_all(contents)
        .and_then(|()| if durable { file.sync_all() } else { Ok(()) })
        .with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    if durable {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}
