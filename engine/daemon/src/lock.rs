//! Single-instance guards: an exclusive flock on data-root (a second berthd refuses to start)
//! and the pid file, written atomically and removed at exit.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Holds the data-root lock for as long as it lives.
pub struct DataRootLock {
    _file: File,
}

impl DataRootLock {
    /// Creates data-root if needed and locks `data-root/berthd.lock`.
    pub fn acquire(data_root: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_root)
            .with_context(|| format!("cannot create data-root {}", data_root.display()))?;
        let path = data_root.join("berthd.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            bail!(
                "data-root {} is in use by another berthd (lock {} is held)",
                data_root.display(),
                path.display()
            );
        }
        Ok(DataRootLock { _file: file })
    }
}

/// The pid file; removed when dropped.
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes our pid to `path` (temp file, fsync, rename), refusing when the file names a
    /// live process.
    pub fn write(path: &Path) -> Result<Self> {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse::<i32>() {
                if pid != std::process::id() as i32 && Path::new(&format!("/proc/{pid}")).exists() {
                    bail!(
                        "pid file found, ensure berthd is not running or delete {} (process with PID {pid} is still running)",
                        path.display()
                    );
                }
            }
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        crate::fsutil::write_atomic(path, format!("{}\n", std::process::id()).as_bytes())?;
        Ok(PidFile {
            path: path.to_owned(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
