//! `docker export`: a container's whole filesystem as a tar stream. A stopped container's
//! rootfs is mounted for the time of the export (holding its operation lock, so it cannot start
//! meanwhile) and unmounted after. Symlinks are archived as links, never followed; sockets are
//! skipped, as docker skips them.

use std::io::Write;
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
        .context("the export thread failed");
    // Unmounted however the archive ends.
    if !running {
        rootfs
            .unmount()
            .context("cannot unmount the root filesystem")?;
    }
    archived?
}

/// Archives everything under `root`, with paths relative to it.
fn archive<W: Write>(root: &Path, writer: W) -> Result<()> {
    let mut builder = tar::Builder::new(writer);
    builder.follow_symlinks(false);
    let mut names: Vec<_> = std::fs::read_dir(root)
        .with_context(|| format!("cannot list {}", root.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.file_name()))
        .collect();
    names.sort();
    for name in names {
        super::archive::append_tree(&mut builder, &root.join(&name), Path::new(&name))?;
    }
    builder.into_inner().context("cannot finish the archive")?;
    Ok(())
}
