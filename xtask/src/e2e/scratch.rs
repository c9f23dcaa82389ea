//! Uniquely named scratch directories (removed on drop) and child processes that die with us.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

/// A directory with a name no parallel run can share, removed with everything in it on drop.
pub struct ScratchDir {
    path: PathBuf,
    keep: bool,
}

impl ScratchDir {
    /// Creates `<parent>/<prefix>-<pid>-<nanos>`.
    pub fn new(parent: &Path, prefix: &str) -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = parent.join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating scratch dir {}", path.display()))?;
        Ok(ScratchDir { path, keep: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the directory in place on drop (for `--keep`).
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if has_mounts_under(&self.path) {
            eprintln!(
                "e2e: leaving {} in place: something is still mounted under it",
                self.path.display()
            );
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// True if a mount point lies at or below `dir`: removing it would reach into that mount.
fn has_mounts_under(dir: &Path) -> bool {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return true;
    };
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|mount_point| Path::new(mount_point).starts_with(dir))
}

/// Spawns `command` so that the kernel sends it SIGTERM if the harness dies first: a crashed
/// run never leaves a registry or a Docker daemon behind.
/// With `tied == false` (for `--keep`) the child outlives the harness.
pub fn spawn_tied_to_us(command: &mut Command, tied: bool) -> Result<Child> {
    if !tied {
        return command
            .spawn()
            .with_context(|| format!("starting {:?}", command.get_program()));
    }
    // SAFETY: the closure only calls prctl, which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
        .spawn()
        .with_context(|| format!("starting {:?}", command.get_program()))
}

/// Sends SIGTERM to a child we started, waits up to `grace`, then SIGKILLs it.
pub fn stop_child(child: &mut Child, grace: std::time::Duration) {
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill on the pid of our own, not yet reaped, child.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to pick a port")?;
    Ok(listener.local_addr()?.port())
}
