//! `docker export`: a container's whole filesystem as a tar stream. A stopped container's
//! rootfs is mounted for the time of the export (holding its operation lock, so it cannot start
//! meanwhile) and unmounted after. Symlinks are archived as links, never followed; sockets are
//! skipped, as docker skips them.

use std::io::Write;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::Entry;

/// Writes `entry`'s filesystem as a tar to `writer`.
pub async fn export<W: Write + Send + 'static>(entry: Arc<Entry>, writer: W) -> Result<()> {
    let guard = entry.operation.lock().await;
    let record = entry.record();
    let rootfs = record.rootfs.to_rootfs();
    let running = record.state.running();
    if running {
        // A running container's rootfs stays mounted; stop and start need not wait for us.
        drop(guard);
    } else {
        rootfs.mount().context("cannot mount the root filesystem")?;
    }
    let root = rootfs.path().to_path_buf();
    let archived = tokio::task::spawn_blocking(move || archive(&root, writer))
        .await
        .context("the export thread failed")?;
    if !running {
        rootfs
            .unmount()
            .context("cannot unmount the root filesystem")?;
    }
    archived
}

/// Archives everything under `root`, with paths relative to it.
fn archive<W: Write>(root: &Path, writer: W) -> Result<()> {
    let mut builder = tar::Builder::new(writer);
    builder.follow_symlinks(false);
    add_children(&mut builder, root, Path::new(""))?;
    builder.into_inner().context("cannot finish the archive")?;
    Ok(())
}

fn add_children<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    relative: &Path,
) -> Result<()> {
    let dir = root.join(relative);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    names.sort();
    for name in names {
        let relative = relative.join(name);
        let path = root.join(&relative);
        let kind = std::fs::symlink_metadata(&path)
            .with_context(|| format!("cannot stat {}", path.display()))?
            .file_type();
        if kind.is_socket() {
            continue;
        }
        builder
            .append_path_with_name(&path, &relative)
            .with_context(|| format!("cannot archive {}", path.display()))?;
        if kind.is_dir() {
            add_children(builder, root, &relative)?;
        }
    }
    Ok(())
}
