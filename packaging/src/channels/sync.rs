//! Syncing a repository tree into a directory a web server serves, so that a client never
//! sees a half-updated channel.
//!
//! Order: every channel's new packages are copied first (new files only: a different file of
//! the same name is an error, never overwritten), then each channel's new repodata files
//! (their names carry their checksum, so they sit beside the old ones), then, per channel,
//! repomd.xml.asc and repomd.xml are renamed into place, repomd.xml last. Only after every
//! swap are repodata files no longer referenced removed, and even then the files of the
//! previous [`SyncOptions::retain`] repomd.xml generations stay, so a client that read an
//! older repomd.xml just before a swap still finds what it points to. `--delete` removes
//! packages the source no longer has, after the swaps too.
//!
//! One window remains that no server-side order can close: yum fetches repomd.xml and
//! repomd.xml.asc in two requests, so a swap between the two gives it a mismatched pair.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{ChannelError, Tree, FILES_RELEASEVER, RELEASEVERS};

/// Where old repomd.xml generations are kept (beside Packages/ and repodata/).
pub const HISTORY_DIR: &str = ".publish-history";

/// How to sync.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Remove packages that are not in the source (after the repodata swap).
    pub delete: bool,
    /// How many previous repomd.xml generations keep their repodata files.
    pub retain: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            delete: false,
            retain: 3,
        }
    }
}

/// What a sync did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Package files copied.
    pub copied_packages: Vec<PathBuf>,
    /// Package files already there, byte for byte.
    pub unchanged_packages: usize,
    /// Channel directories whose repomd.xml was swapped.
    pub swapped: Vec<PathBuf>,
    /// Old repodata files removed after the swaps.
    pub removed_repodata: Vec<PathBuf>,
    /// Packages removed by `delete`.
    pub deleted_packages: Vec<PathBuf>,
}

/// Why a sync cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error("{0}: no repository to publish (no el/7 directory; run `cargo xtask repo` first)")]
    SourceMissing(PathBuf),
    #[error("{0}: missing in the source, which every channel has after `cargo xtask repo`; run it again")]
    NoRepodata(PathBuf),
    #[error("{0}: destination is not a writable directory: {1}")]
    DestinationUnusable(PathBuf, std::io::Error),
    #[error("{0}: a different file of that name is already published; packages are never overwritten in place")]
    Changed(PathBuf),
    #[error("{path}: referenced by {repomd} but missing")]
    Unreferenced { path: PathBuf, repomd: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Channel(#[from] ChannelError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SyncError + '_ {
    move |source| SyncError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The `location href`s a repomd.xml names (relative to the channel directory).
pub fn repomd_hrefs(repomd: &str) -> Vec<String> {
    let mut hrefs = Vec::new();
    let mut rest = repomd;
    while let Some(start) = rest.find("<location href=\"") {
        rest = &rest[start + "<location href=\"".len()..];
        if let Some(end) = rest.find('"') {
            hrefs.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    hrefs
}

/// One channel directory to sync: its relative path and the source's repodata files.
struct ChannelPlan {
    relative: PathBuf,
    repomd: Vec<u8>,
    signature: Option<Vec<u8>>,
    hashed: Vec<String>,
}

/// Syncs the tree at `source` into `dest` (see the module documentation for the order).
pub fn sync(source: &Tree, dest_root: &Path, opts: &SyncOptions) -> Result<SyncReport, SyncError> {
    let source_files = source.root.join("el").join(FILES_RELEASEVER);
    if !source_files.is_dir() {
        return Err(SyncError::SourceMissing(source.root.clone()));
    }
    source.check_links()?;
    prepare_destination(dest_root)?;
    let dest = Tree::new(dest_root, &source.basearch);
    dest.check_links()?;

    // Read and check everything first: nothing is written when the source is inconsistent
    // or a published package would have to change.
    let mut plans = Vec::new();
    let mut to_copy = Vec::new();
    let mut report = SyncReport::default();
    for (_, _, dir) in source.all_files_dirs() {
        let relative = dir.strip_prefix(&source.root).unwrap_or(&dir).to_path_buf();
        let repomd_path = dir.join("repodata/repomd.xml");
        let repomd = match std::fs::read(&repomd_path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(SyncError::NoRepodata(repomd_path))
            }
            Err(err) => return Err(io_err(&repomd_path)(err)),
        };
        let signature_path = dir.join("repodata/repomd.xml.asc");
        let signature = match std::fs::read(&signature_path) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(io_err(&signature_path)(err)),
        };
        let mut hashed = Vec::new();
        for href in repomd_hrefs(&String::from_utf8_lossy(&repomd)) {
            let path = dir.join(&href);
            if !path.is_file() {
                return Err(SyncError::Unreferenced {
                    path,
                    repomd: repomd_path,
                });
            }
            hashed.push(href);
        }
        for package in super::package_files(&dir)? {
            let name = package.file_name().unwrap_or_default();
            let target = dest_root.join(&relative).join("Packages").join(name);
            if target.exists() {
                if !same_bytes(&package, &target)? {
                    return Err(SyncError::Changed(target));
                }
                report.unchanged_packages += 1;
            } else {
                to_copy.push((package, target));
            }
        }
        for href in &hashed {
            let target = dest_root.join(&relative).join(href);
            if target.exists() && !same_bytes(&dir.join(href), &target)? {
                return Err(SyncError::Changed(target));
            }
        }
        plans.push(ChannelPlan {
            relative,
            repomd,
            signature,
            hashed,
        });
    }

    // The key first: new signatures must find it.
    sync_root_file(source, dest_root, "gpg")?;

    // 1. Packages.
    for (from, to) in &to_copy {
        copy_new(from, to)?;
        report.copied_packages.push(to.clone());
    }
    // 2. Repodata files beside the old ones.
    for plan in &plans {
        let dir = dest_root.join(&plan.relative);
        for href in &plan.hashed {
            let target = dir.join(href);
            if !target.exists() {
                copy_new(&source.root.join(&plan.relative).join(href), &target)?;
            }
        }
    }
    // 3. repomd.xml (and its signature) swapped in, per channel.
    for plan in &plans {
        let dir = dest_root.join(&plan.relative);
        if swap_repomd(&dir, plan)? {
            report.swapped.push(dir);
        }
    }
    link_releasevers(&dest)?;
    sync_root_file(source, dest_root, "berth.repo")?;

    // 4. Only now: what no current or retained repomd.xml names, and with --delete the
    //    packages the source dropped.
    for plan in &plans {
        let dir = dest_root.join(&plan.relative);
        report
            .removed_repodata
            .extend(remove_old_repodata(&dir, opts.retain)?);
        if opts.delete {
            let keep: BTreeSet<_> = super::package_files(&source.root.join(&plan.relative))?
                .into_iter()
                .filter_map(|p| p.file_name().map(|n| n.to_owned()))
                .collect();
            for package in super::package_files(&dir)? {
                if !package.file_name().is_some_and(|n| keep.contains(n)) {
                    std::fs::remove_file(&package).map_err(io_err(&package))?;
                    report.deleted_packages.push(package);
                }
            }
        }
    }
    Ok(report)
}

fn prepare_destination(dest: &Path) -> Result<(), SyncError> {
    let unusable = |err| SyncError::DestinationUnusable(dest.to_path_buf(), err);
    std::fs::create_dir_all(dest).map_err(unusable)?;
    let probe = dest.join(format!(".publish-probe-{}", std::process::id()));
    std::fs::File::create(&probe).map_err(unusable)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn same_bytes(a: &Path, b: &Path) -> Result<bool, SyncError> {
    let meta_a = std::fs::metadata(a).map_err(io_err(a))?;
    let meta_b = std::fs::metadata(b).map_err(io_err(b))?;
    if meta_a.len() != meta_b.len() {
        return Ok(false);
    }
    Ok(std::fs::read(a).map_err(io_err(a))? == std::fs::read(b).map_err(io_err(b))?)
}

fn temp_beside(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.publish-{}", std::process::id()))
}

fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf, SyncError> {
    let tmp = temp_beside(path);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(err) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(&tmp)(err));
    }
    Ok(tmp)
}

/// Copies `from` to the new name `to` through a temp file; a hard link puts it in place, so
/// an existing file is never replaced.
fn copy_new(from: &Path, to: &Path) -> Result<(), SyncError> {
    let parent = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let bytes = std::fs::read(from).map_err(io_err(from))?;
    let tmp = write_temp(to, &bytes)?;
    let linked = std::fs::hard_link(&tmp, to);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            if same_bytes(from, to)? {
                Ok(())
            } else {
                Err(SyncError::Changed(to.to_path_buf()))
            }
        }
        Err(err) => Err(io_err(to)(err)),
    }
}

/// Renames repomd.xml.asc, then repomd.xml into place; the old repomd.xml is kept in the
/// history. Returns false when the published one is already the same.
fn swap_repomd(dir: &Path, plan: &ChannelPlan) -> Result<bool, SyncError> {
    let repodata = dir.join("repodata");
    let current = repodata.join("repomd.xml");
    let signature = repodata.join("repomd.xml.asc");
    let current_bytes = std::fs::read(&current).ok();
    let current_signature = std::fs::read(&signature).ok();
    std::fs::create_dir_all(&repodata).map_err(io_err(&repodata))?;
    if current_bytes.as_deref() == Some(plan.repomd.as_slice())
        && current_signature == plan.signature
    {
        return Ok(false);
    }
    if current_bytes.is_some() {
        let history = dir.join(HISTORY_DIR);
        std::fs::create_dir_all(&history).map_err(io_err(&history))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let saved = history.join(format!("{nanos:020}-repomd.xml"));
        std::fs::hard_link(&current, &saved).map_err(io_err(&saved))?;
    }
    let new_repomd = write_temp(&current, &plan.repomd)?;
    match &plan.signature {
        Some(bytes) => {
            let new_signature = write_temp(&signature, bytes)?;
            std::fs::rename(&new_signature, &signature).map_err(io_err(&signature))?;
        }
        None => {
            let _ = std::fs::remove_file(&signature);
        }
    }
    std::fs::rename(&new_repomd, &current).map_err(io_err(&current))?;
    crate::fsutil::sync_dir(&repodata).map_err(io_err(&repodata))?;
    Ok(true)
}

/// Removes the repodata files that neither the current repomd.xml nor one of the `retain`
/// newest saved generations names; older generations are forgotten.
fn remove_old_repodata(dir: &Path, retain: usize) -> Result<Vec<PathBuf>, SyncError> {
    let repodata = dir.join("repodata");
    let history = dir.join(HISTORY_DIR);
    let mut generations: Vec<PathBuf> = match std::fs::read_dir(&history) {
        Ok(listing) => listing.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    };
    generations.sort();
    let forget = generations.len().saturating_sub(retain);
    for old in generations.drain(..forget) {
        std::fs::remove_file(&old).map_err(io_err(&old))?;
    }
    let mut referenced = BTreeSet::new();
    for repomd in generations
        .iter()
        .cloned()
        .chain([repodata.join("repomd.xml")])
    {
        let text = std::fs::read_to_string(&repomd).map_err(io_err(&repomd))?;
        for href in repomd_hrefs(&text) {
            if let Some(name) = Path::new(&href).file_name() {
                referenced.insert(name.to_owned());
            }
        }
    }
    let mut removed = Vec::new();
    let listing = std::fs::read_dir(&repodata).map_err(io_err(&repodata))?;
    for entry in listing {
        let entry = entry.map_err(io_err(&repodata))?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if text.starts_with("repomd.xml") || text.starts_with('.') || referenced.contains(&name) {
            continue;
        }
        std::fs::remove_file(entry.path()).map_err(io_err(&entry.path()))?;
        removed.push(entry.path());
    }
    Ok(removed)
}

/// `el/<releasever>` links to el/7 in the destination, as in the source.
fn link_releasevers(dest: &Tree) -> Result<(), SyncError> {
    let el = dest.root.join("el");
    if !el.join(FILES_RELEASEVER).is_dir() {
        return Ok(());
    }
    debug_assert!(RELEASEVERS.contains(&FILES_RELEASEVER));
    Ok(dest.link_releasevers()?)
}

/// Copies a root file (the key, berth.repo) by temp file + rename when the source has it.
fn sync_root_file(source: &Tree, dest_root: &Path, name: &str) -> Result<(), SyncError> {
    let from = source.root.join(name);
    let bytes = match std::fs::read(&from) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(io_err(&from)(err)),
    };
    let to = dest_root.join(name);
    if std::fs::read(&to).is_ok_and(|current| current == bytes) {
        return Ok(());
    }
    let tmp = write_temp(&to, &bytes)?;
    std::fs::rename(&tmp, &to).map_err(io_err(&to))
}

/// Checks that a served channel directory is whole: every file its repomd.xml names is there
/// with the checksum repomd.xml gives. Returns the first problem, naming the file.
pub fn check_served(dir: &Path) -> Result<(), String> {
    use sha2::{Digest, Sha256};
    let repomd_path = dir.join("repodata/repomd.xml");
    let repomd = std::fs::read_to_string(&repomd_path)
        .map_err(|e| format!("{}: {e}", repomd_path.display()))?;
    for block in repomd.split("<data ").skip(1) {
        let href = repomd_hrefs(block)
            .into_iter()
            .next()
            .ok_or_else(|| format!("{}: a <data> with no location", repomd_path.display()))?;
        let checksum = block
            .split("<checksum type=\"sha256\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .ok_or_else(|| format!("{}: {href} has no sha256", repomd_path.display()))?;
        let path = dir.join(&href);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if hex::encode(Sha256::digest(&bytes)) != checksum {
            return Err(format!(
                "{}: checksum differs from repomd.xml",
                path.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_are_read_from_repomd() {
        let repomd = "<data type=\"primary\">\n<location href=\"repodata/ab-primary.xml.gz\"/>\n</data>\n<data type=\"other\"><location href=\"repodata/cd-other.xml.gz\"/></data>";
        assert_eq!(
            repomd_hrefs(repomd),
            ["repodata/ab-primary.xml.gz", "repodata/cd-other.xml.gz"]
        );
    }
}
