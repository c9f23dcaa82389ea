//! What a container changed in its writable layer, as `docker diff` lists it: every path in the
//! overlay upper directory, as added (not in any lower layer), changed (in one), or deleted (an
//! overlay whiteout), sorted by path. Mountpoints the runtime made (empty files and directories
//! such as /proc or /etc/hosts, and directories made only to hold them) are left out, as
//! dockerd's init layer keeps them out of its diff.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::snapshot::Rootfs;

/// How a path changed; the numbers are the API's `Kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

/// One changed path, absolute inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

/// The changes in `rootfs`'s writable layer, but for the `mountpoints` (absolute container
/// paths) the runtime made. Only overlay rootfs have such a layer; a full-copy rootfs (the
/// vfs driver) is refused.
pub fn changes(rootfs: &Rootfs, mountpoints: &[String]) -> Result<Vec<Change>> {
    let Rootfs::Overlay {
        lowerdirs,
        upperdir,
        ..
    } = rootfs
    else {
        return Err(Error::Config {
            field: "storage-driver".into(),
            reason: "listing changes needs the overlay2 driver (vfs keeps no separate layer)"
                .into(),
        });
    };
    let mut found = Vec::new();
    walk(upperdir, Path::new(""), lowerdirs, &mut found)?;
    found.sort_by(|a, b| a.path.cmp(&b.path));
    let made_by_runtime = |change: &Change| {
        if change.kind != ChangeKind::Added {
            return false;
        }
        let upper = upperdir.join(change.path.trim_start_matches('/'));
        let empty = fs::symlink_metadata(&upper).is_ok_and(|meta| {
            (meta.is_file() && meta.len() == 0)
                || (meta.is_dir() && fs::read_dir(&upper).is_ok_and(|mut dir| dir.next().is_none()))
        });
        let is_mountpoint = mountpoints.contains(&change.path);
        is_mountpoint && empty
    };
    let mut hidden: std::collections::BTreeSet<String> = found
        .iter()
        .filter(|change| made_by_runtime(change))
        .map(|change| change.path.clone())
        .collect();
    // An added directory whose entries are all hidden was made to hold mountpoints. Children
    // sort after their parents, so going backwards settles them first.
    for change in found.iter().rev() {
        if change.kind != ChangeKind::Added || hidden.contains(&change.path) {
            continue;
        }
        let prefix = format!("{}/", change.path);
        let mut inside = found
            .iter()
            .filter(|other| other.path.starts_with(&prefix))
            .peekable();
        if inside.peek().is_some() && inside.all(|other| hidden.contains(&other.path)) {
            hidden.insert(change.path.clone());
        }
    }
    found.retain(|change| !hidden.contains(&change.path));
    Ok(found)
}

fn walk(upper: &Path, relative: &Path, lowers: &[PathBuf], found: &mut Vec<Change>) -> Result<()> {
    let dir = upper.join(relative);
    for entry in fs::read_dir(&dir).at("list", &dir)? {
        let entry = entry.at("list", &dir)?;
        let relative = relative.join(entry.file_name());
        let meta = entry.metadata().at("stat", entry.path())?;
        let in_lower = lowers
            .iter()
            .any(|lower| fs::symlink_metadata(lower.join(&relative)).is_ok());
        let whiteout = meta.file_type().is_char_device() && meta.rdev() == 0;
        let kind = if whiteout {
            ChangeKind::Deleted
        } else if in_lower {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        found.push(Change {
            path: format!("/{}", relative.display()),
            kind,
        });
        if meta.is_dir() {
            walk(upper, &relative, lowers, found)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_entries_are_added_changed_or_deleted() {
        let root = tempfile::tempdir().unwrap();
        let (lower, upper) = (root.path().join("lower"), root.path().join("upper"));
        fs::create_dir_all(lower.join("etc")).unwrap();
        fs::write(lower.join("etc/motd"), "old").unwrap();
        fs::write(lower.join("gone"), "x").unwrap();
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::write(upper.join("etc/motd"), "new").unwrap();
        fs::create_dir_all(upper.join("new/deep")).unwrap();
        let whiteout = nix::sys::stat::mknod(
            &upper.join("gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        );
        // /proc and /etc/hosts are mountpoints the runtime made; /run only holds one.
        fs::create_dir_all(upper.join("proc")).unwrap();
        fs::create_dir_all(upper.join("run")).unwrap();
        fs::write(upper.join("run/hosts"), "").unwrap();
        fs::write(upper.join("etc/hosts"), "").unwrap();
        let rootfs = Rootfs::Overlay {
            lowerdirs: vec![lower],
            upperdir: upper,
            workdir: root.path().join("work"),
            target: root.path().join("merged"),
        };
        let mountpoints = [
            "/proc".to_owned(),
            "/run/hosts".to_owned(),
            "/etc/hosts".to_owned(),
        ];
        let listed: Vec<(String, ChangeKind)> = changes(&rootfs, &mountpoints)
            .unwrap()
            .into_iter()
            .map(|change| (change.path, change.kind))
            .collect();
        let mut expected = vec![
            ("/etc".to_owned(), ChangeKind::Modified),
            ("/etc/motd".to_owned(), ChangeKind::Modified),
            ("/new".to_owned(), ChangeKind::Added),
            ("/new/deep".to_owned(), ChangeKind::Added),
        ];
        // mknod needs CAP_MKNOD; as root (the suite's user) the whiteout is made.
        if whiteout.is_ok() {
            expected.insert(2, ("/gone".to_owned(), ChangeKind::Deleted));
        }
        assert_eq!(listed, expected);
        assert!(changes(
            &Rootfs::Dir {
                path: root.path().into()
            },
            &[]
        )
        .is_err());
    }
}
