//! A yum repository directory: Packages/*.rpm plus repodata/ that yum 3.4.3 (EL7) reads.
//!
//! [`update_repository`] reuses the entries of unchanged packages (same file name, size and
//! mtime, from the cache kept beside the metadata), reads only new or changed ones (in
//! parallel), optionally prunes to the N newest versions per name and arch, writes the new
//! repodata into a temporary directory with repomd.xml last, signs repomd.xml, and swaps the
//! directory in with one atomic `renameat2(RENAME_EXCHANGE)`.

pub mod record;
mod swap;
pub mod xml;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::signing::{SigningError, SigningKey};
use record::{PackageRecord, RecordError};

/// Name of the per-repository cache of package entries, inside repodata/.
pub const CACHE_FILE: &str = ".berth-cache.json";

/// A repository that could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepoError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} (refused under --strict)")]
    Corrupt(RecordError),
    #[error(transparent)]
    Signing(#[from] SigningError),
}

/// How to update a repository.
#[derive(Debug, Clone, Default)]
pub struct RepoOptions<'a> {
    /// Keep only the N newest versions of each (name, arch); older RPM files are deleted.
    pub keep: Option<usize>,
    /// Fail on an unreadable RPM instead of skipping it with a warning.
    pub strict: bool,
    /// Sign repomd.xml (repomd.xml.asc); publish the key with [`SigningKey::write_public_key`].
    pub key: Option<&'a SigningKey>,
    /// The repomd revision and data timestamps; the current time when absent.
    pub revision: Option<u64>,
    /// Reader threads; 0 means one per CPU.
    pub threads: usize,
}

/// What an update did.
#[derive(Debug, Clone, Default)]
pub struct RepoReport {
    /// Packages listed in the new metadata.
    pub packages: usize,
    /// Entries reused from the previous metadata.
    pub reused: usize,
    /// RPM files read.
    pub read: usize,
    /// Unreadable RPM files that were skipped, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// RPM files deleted by `keep`.
    pub removed: Vec<PathBuf>,
    /// Whether repomd.xml was signed.
    pub signed: bool,
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    size: u64,
    mtime: u64,
    record: PackageRecord,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RepoError + '_ {
    move |source| RepoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Copies `rpms` into `repo_dir/Packages/` (temp file, fsync, rename each).
pub fn add_packages(repo_dir: &Path, rpms: &[PathBuf]) -> Result<Vec<PathBuf>, RepoError> {
    let packages = repo_dir.join("Packages");
    std::fs::create_dir_all(&packages).map_err(io_err(&packages))?;
    let mut added = Vec::new();
    for rpm in rpms {
        let name = rpm.file_name().ok_or_else(|| RepoError::Io {
            path: rpm.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        })?;
        let bytes = std::fs::read(rpm).map_err(io_err(rpm))?;
        let dest = packages.join(name);
        crate::fsutil::write_atomic(&dest, &bytes).map_err(io_err(&dest))?;
        added.push(dest);
    }
    Ok(added)
}

/// Rewrites `repo_dir/repodata` for the RPMs in `repo_dir/Packages`.
pub fn update_repository(repo_dir: &Path, opts: &RepoOptions<'_>) -> Result<RepoReport, RepoError> {
    let packages_dir = repo_dir.join("Packages");
    std::fs::create_dir_all(&packages_dir).map_err(io_err(&packages_dir))?;
    swap::remove_stale_temp_dirs(repo_dir);
    let mut report = RepoReport::default();

    let cache = load_cache(&repo_dir.join("repodata").join(CACHE_FILE));
    let mut entries: BTreeMap<String, CacheEntry> = BTreeMap::new();
    let mut to_read: Vec<(String, PathBuf, u64, u64)> = Vec::new();
    let listing = std::fs::read_dir(&packages_dir).map_err(io_err(&packages_dir))?;
    for dirent in listing {
        let dirent = dirent.map_err(io_err(&packages_dir))?;
        let name = dirent.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".rpm") || name.starts_with('.') {
            continue;
        }
        let path = dirent.path();
        let meta = dirent.metadata().map_err(io_err(&path))?;
        if !meta.is_file() {
            continue;
        }
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let href = format!("Packages/{name}");
        match cache.get(&href) {
            Some(hit) if hit.size == meta.len() && hit.mtime == mtime => {
                let hit = CacheEntry {
                    size: hit.size,
                    mtime: hit.mtime,
                    record: hit.record.clone(),
                };
                entries.insert(href, hit);
                report.reused += 1;
            }
            _ => to_read.push((href, path, meta.len(), mtime)),
        }
    }

    report.read = to_read.len();
    for (href, path, size, mtime, result) in read_parallel(to_read, opts.threads) {
        match result {
            Ok(record) => {
                entries.insert(
                    href,
                    CacheEntry {
                        size,
                        mtime,
                        record,
                    },
                );
            }
            Err(err) if opts.strict => return Err(RepoError::Corrupt(err)),
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "skipping unreadable RPM");
                report.skipped.push((path, err.to_string()));
            }
        }
    }

    if let Some(keep) = opts.keep {
        for href in versions_beyond(&entries, keep) {
            let path = repo_dir.join(&href);
            std::fs::remove_file(&path).map_err(io_err(&path))?;
            entries.remove(&href);
            report.removed.push(path);
        }
    }

    let revision = opts.revision.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    let records: Vec<&PackageRecord> = entries.values().map(|e| &e.record).collect();
    report.packages = records.len();

    let tmp = swap::new_temp_dir(repo_dir).map_err(io_err(repo_dir))?;
    let result = write_repodata(&tmp, &records, &entries, revision, opts.key);
    let result = result
        .and_then(|()| swap::swap_in(&tmp, &repo_dir.join("repodata")).map_err(io_err(repo_dir)));
    if let Err(err) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(err);
    }
    report.signed = opts.key.is_some();
    Ok(report)
}

fn load_cache(path: &Path) -> HashMap<String, CacheEntry> {
    let Ok(bytes) = std::fs::read(path) else {
        return HashMap::new();
    };
    match serde_json::from_slice::<BTreeMap<String, CacheEntry>>(&bytes) {
        Ok(map) => map.into_iter().collect(),
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "ignoring unreadable repodata cache");
            HashMap::new()
        }
    }
}

type ReadResult = (
    String,
    PathBuf,
    u64,
    u64,
    Result<PackageRecord, RecordError>,
);

fn read_parallel(items: Vec<(String, PathBuf, u64, u64)>, threads: usize) -> Vec<ReadResult> {
    let threads = if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        threads
    };
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(href, path, size, mtime)| {
                            let result = std::fs::read(path)
                                .map_err(|source| RecordError::Io {
                                    path: path.display().to_string(),
                                    source,
                                })
                                .and_then(|bytes| {
                                    PackageRecord::from_rpm_bytes(&bytes, href, *mtime).map_err(
                                        |source| RecordError::Rpm {
                                            path: path.display().to_string(),
                                            source,
                                        },
                                    )
                                });
                            (href.clone(), path.clone(), *size, *mtime, result)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// The hrefs of packages older than the `keep` newest versions of their (name, arch).
fn versions_beyond(entries: &BTreeMap<String, CacheEntry>, keep: usize) -> Vec<String> {
    let mut groups: BTreeMap<(&str, &str), Vec<(&String, &PackageRecord)>> = BTreeMap::new();
    for (href, entry) in entries {
        groups
            .entry((entry.record.name.as_str(), entry.record.arch.as_str()))
            .or_default()
            .push((href, &entry.record));
    }
    let mut old = Vec::new();
    for mut versions in groups.into_values() {
        versions.sort_by(|a, b| {
            let evr = |r: &PackageRecord| {
                rpm_version::Evr::new(r.epoch.to_string(), r.version.clone(), r.release.clone())
            };
            evr(b.1).cmp(&evr(a.1))
        });
        old.extend(
            versions
                .into_iter()
                .skip(keep)
                .map(|(href, _)| href.clone()),
        );
    }
    old
}

fn write_repodata(
    dir: &Path,
    records: &[&PackageRecord],
    entries: &BTreeMap<String, CacheEntry>,
    revision: u64,
    key: Option<&SigningKey>,
) -> Result<(), RepoError> {
    let docs = [
        ("primary", xml::primary(records)),
        ("filelists", xml::filelists(records)),
        ("other", xml::other(records)),
    ];
    let mut data = Vec::new();
    for (kind, text) in &docs {
        let open_checksum = hex::encode(Sha256::digest(text.as_bytes()));
        let mut encoder = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::new(6));
        encoder.write_all(text.as_bytes()).map_err(io_err(dir))?;
        let gz = encoder.finish().map_err(io_err(dir))?;
        let checksum = hex::encode(Sha256::digest(&gz));
        let name = format!("{checksum}-{kind}.xml.gz");
        let path = dir.join(&name);
        write_synced(&path, &gz)?;
        data.push(xml::RepomdData {
            kind,
            href: format!("repodata/{name}"),
            checksum,
            open_checksum,
            timestamp: revision,
            size: gz.len() as u64,
            open_size: text.len() as u64,
        });
    }
    let cache = serde_json::to_vec(entries).map_err(|e| RepoError::Io {
        path: dir.join(CACHE_FILE),
        source: std::io::Error::other(e),
    })?;
    write_synced(&dir.join(CACHE_FILE), &cache)?;

    let repomd = xml::repomd(revision, &data);
    if let Some(key) = key {
        let signature = key.sign_detached(repomd.as_bytes())?;
        write_synced(&dir.join("repomd.xml.asc"), signature.as_bytes())?;
    }
    // repomd.xml is written last: everything it points to is already on disk.
    write_synced(&dir.join("repomd.xml"), repomd.as_bytes())?;
    crate::fsutil::sync_dir(dir).map_err(io_err(dir))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), RepoError> {
    let mut file = std::fs::File::create(path).map_err(io_err(path))?;
    file.write_all(bytes).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}
