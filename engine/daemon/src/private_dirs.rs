//! Who may enter berthd's directories: the data-root is 0710 root:root and the exec-root and
//! the data-root's stores 0700, as dockerd does since 20.10.9 (CVE-2021-41091). Image layers and
//! container layers hold setuid-root binaries and device nodes; a host user who could walk to
//! them would run those as root. Directories left wider by older versions are fixed at start.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

/// The data-root: root's group may pass through (0710), nobody else.
pub const DATA_ROOT_MODE: u32 = 0o710;
/// The exec-root and the stores under the data-root: root only.
pub const PRIVATE_MODE: u32 = 0o700;
/// The data-root's directories that hold container and image data.
const STORES: [&str; 3] = ["image", "containers", "volumes"];

/// Creates (or fixes) the data-root, its stores and the exec-root with root-only modes.
pub fn secure(data_root: &Path, exec_root: &Path) -> Result<()> {
    private_dir(data_root, DATA_ROOT_MODE, "data-root")?;
    for store in STORES {
        private_dir(&data_root.join(store), PRIVATE_MODE, "data-root")?;
    }
    private_dir(exec_root, PRIVATE_MODE, "exec-root")
}

/// Creates `path` with `mode` (its parents as usual), owned by root:root; an existing
/// directory gets the owner and mode set again.
fn private_dir(path: &Path, mode: u32, what: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {what} {}", parent.display()))?;
    }
    match std::fs::DirBuilder::new().mode(mode).create(path) {
        Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(err).with_context(|| format!("cannot create {what} {}", path.display()))
        }
        _ => {}
    }
    std::os::unix::fs::chown(path, Some(0), Some(0))
        .with_context(|| format!("cannot chown {what} {} to root:root", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {what} {} to {mode:o}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn world_traversable_roots_are_closed_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let exec = dir.path().join("exec");
        for path in [&data, &data.join("image"), &data.join("containers"), &exec] {
            std::fs::create_dir_all(path).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        secure(&data, &exec).unwrap();
        assert_eq!(mode(&data), 0o710);
        for store in STORES {
            assert_eq!(mode(&data.join(store)), 0o700, "{store}");
        }
        assert_eq!(mode(&exec), 0o700);
    }
}
