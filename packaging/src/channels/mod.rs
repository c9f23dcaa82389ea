//! The repository tree berth.repo advertises: `el/<releasever>/<kind>/<channel>/` for the
//! channels stable, test and nightly and the kinds `<basearch>`, `debug-<basearch>` and
//! `source`.
//!
//! The RPMs follow EL7's rules and install on EL7, EL8 and EL9 alike, so one directory,
//! `el/7`, holds the files and every other served `$releasever` (8, 9 and RHEL 7's `7Server`
//! and `7Workstation`) is a relative symlink to it: one RPM file serves them all. Every
//! channel directory always has repodata, empty when it has no package, so enabling any
//! section of berth.repo works.
//!
//! - [`publish`]: add RPMs to a channel and refresh every channel's repodata.
//! - [`promote`]: copy one version's signed RPMs from one channel to another.
//! - [`sync`]: copy the tree into a served directory without a half-updated moment.

pub mod promote;
pub mod publish;
pub mod sync;

use std::path::{Path, PathBuf};

use crate::repodata::RepoError;

/// The channels a repository publishes (berth-stable, berth-test, berth-nightly).
pub const CHANNELS: [&str; 3] = ["stable", "test", "nightly"];

/// The `$releasever` values served.
pub const RELEASEVERS: [&str; 5] = ["7", "8", "9", "7Server", "7Workstation"];

/// The releasever directory that holds the files; the others link to it.
pub const FILES_RELEASEVER: &str = "7";

/// What a channel directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Binary packages: `el/$releasever/$basearch/<channel>`.
    Binary,
    /// `-debuginfo` packages: `el/$releasever/debug-$basearch/<channel>`.
    Debuginfo,
    /// Source packages: `el/$releasever/source/<channel>`.
    Source,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Binary, Kind::Debuginfo, Kind::Source];

    /// The directory name of this kind under `el/<releasever>/`.
    pub fn dir_name(self, basearch: &str) -> String {
        match self {
            Kind::Binary => basearch.to_string(),
            Kind::Debuginfo => format!("debug-{basearch}"),
            Kind::Source => "source".to_string(),
        }
    }

    /// The kind of a package: a source RPM, a `-debuginfo`/`-debugsource` package, or a binary.
    pub fn of_package(name: &str, is_source: bool) -> Kind {
        if is_source {
            Kind::Source
        } else if name.ends_with("-debuginfo") || name.ends_with("-debugsource") {
            Kind::Debuginfo
        } else {
            Kind::Binary
        }
    }
}

/// A channel, release version or tree that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    #[error("channel {0:?}: not one of stable, test, nightly")]
    UnknownChannel(String),
    #[error("releasever {0:?}: not served; one of 7, 8, 9, 7Server, 7Workstation")]
    UnknownReleasever(String),
    #[error("--from and --to are both {0:?}")]
    SameChannel(String),
    #[error("version {version:?}: no package of that version in the {channel} channel")]
    VersionMissing { version: String, channel: String },
    #[error("{path}: a different file of that name is already in the {channel} channel")]
    Conflict { path: PathBuf, channel: String },
    #[error("{0}: signed repodata would be replaced by unsigned repodata; pass the signing key")]
    KeyNeeded(PathBuf),
    #[error("{0}: in the way of the link to el/7; move it away")]
    AliasInTheWay(PathBuf),
    #[error("{path}: {source}")]
    Rpm {
        path: PathBuf,
        #[source]
        source: rpm::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Checks a channel name.
pub fn check_channel(name: &str) -> Result<&'static str, ChannelError> {
    CHANNELS
        .into_iter()
        .find(|c| *c == name)
        .ok_or_else(|| ChannelError::UnknownChannel(name.to_string()))
}

/// Checks a `$releasever`.
pub fn check_releasever(name: &str) -> Result<&'static str, ChannelError> {
    RELEASEVERS
        .into_iter()
        .find(|r| *r == name)
        .ok_or_else(|| ChannelError::UnknownReleasever(name.to_string()))
}

/// The repository tree rooted at `root` (bundles/repo) for one `$basearch`.
#[derive(Debug, Clone)]
pub struct Tree {
    pub root: PathBuf,
    pub basearch: String,
}

impl Tree {
    pub fn new(root: &Path, basearch: &str) -> Tree {
        Tree {
            root: root.to_path_buf(),
            basearch: basearch.to_string(),
        }
    }

    /// `el/<releasever>/<kind>/<channel>` as a client's baseurl names it.
    pub fn channel_dir(&self, releasever: &str, kind: Kind, channel: &str) -> PathBuf {
        self.root
            .join("el")
            .join(releasever)
            .join(kind.dir_name(&self.basearch))
            .join(channel)
    }

    /// The directory that holds a channel's files (under el/7).
    pub fn files_dir(&self, kind: Kind, channel: &str) -> PathBuf {
        self.channel_dir(FILES_RELEASEVER, kind, channel)
    }

    /// Every (kind, channel) directory that holds files.
    pub fn all_files_dirs(&self) -> Vec<(Kind, &'static str, PathBuf)> {
        CHANNELS
            .into_iter()
            .flat_map(|channel| {
                Kind::ALL
                    .into_iter()
                    .map(move |kind| (kind, channel, self.files_dir(kind, channel)))
            })
            .collect()
    }

    /// Fails when a served releasever is a real directory or file rather than our link.
    pub fn check_links(&self) -> Result<(), ChannelError> {
        for releasever in RELEASEVERS {
            if releasever == FILES_RELEASEVER {
                continue;
            }
            let path = self.root.join("el").join(releasever);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if !meta.file_type().is_symlink() => {
                    return Err(ChannelError::AliasInTheWay(path))
                }
                Ok(_) => {
                    let target = std::fs::read_link(&path).map_err(io_err(&path))?;
                    if target != Path::new(FILES_RELEASEVER) {
                        return Err(ChannelError::AliasInTheWay(path));
                    }
                }
                Err(_) => {}
            }
        }
        Ok(())
    }

    /// Makes `el/<releasever>` a relative symlink to `7` for every other served releasever
    /// (written under a temporary name and renamed into place).
    pub fn link_releasevers(&self) -> Result<(), ChannelError> {
        self.check_links()?;
        let el = self.root.join("el");
        for releasever in RELEASEVERS {
            let path = el.join(releasever);
            if releasever == FILES_RELEASEVER || std::fs::symlink_metadata(&path).is_ok() {
                continue;
            }
            let tmp = el.join(format!(".{releasever}.link-{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(FILES_RELEASEVER, &tmp).map_err(io_err(&tmp))?;
            std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        }
        crate::fsutil::sync_dir(&el).map_err(io_err(&el))
    }
}

/// A package file found in a channel directory.
#[derive(Debug, Clone)]
pub struct PackageFile {
    pub path: PathBuf,
    pub name: String,
    pub version: String,
    pub release: String,
    pub kind: Kind,
}

impl PackageFile {
    /// Reads the package's header (not its payload).
    pub fn read(path: &Path) -> Result<PackageFile, ChannelError> {
        let rpm_err = |source| ChannelError::Rpm {
            path: path.to_path_buf(),
            source,
        };
        let meta = rpm::PackageMetadata::open(path).map_err(rpm_err)?;
        let name = meta.get_name().map_err(rpm_err)?.to_string();
        Ok(PackageFile {
            path: path.to_path_buf(),
            kind: Kind::of_package(&name, meta.is_source_package()),
            version: meta.get_version().map_err(rpm_err)?.to_string(),
            release: meta.get_release().map_err(rpm_err)?.to_string(),
            name,
        })
    }
}

/// The `*.rpm` files in `dir/Packages`, sorted; none when the directory does not exist.
pub fn package_files(dir: &Path) -> Result<Vec<PathBuf>, ChannelError> {
    let packages = dir.join("Packages");
    let listing = match std::fs::read_dir(&packages) {
        Ok(listing) => listing,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io_err(&packages)(err)),
    };
    let mut files = Vec::new();
    for entry in listing {
        let entry = entry.map_err(io_err(&packages))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".rpm") && !name.starts_with('.') {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ChannelError + '_ {
    move |source| ChannelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_route_by_package_name() {
        assert_eq!(Kind::of_package("berth-engine", false), Kind::Binary);
        assert_eq!(Kind::of_package("berth-debuginfo", false), Kind::Debuginfo);
        assert_eq!(Kind::of_package("berth", true), Kind::Source);
        assert_eq!(Kind::Debuginfo.dir_name("x86_64"), "debug-x86_64");
    }

    #[test]
    fn unknown_names_are_refused_with_the_list() {
        assert_eq!(check_channel("test").unwrap(), "test");
        let err = check_channel("beta").unwrap_err().to_string();
        assert_eq!(err, "channel \"beta\": not one of stable, test, nightly");
        assert_eq!(check_releasever("7Server").unwrap(), "7Server");
        assert!(check_releasever("6").is_err());
    }
}
