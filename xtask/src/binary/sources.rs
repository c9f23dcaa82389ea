//! What a build compiles from, gathered on the host before the container starts: the workspace
//! version, the git commit and its time, and the dependency sources (`cargo fetch` + `cargo vendor`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use xshell::{cmd, Shell};

use crate::build::host;
use crate::build::store::Cache;

/// The engine crates `cargo xtask binary` builds, and the binaries they produce.
pub const PACKAGES: [&str; 3] = ["berth", "berthd", "berth-runtime"];

/// The cargo profile each binary is built with: berth-runtime aborts on panic (the workspace
/// Cargo.toml says why), the others use `release`.
pub fn profile_of(package: &str) -> &'static str {
    if package == "berth-runtime" {
        "release-runtime"
    } else {
        "release"
    }
}

/// The source being built.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// The workspace version (from Cargo.toml via cargo metadata).
    pub version: String,
    /// The short commit, with `-dirty` when tracked files have changes; "unknown" outside git.
    pub commit: String,
    /// The commit time (or $SOURCE_DATE_EPOCH when set), used as SOURCE_DATE_EPOCH in the build.
    pub source_date_epoch: u64,
}

impl SourceInfo {
    pub fn read(sh: &Shell, project_root: &Path) -> Result<Self> {
        let metadata = cargo_metadata::MetadataCommand::new()
            .manifest_path(project_root.join("Cargo.toml"))
            .no_deps()
            .exec()
            .context("cargo metadata failed")?;
        let version = metadata
            .packages
            .iter()
            .find(|package| package.name.as_str() == "berthd")
            .map(|package| package.version.to_string())
            .context("the workspace has no berthd package")?;
        let _dir = sh.push_dir(project_root);
        let head = cmd!(sh, "git rev-parse --short=12 HEAD")
            .quiet()
            .ignore_stderr()
            .read()
            .ok();
        let commit = match &head {
            Some(head) => {
                let status = cmd!(sh, "git status --porcelain --untracked-files=no")
                    .quiet()
                    .read()
                    .context("git status failed")?;
                if status.trim().is_empty() {
                    head.clone()
                } else {
                    format!("{head}-dirty")
                }
            }
            None => "unknown".to_owned(),
        };
        let from_env = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .filter(|v| !v.is_empty());
        let source_date_epoch = match (from_env, &head) {
            (Some(value), _) => value
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH: {value:?} is not a number"))?,
            (None, Some(_)) => cmd!(sh, "git log -1 --format=%ct HEAD")
                .quiet()
                .read()?
                .trim()
                .parse()
                .context("git log gave no commit time")?,
            (None, None) => bail!(
                "{} is not a git checkout: set SOURCE_DATE_EPOCH for a reproducible build",
                project_root.display()
            ),
        };
        Ok(Self {
            version,
            commit,
            source_date_epoch,
        })
    }
}

/// sha256 of Cargo.lock: names the vendored sources for that lock file.
pub fn lock_hash(project_root: &Path) -> Result<String> {
    let lock = project_root.join("Cargo.lock");
    let bytes = std::fs::read(&lock).with_context(|| format!("read {}", lock.display()))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// Makes sure the dependency sources of Cargo.lock are vendored in the cache and returns that
/// directory: `cargo fetch --locked` (the host's network and registry cache) then
/// `cargo vendor --locked --offline`, once per Cargo.lock.
pub fn vendor(sh: &Shell, cache: &Cache, project_root: &Path) -> Result<PathBuf> {
    let dir = cache.vendor_dir(&lock_hash(project_root)?);
    if dir.is_dir() {
        return Ok(dir);
    }
    let _lock = cache.lock()?;
    if dir.is_dir() {
        return Ok(dir);
    }
    host::require_free_space(&cache.root, 1024)?;
    let _dir = sh.push_dir(project_root);
    eprintln!(
        "==> cargo fetch --locked, cargo vendor into {}",
        dir.display()
    );
    cmd!(sh, "cargo fetch --locked").quiet().run().context(
        "cargo fetch --locked failed (is Cargo.lock up to date, and crates.io reachable?)",
    )?;
    let partial = dir.with_extension("partial");
    host::remove_tree(&partial)?;
    cmd!(
        sh,
        "cargo vendor --locked --offline --versioned-dirs --quiet {partial}"
    )
    .quiet()
    .ignore_stdout()
    .run()
    .context("cargo vendor failed")?;
    set_times_to_epoch(&partial)?;
    std::fs::rename(&partial, &dir)
        .with_context(|| format!("rename {} to {}", partial.display(), dir.display()))?;
    Ok(dir)
}

/// Sets the modification time of everything under `dir` to the Unix epoch. A new Cargo.lock
/// means a new vendor copy; with fresh mtimes, every build script that says
/// `rerun-if-changed` (aws-lc-sys, zstd-sys...) would run again and recompile its C code, and
/// everything above it. Epoch times keep the dev cache valid across vendor copies.
fn set_times_to_epoch(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            set_times_to_epoch(&path)?;
        }
        if !meta.file_type().is_symlink() {
            std::fs::File::open(&path)
                .and_then(|file| file.set_modified(std::time::UNIX_EPOCH))
                .with_context(|| format!("set the mtime of {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_trees_get_epoch_mtimes() {
        let temp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(temp.path().join("crate-1.0.0/src")).expect("mkdir");
        std::fs::write(temp.path().join("crate-1.0.0/src/lib.rs"), "").expect("write");
        set_times_to_epoch(temp.path()).expect("set times");
        for path in ["crate-1.0.0", "crate-1.0.0/src", "crate-1.0.0/src/lib.rs"] {
            let modified = std::fs::metadata(temp.path().join(path))
                .expect("stat")
                .modified();
            assert_eq!(modified.expect("mtime"), std::time::UNIX_EPOCH, "{path}");
        }
    }

    #[test]
    fn the_workspace_version_and_commit_are_read() {
        let sh = Shell::new().expect("shell");
        let info = SourceInfo::read(&sh, &crate::util::project_root()).expect("source info");
        assert!(info.version.split('.').count() == 3, "{}", info.version);
        assert!(info.commit.len() >= 12, "{}", info.commit);
        assert!(info.source_date_epoch > 1_600_000_000);
    }
}
