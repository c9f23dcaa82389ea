//! One package's repodata entry, read from an RPM file's headers (createrepo conventions).

use std::path::Path;

use rpm::{DependencyFlags, FileFlags, FileType, IndexSignatureTag, IndexTag};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A dependency as primary.xml lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepEntry {
    pub name: String,
    /// EQ, LT, LE, GT or GE; absent for an unversioned dependency.
    pub flags: Option<String>,
    pub epoch: Option<String>,
    pub ver: Option<String>,
    pub rel: Option<String>,
    /// Needed before install (pre="1"): pre/post scriptlet and rpmlib requires.
    pub pre: bool,
}

/// The kind of a file list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileKind {
    File,
    Dir,
    Ghost,
}

/// A changelog entry for other.xml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangelogRecord {
    pub author: String,
    pub date: u64,
    pub text: String,
}

/// Everything primary, filelists and other say about one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRecord {
    pub pkgid: String,
    pub name: String,
    pub arch: String,
    pub epoch: u32,
    pub version: String,
    pub release: String,
    pub summary: String,
    pub description: String,
    pub packager: String,
    pub url: String,
    pub license: String,
    pub vendor: String,
    pub group: String,
    pub buildhost: String,
    pub sourcerpm: String,
    pub time_file: u64,
    pub time_build: u64,
    pub size_package: u64,
    pub size_installed: u64,
    pub size_archive: u64,
    pub location_href: String,
    pub header_start: u64,
    pub header_end: u64,
    pub provides: Vec<DepEntry>,
    pub requires: Vec<DepEntry>,
    pub conflicts: Vec<DepEntry>,
    pub obsoletes: Vec<DepEntry>,
    pub files: Vec<(String, FileKind)>,
    pub changelogs: Vec<ChangelogRecord>,
}

/// How many changelog entries other.xml keeps per package (createrepo's default).
const CHANGELOG_LIMIT: usize = 10;

impl PackageRecord {
    /// Reads `bytes` (the whole RPM file at `location_href`, modified at `mtime`).
    pub fn from_rpm_bytes(
        bytes: &[u8],
        location_href: &str,
        mtime: u64,
    ) -> Result<Self, rpm::Error> {
        let pkgid = hex::encode(Sha256::digest(bytes));
        let meta = rpm::PackageMetadata::parse(&mut &bytes[..])?;
        let offsets = meta.get_package_segment_offsets();
        let h = &meta.header;
        let text = |tag: IndexTag| -> String {
            h.get_entry_data_as_string(tag)
                .or_else(|_| h.get_entry_data_as_i18n_string(tag))
                .unwrap_or_default()
                .to_string()
        };
        let number = |tag: IndexTag| -> Option<u64> {
            h.get_entry_data_as_u64(tag)
                .ok()
                .or_else(|| h.get_entry_data_as_u32(tag).ok().map(u64::from))
        };
        let sig_number = |tag: IndexSignatureTag| -> Option<u64> {
            meta.signature.get_entry_data_as_u64(tag).ok().or_else(|| {
                meta.signature
                    .get_entry_data_as_u32(tag)
                    .ok()
                    .map(u64::from)
            })
        };

        let mut files = Vec::new();
        for entry in meta.get_file_entries()? {
            let path = entry.path().to_string_lossy().into_owned();
            let kind = if entry.flags().contains(FileFlags::GHOST) {
                FileKind::Ghost
            } else if entry.file_type() == FileType::Dir {
                FileKind::Dir
            } else {
                FileKind::File
            };
            files.push((path, kind));
        }

        let provides: Vec<DepEntry> = dedup(meta.get_provides()?.iter().map(dep_entry).collect());
        let mut requires = Vec::new();
        for dep in meta.get_requires()? {
            if dep.name.starts_with("rpmlib(") {
                continue;
            }
            let entry = dep_entry(&dep);
            // Requires the package satisfies itself are left out, as createrepo does.
            if provides.iter().any(|p| same_dep(p, &entry))
                || (entry.flags.is_none() && files.iter().any(|(f, _)| *f == entry.name))
            {
                continue;
            }
            requires.push(entry);
        }
        let requires = dedup_with_pre(requires);

        let mut changelogs: Vec<ChangelogRecord> = meta
            .get_changelog_entries()
            .unwrap_or_default()
            .into_iter()
            .map(|c| ChangelogRecord {
                author: c.name,
                date: c.timestamp,
                text: c.description,
            })
            .collect();
        changelogs.truncate(CHANGELOG_LIMIT);
        changelogs.reverse();

        Ok(PackageRecord {
            pkgid,
            name: meta.get_name()?.to_string(),
            // A source RPM's ARCH tag is the build host's; repodata lists it as "src".
            arch: if meta.is_source_package() {
                "src".to_string()
            } else {
                meta.get_arch()?.to_string()
            },
            epoch: meta.get_epoch().unwrap_or(0),
            version: meta.get_version()?.to_string(),
            release: meta.get_release()?.to_string(),
            summary: text(IndexTag::RPMTAG_SUMMARY),
            description: text(IndexTag::RPMTAG_DESCRIPTION),
            packager: text(IndexTag::RPMTAG_PACKAGER),
            url: text(IndexTag::RPMTAG_URL),
            license: text(IndexTag::RPMTAG_LICENSE),
            vendor: text(IndexTag::RPMTAG_VENDOR),
            group: text(IndexTag::RPMTAG_GROUP),
            buildhost: text(IndexTag::RPMTAG_BUILDHOST),
            sourcerpm: text(IndexTag::RPMTAG_SOURCERPM),
            time_file: mtime,
            time_build: meta.get_build_time().unwrap_or(0),
            size_package: bytes.len() as u64,
            size_installed: meta.get_installed_size().unwrap_or(0),
            size_archive: number(IndexTag::RPMTAG_LONGARCHIVESIZE)
                .or_else(|| number(IndexTag::RPMTAG_ARCHIVESIZE))
                .or_else(|| sig_number(IndexSignatureTag::RPMSIGTAG_LONGARCHIVESIZE))
                .or_else(|| sig_number(IndexSignatureTag::RPMSIGTAG_PAYLOADSIZE))
                .unwrap_or(0),
            location_href: location_href.to_string(),
            header_start: offsets.header,
            header_end: offsets.payload,
            provides,
            requires,
            conflicts: dedup(meta.get_conflicts()?.iter().map(dep_entry).collect()),
            obsoletes: dedup(meta.get_obsoletes()?.iter().map(dep_entry).collect()),
            files,
            changelogs,
        })
    }

    /// Reads the RPM at `path`, recorded at `location_href`.
    pub fn from_rpm_file(path: &Path, location_href: &str) -> Result<Self, RecordError> {
        let io = |source| RecordError::Io {
            path: path.display().to_string(),
            source,
        };
        let bytes = std::fs::read(path).map_err(io)?;
        let mtime = std::fs::metadata(path)
            .map_err(io)?
            .modified()
            .map_err(io)?;
        let mtime = mtime
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self::from_rpm_bytes(&bytes, location_href, mtime).map_err(|source| RecordError::Rpm {
            path: path.display().to_string(),
            source,
        })
    }

    /// True for files primary.xml lists (createrepo: /etc/*, *bin/*, /usr/lib/sendmail).
    pub fn is_primary_file(path: &str) -> bool {
        path.starts_with("/etc/") || path.contains("bin/") || path == "/usr/lib/sendmail"
    }
}

/// An RPM file that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable RPM: {source}")]
    Rpm {
        path: String,
        #[source]
        source: rpm::Error,
    },
}

fn dep_entry(dep: &rpm::Dependency) -> DepEntry {
    let cmp =
        dep.flags & (DependencyFlags::LESS | DependencyFlags::GREATER | DependencyFlags::EQUAL);
    let flags = if cmp == DependencyFlags::EQUAL {
        Some("EQ")
    } else if cmp == DependencyFlags::LESS {
        Some("LT")
    } else if cmp == DependencyFlags::LESS | DependencyFlags::EQUAL {
        Some("LE")
    } else if cmp == DependencyFlags::GREATER {
        Some("GT")
    } else if cmp == DependencyFlags::GREATER | DependencyFlags::EQUAL {
        Some("GE")
    } else {
        None
    };
    let (epoch, ver, rel) = if flags.is_some() && !dep.version.is_empty() {
        let (epoch, rest) = match dep.version.split_once(':') {
            Some((e, rest)) => (e.to_string(), rest),
            None => ("0".to_string(), dep.version.as_str()),
        };
        let (ver, rel) = match rest.rsplit_once('-') {
            Some((v, r)) => (v.to_string(), Some(r.to_string())),
            None => (rest.to_string(), None),
        };
        (Some(epoch), Some(ver), rel)
    } else {
        (None, None, None)
    };
    let pre = dep.flags.intersects(
        DependencyFlags::SCRIPT_PRE
            | DependencyFlags::SCRIPT_POST
            | DependencyFlags::RPMLIB
            | DependencyFlags::PRETRANS
            | DependencyFlags::POSTTRANS,
    ) || (dep.flags.contains(DependencyFlags::PREREQ)
        && !dep.flags.intersects(
            DependencyFlags::SCRIPT_PREUN
                | DependencyFlags::SCRIPT_POSTUN
                | DependencyFlags::SCRIPT_VERIFY
                | DependencyFlags::INTERP,
        ));
    DepEntry {
        name: dep.name.clone(),
        flags: flags.map(str::to_string),
        epoch,
        ver,
        rel,
        pre,
    }
}

fn same_dep(a: &DepEntry, b: &DepEntry) -> bool {
    a.name == b.name && a.flags == b.flags && a.epoch == b.epoch && a.ver == b.ver && a.rel == b.rel
}

fn dedup(entries: Vec<DepEntry>) -> Vec<DepEntry> {
    let mut out: Vec<DepEntry> = Vec::with_capacity(entries.len());
    for entry in entries {
        if !out.iter().any(|e| same_dep(e, &entry)) {
            out.push(entry);
        }
    }
    out
}

/// One entry per requirement and pre flag, as createrepo writes them: a requirement needed
/// both by %pre/%post and by %preun/%postun is listed once with pre="1" and once without.
fn dedup_with_pre(entries: Vec<DepEntry>) -> Vec<DepEntry> {
    let mut out: Vec<DepEntry> = Vec::with_capacity(entries.len());
    for entry in entries {
        if !out
            .iter()
            .any(|e| same_dep(e, &entry) && e.pre == entry.pre)
        {
            out.push(entry);
        }
    }
    out
}
