//! Publishing into a channel: each RPM goes to the directory of its kind (binary, debuginfo,
//! source) under el/7, then every channel directory's repodata is rewritten (empty channels
//! get empty, valid, signed repodata) and the other releasevers are linked to el/7.

use std::path::{Path, PathBuf};

use super::{check_channel, package_files, ChannelError, Kind, PackageFile, Tree};
use crate::repodata::{self, RepoOptions, RepoReport};
use crate::signing::SigningKey;

/// How to publish.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublishOptions<'a> {
    /// Keep only the N newest versions of each package in the channel published to.
    pub keep: Option<usize>,
    /// Fail on an unreadable RPM in a channel directory instead of skipping it.
    pub strict: bool,
    /// Signs every repomd.xml; without it the repository is unsigned.
    pub key: Option<&'a SigningKey>,
}

/// What happened to one channel directory.
#[derive(Debug)]
pub struct ChannelReport {
    pub kind: Kind,
    pub channel: &'static str,
    pub dir: PathBuf,
    pub report: RepoReport,
}

/// Adds `rpms` to `channel` and refreshes the repodata of every channel directory.
///
/// Every input is read (headers only) before anything is written, so an unknown channel, a
/// misplaced link or an unreadable input RPM (or, under `strict`, an unreadable RPM already in
/// a channel) leaves the tree as it was.
pub fn publish(
    tree: &Tree,
    channel: &str,
    rpms: &[PathBuf],
    opts: &PublishOptions<'_>,
) -> Result<Vec<ChannelReport>, ChannelError> {
    let channel = check_channel(channel)?;
    tree.check_links()?;
    let files = rpms
        .iter()
        .map(|path| PackageFile::read(path))
        .collect::<Result<Vec<_>, _>>()?;
    if opts.strict {
        // Under --strict an unreadable RPM already in any channel fails the publish: find it
        // now, before the new packages are copied in, so nothing is left half-written.
        for (_, _, dir) in tree.all_files_dirs() {
            for path in package_files(&dir)? {
                PackageFile::read(&path)?;
            }
        }
    }
    for kind in Kind::ALL {
        let of_kind: Vec<PathBuf> = files
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| f.path.clone())
            .collect();
        if !of_kind.is_empty() {
            repodata::add_packages(&tree.files_dir(kind, channel), &of_kind)?;
        }
    }
    refresh(tree, Some(channel), opts)
}

/// Rewrites the repodata of every channel directory (`opts.keep` applies only to
/// `keep_channel`) and links the served releasevers to el/7.
pub fn refresh(
    tree: &Tree,
    keep_channel: Option<&str>,
    opts: &PublishOptions<'_>,
) -> Result<Vec<ChannelReport>, ChannelError> {
    tree.check_links()?;
    let mut reports = Vec::new();
    for (kind, channel, dir) in tree.all_files_dirs() {
        let report = update(&dir, keep_channel == Some(channel), opts)?;
        reports.push(ChannelReport {
            kind,
            channel,
            dir,
            report,
        });
    }
    tree.link_releasevers()?;
    Ok(reports)
}

/// Rewrites one directory's repodata.
pub(super) fn update(
    dir: &Path,
    apply_keep: bool,
    opts: &PublishOptions<'_>,
) -> Result<RepoReport, ChannelError> {
    let options = RepoOptions {
        keep: if apply_keep { opts.keep } else { None },
        strict: opts.strict,
        key: opts.key,
        ..RepoOptions::default()
    };
    Ok(repodata::update_repository(dir, &options)?)
}
