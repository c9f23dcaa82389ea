//! Promotion: one version's RPMs (binary, debuginfo and source) are copied byte for byte from
//! one channel to another, with no rebuild and no re-signing, then both channels' repodata is
//! rewritten, each swapped in atomically. Promoting a version that is already there is a
//! no-op that writes nothing.

use std::path::PathBuf;

use super::publish::{update, ChannelReport, PublishOptions};
use super::{check_channel, package_files, ChannelError, Kind, PackageFile, Tree};
use crate::repodata;
use crate::version::RpmVersion;

/// What a promotion did.
#[derive(Debug, Default)]
pub struct Promotion {
    /// Files copied into the target channel.
    pub copied: Vec<PathBuf>,
    /// Files the target channel already had, byte for byte.
    pub already: Vec<PathBuf>,
    /// The rewritten repodata; empty when nothing was copied.
    pub reports: Vec<ChannelReport>,
    /// Unreadable RPMs in the `from` channel, skipped (an error under `strict`).
    pub skipped: Vec<(PathBuf, String)>,
}

/// Whether `version` names this package's version: the RPM Version (`0.1.1`,
/// `1.0.0~rc.1`), Version-Release (`0.1.1-1.el7`) or the Cargo version (`1.0.0-rc.1`).
pub fn version_matches(version: &str, package: &PackageFile) -> bool {
    package.version == version
        || format!("{}-{}", package.version, package.release) == version
        || RpmVersion::release(version).is_ok_and(|v| v.version == package.version)
}

/// Copies the packages of `version` from channel `from` to channel `to`.
pub fn promote(
    tree: &Tree,
    version: &str,
    from: &str,
    to: &str,
    opts: &PublishOptions<'_>,
) -> Result<Promotion, ChannelError> {
    let from = check_channel(from)?;
    let to = check_channel(to)?;
    if from == to {
        return Err(ChannelError::SameChannel(from.to_string()));
    }
    tree.check_links()?;

    let mut promotion = Promotion::default();
    let mut chosen = Vec::new();
    for kind in Kind::ALL {
        for path in package_files(&tree.files_dir(kind, from))? {
            match PackageFile::read(&path) {
                Ok(package) if version_matches(version, &package) => chosen.push(package),
                Ok(_) => {}
                Err(err) if opts.strict => return Err(err),
                Err(err) => promotion.skipped.push((path, err.to_string())),
            }
        }
    }
    if chosen.is_empty() {
        return Err(ChannelError::VersionMissing {
            version: version.to_string(),
            channel: from.to_string(),
        });
    }

    let mut to_copy = Vec::new();
    for package in chosen {
        let file_name = package.path.file_name().unwrap_or_default();
        let dest = tree
            .files_dir(package.kind, to)
            .join("Packages")
            .join(file_name);
        if dest.exists() {
            if same_bytes(&package.path, &dest)? {
                promotion.already.push(dest);
            } else {
                return Err(ChannelError::Conflict {
                    path: dest,
                    channel: to.to_string(),
                });
            }
        } else {
            to_copy.push((package, dest));
        }
    }
    if to_copy.is_empty() {
        return Ok(promotion);
    }
    if opts.key.is_none() {
        for kind in Kind::ALL {
            for channel in [from, to] {
                let signature = tree
                    .files_dir(kind, channel)
                    .join("repodata/repomd.xml.asc");
                if signature.exists() {
                    return Err(ChannelError::KeyNeeded(signature));
                }
            }
        }
    }

    for (package, dest) in to_copy {
        repodata::add_packages(&tree.files_dir(package.kind, to), &[package.path])?;
        promotion.copied.push(dest);
    }
    for channel in [to, from] {
        for kind in Kind::ALL {
            let dir = tree.files_dir(kind, channel);
            let report = update(&dir, false, opts)?;
            promotion.reports.push(ChannelReport {
                kind,
                channel,
                dir,
                report,
            });
        }
    }
    tree.link_releasevers()?;
    Ok(promotion)
}

fn same_bytes(a: &std::path::Path, b: &std::path::Path) -> Result<bool, ChannelError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| ChannelError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    Ok(read(a)? == read(b)?)
}
