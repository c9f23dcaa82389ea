//! Swapping a freshly written repodata directory in with one atomic rename.
//!
//! `renameat2(RENAME_EXCHANGE)` exchanges the new and the old directory in a single step, so
//! a reader sees either the old or the new repodata, never a mix and never none. The old
//! directory is removed afterwards; leftovers of a crash are removed on the next run.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const TEMP_PREFIX: &str = ".repodata.new-";

/// Creates an empty temp directory beside the repodata directory.
pub fn new_temp_dir(repo_dir: &Path) -> std::io::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = repo_dir.join(format!("{TEMP_PREFIX}{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

/// Removes temp directories a crashed run left behind.
pub fn remove_stale_temp_dirs(repo_dir: &Path) {
    let Ok(listing) = std::fs::read_dir(repo_dir) else {
        return;
    };
    for dirent in listing.flatten() {
        if dirent
            .file_name()
            .to_string_lossy()
            .starts_with(TEMP_PREFIX)
        {
            let _ = std::fs::remove_dir_all(dirent.path());
        }
    }
}

/// Puts `new` in place of `current`, atomically, then deletes the old directory.
pub fn swap_in(new: &Path, current: &Path) -> std::io::Result<()> {
    if !current.exists() {
        std::fs::rename(new, current)?;
    } else {
        exchange(new, current)?;
        // `new` now holds the previous repodata.
        std::fs::remove_dir_all(new)?;
    }
    if let Some(parent) = current.parent() {
        crate::fsutil::sync_dir(parent)?;
    }
    Ok(())
}

fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
