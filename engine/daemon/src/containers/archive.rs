//! The work behind `docker cp`: paths resolved inside a container's view (its rootfs with its
//! binds, volumes and /etc files over it; symlinks followed within that view, never out of
//! it), a path's stat as docker reports it, and reads and writes done while the container is
//! frozen, so it cannot swap a path for a symlink under us (CVE-2018-15664). A stopped
//! container's rootfs is mounted for the time of the copy.

use std::collections::VecDeque;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::Serialize;

use super::etc_files::EtcPaths;
use super::{spec, Entry};
use crate::daemon::Daemon;

/// A copy that cannot be done, as the API reports it.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("Could not find the file {0} in container")]
    NotFound(String),
    #[error("extraction point is not a directory: {0}")]
    NotADirectory(String),
}

/// Symlinks followed in one resolution before giving up, as Linux's limit.
const MAX_LINKS: usize = 40;

/// A container's filesystem as its processes see it, from the host.
pub struct View {
    root: PathBuf,
    /// Mounts over the rootfs: container path (no trailing slash) and host path, longest first.
    mounts: Vec<(String, PathBuf)>,
}

impl View {
    /// The view of a container whose rootfs is at `root`.
    pub fn new(root: PathBuf, mut mounts: Vec<(String, PathBuf)>) -> Self {
        mounts.sort_by_key(|(destination, _)| std::cmp::Reverse(destination.len()));
        Self { root, mounts }
    }

    /// Where the container path `path` (absolute, with no `..` or symlink left in it) is.
    pub fn host_path(&self, path: &str) -> PathBuf {
        for (destination, source) in &self.mounts {
            if path == destination {
                return source.clone();
            }
            if let Some(rest) = path
                .strip_prefix(destination.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
            {
                return source.join(rest);
            }
        }
        self.root.join(path.trim_start_matches('/'))
    }

    /// Resolves `path` in the container: `..` stops at its root and symlinks are followed
    /// inside the view (an absolute target starts again from its root). The last component is
    /// followed only with `follow_last`. What does not exist is left as named.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Result<String> {
        let mut resolved: Vec<String> = Vec::new();
        let mut pending: VecDeque<String> = components(path).collect();
        let mut links = 0;
        while let Some(part) = pending.pop_front() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => resolved.push(part),
            }
            if pending.is_empty() && !follow_last {
                break;
            }
            let host = self.host_path(&join(&resolved));
            let Ok(meta) = std::fs::symlink_metadata(&host) else {
                continue;
            };
            if !meta.file_type().is_symlink() {
                continue;
            }
            links += 1;
            anyhow::ensure!(
                links <= MAX_LINKS,
                "{path}: too many levels of symbolic links"
            );
            let target = std::fs::read_link(&host)
                .with_context(|| format!("cannot read the link {}", join(&resolved)))?;
            let target = target.to_string_lossy().into_owned();
            resolved.pop();
            if target.starts_with('/') {
                resolved.clear();
            }
            for part in components(&target).collect::<Vec<_>>().into_iter().rev() {
                pending.push_front(part);
            }
        }
        Ok(join(&resolved))
    }
}

fn components(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/').map(str::to_owned)
}

fn join(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

/// `X-Docker-Container-Path-Stat`: a path's name, size, Go `os.FileMode`, mtime and, for a
/// symlink, its target resolved in the container.
#[derive(Debug, Clone, Serialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

impl PathStat {
    /// The stat of container path `path` (resolved but for its last component).
    pub fn of(view: &View, path: &str) -> Result<Self> {
        let host = view.host_path(path);
        let meta =
            std::fs::symlink_metadata(&host).map_err(|_| CopyError::NotFound(path.to_owned()))?;
        let kind = meta.file_type();
        let mut mode = meta.permissions().mode() & 0o777;
        let special = meta.permissions().mode();
        for (bit, go_bit) in [(0o4000, 1 << 23), (0o2000, 1 << 22), (0o1000, 1 << 20)] {
            if special & bit != 0 {
                mode |= go_bit;
            }
        }
        mode |= if kind.is_dir() {
            1 << 31
        } else if kind.is_symlink() {
            1 << 27
        } else if kind.is_fifo() {
            1 << 25
        } else if kind.is_socket() {
            1 << 24
        } else if kind.is_char_device() {
            (1 << 26) | (1 << 21)
        } else if kind.is_block_device() {
            1 << 26
        } else {
            0
        };
        let link_target = if kind.is_symlink() {
            view.resolve(path, true)?
        } else {
            String::new()
        };
        let mtime =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(meta.mtime().max(0) as u64);
        Ok(Self {
            name: path.rsplit('/').next().unwrap_or_default().to_owned(),
            size: meta.len() as i64,
            mode,
            mtime: berth_api::time::format_rfc3339(mtime),
            link_target,
        })
    }

    #[cfg(test)]
    fn is_dir(&self) -> bool {
        self.mode & (1 << 31) != 0
    }
}

/// Runs `work` on the container's view with its files held still: a running container is
/// frozen (unless the user paused it already), a stopped one's rootfs is mounted; both are
/// undone after, and the container can neither start nor stop meanwhile.
pub async fn with_files<T: Send + 'static>(
    daemon: &Arc<Daemon>,
    entry: &Arc<Entry>,
    work: impl FnOnce(&View) -> Result<T> + Send + 'static,
) -> Result<T> {
    let _guard = entry.operation.lock().await;
    let record = entry.record();
    let rootfs = record.rootfs.to_rootfs();
    let running = record.state.running();
    let freeze = running && !record.state.paused;
    if !running {
        rootfs.mount().context("cannot mount the root filesystem")?;
    }
    let daemon_ref = Arc::clone(daemon);
    let id = entry.id.clone();
    let mut mounts: Vec<(String, PathBuf)> = record
        .host_config
        .binds
        .iter()
        .filter_map(|bind| spec::parse_bind(bind).ok())
        .map(|bind| {
            let source = match bind.volume() {
                Some(name) => record.volumes.get(name).cloned().unwrap_or_default(),
                None => bind.source.clone(),
            };
            (
                bind.destination.trim_end_matches('/').to_owned(),
                PathBuf::from(source),
            )
        })
        .collect();
    let etc = EtcPaths::in_dir(&daemon.containers.dir(&id));
    mounts.push(("/etc/hostname".to_owned(), etc.hostname));
    mounts.push(("/etc/hosts".to_owned(), etc.hosts));
    mounts.push(("/etc/resolv.conf".to_owned(), etc.resolv_conf));
    let view = View::new(rootfs.path().to_path_buf(), mounts);
    let done = tokio::task::spawn_blocking(move || {
        let runtime = &daemon_ref.containers.runtime;
        if freeze {
            runtime.pause(&id).context("cannot freeze the container")?;
        }
        // Thawed however the work ends, a panic included.
        let _thaw = freeze.then(|| Thaw { runtime, id: &id });
        work(&view)
    })
    .await
    .context("the copy thread failed");
    if !running {
        if let Err(err) = rootfs.unmount() {
            tracing::warn!(container = %entry.id, error = %err, "cannot unmount the rootfs after a copy");
        }
    }
    done?
}

/// Thaws a container frozen for a copy when dropped.
struct Thaw<'a> {
    runtime: &'a berth_runtime::Runtime,
    id: &'a str,
}

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.runtime.resume(self.id) {
            tracing::error!(container = %self.id, error = %err, "cannot thaw the container after a copy");
        }
    }
}

/// Archives container path `path` (resolved) under the name `name` into `writer`: a
/// directory with all it holds, links as links, sockets skipped.
pub fn archive<W: std::io::Write>(view: &View, path: &str, name: &str, writer: W) -> Result<()> {
    let host = view.host_path(path);
    let mut builder = tar::Builder::new(writer);
    builder.follow_symlinks(false);
    append_tree(&mut builder, &host, Path::new(name))?;
    builder.into_inner().context("cannot finish the archive")?;
    Ok(())
}

/// Appends `host` as `name`, and all a directory holds below it (sorted; links as links,
/// sockets skipped).
pub fn append_tree<W: std::io::Write>(
    builder: &mut tar::Builder<W>,
    host: &Path,
    name: &Path,
) -> Result<()> {
    let kind = std::fs::symlink_metadata(host)
        .with_context(|| format!("cannot stat {}", host.display()))?
        .file_type();
    if kind.is_socket() {
        return Ok(());
    }
    builder
        .append_path_with_name(host, name)
        .with_context(|| format!("cannot archive {}", host.display()))?;
    if kind.is_dir() {
        let mut children: Vec<_> = std::fs::read_dir(host)
            .with_context(|| format!("cannot list {}", host.display()))?
            .filter_map(|child| child.ok().map(|child| child.file_name()))
            .collect();
        children.sort();
        for child in children {
            append_tree(builder, &host.join(&child), &name.join(&child))?;
        }
    }
    Ok(())
}

/// Extracts `archive` into container path `path` (resolved, symlinks followed), which must be
/// a directory. Without `keep_owners` everything belongs to the container's root, as with
/// `docker cp` without `-a`.
pub fn extract<R: std::io::Read>(
    view: &View,
    path: &str,
    archive: R,
    keep_owners: bool,
) -> Result<()> {
    let resolved = view.resolve(path, true)?;
    let host = view.host_path(&resolved);
    match std::fs::symlink_metadata(&host) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(CopyError::NotADirectory(path.to_owned()).into()),
        Err(_) => return Err(CopyError::NotFound(path.to_owned()).into()),
    }
    let owner = (!keep_owners).then_some((0, 0));
    berth_image::extract::extract_archive(archive, &host, owner)
        .with_context(|| format!("cannot extract the archive into {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_stays_inside_the_view() {
        let root = tempfile::tempdir().unwrap();
        let rootfs = root.path().join("rootfs");
        let volume = root.path().join("volume");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::create_dir_all(rootfs.join("data")).unwrap();
        std::fs::create_dir_all(volume.join("sub")).unwrap();
        std::os::unix::fs::symlink("/", rootfs.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../../../..", rootfs.join("etc/up")).unwrap();
        std::os::unix::fs::symlink("/etc", volume.join("sub/etc")).unwrap();
        std::os::unix::fs::symlink("loop", rootfs.join("loop")).unwrap();
        let view = View::new(rootfs.clone(), vec![("/data".to_owned(), volume.clone())]);
        assert_eq!(
            view.resolve("/escape/etc/passwd", true).unwrap(),
            "/etc/passwd"
        );
        assert_eq!(
            view.resolve("/etc/up/etc/passwd", true).unwrap(),
            "/etc/passwd"
        );
        assert_eq!(view.resolve("/../../etc", true).unwrap(), "/etc");
        assert_eq!(view.resolve("/data/sub/etc/x", true).unwrap(), "/etc/x");
        assert_eq!(view.resolve("/escape", false).unwrap(), "/escape");
        assert_eq!(view.resolve("/escape", true).unwrap(), "/");
        assert!(view.resolve("/loop", true).is_err());
        assert_eq!(view.host_path("/etc/passwd"), rootfs.join("etc/passwd"));
        assert_eq!(view.host_path("/data/sub"), volume.join("sub"));
        assert_eq!(view.host_path("/data"), volume);
        assert_eq!(view.host_path("/database"), rootfs.join("database"));
    }

    #[test]
    fn stats_use_go_file_modes() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("dir")).unwrap();
        std::os::unix::fs::symlink("dir", root.path().join("link")).unwrap();
        std::fs::write(root.path().join("file"), "12345").unwrap();
        let view = View::new(root.path().to_path_buf(), Vec::new());
        let dir = PathStat::of(&view, "/dir").unwrap();
        assert!(dir.is_dir());
        assert_eq!(dir.name, "dir");
        let link = PathStat::of(&view, "/link").unwrap();
        assert_eq!(link.mode & (1 << 27), 1 << 27);
        assert_eq!(link.link_target, "/dir");
        let file = PathStat::of(&view, "/file").unwrap();
        assert_eq!((file.size, file.is_dir()), (5, false));
        assert!(PathStat::of(&view, "/missing").is_err());
    }
}
