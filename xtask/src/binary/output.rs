//! The bundles/ layout, like moby's: bundles/<version>/binary/<name> with <name>.sha256,
//! bundles/<version>/build-info.json, and bundles/latest pointing at <version>.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::sources::{SourceInfo, PACKAGES};
use super::BuildOutput;
use crate::build::{host, Image};

/// bundles/<version>/build-info.json.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BuildInfo {
    pub version: String,
    /// The short commit, `-dirty` when the tree had changes.
    pub commit: String,
    pub rustc: String,
    pub build_image: String,
    pub source_date_epoch: u64,
    pub target: String,
}

/// Copies the built binaries into bundles/<version> and writes the checksums, build-info.json
/// and the `latest` link. Every file is written to a temp file and renamed into place.
pub fn write_bundle(
    project_root: &Path,
    built: &dyn Fn(&str) -> std::path::PathBuf,
    image: &Image,
    source: &SourceInfo,
    log_path: &Path,
) -> Result<BuildOutput> {
    let bundles = project_root.join("bundles");
    let version_dir = bundles.join(&source.version);
    let binary_dir = version_dir.join("binary");
    std::fs::create_dir_all(&binary_dir)
        .with_context(|| format!("create {}", binary_dir.display()))?;
    let mut binaries = Vec::new();
    for name in PACKAGES {
        let from = built(name);
        let bytes = std::fs::read(&from).with_context(|| {
            format!(
                "the build did not produce {}; compiler output: {}",
                from.display(),
                log_path.display()
            )
        })?;
        let digest = hex::encode(Sha256::digest(&bytes));
        write_executable(&binary_dir.join(name), &bytes)?;
        host::write_atomic(
            &binary_dir.join(format!("{name}.sha256")),
            format!("{digest}  {name}\n").as_bytes(),
        )?;
        binaries.push((name.to_owned(), digest));
    }
    let info = BuildInfo {
        version: source.version.clone(),
        commit: source.commit.clone(),
        rustc: image.toolchain.rustc_version.clone(),
        build_image: image.digest.as_str().to_owned(),
        source_date_epoch: source.source_date_epoch,
        target: image.definition.toolchain.target.clone(),
    };
    let mut json = serde_json::to_vec_pretty(&info)?;
    json.push(b'\n');
    host::write_atomic(&version_dir.join("build-info.json"), &json)?;
    point_latest_at(&bundles, &source.version)?;
    Ok(BuildOutput {
        binary_dir,
        binaries,
        info,
    })
}

fn write_executable(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().context("binary path has no parent")?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o755))?;
    temp.as_file().sync_all()?;
    temp.persist(path)
        .with_context(|| format!("rename into {}", path.display()))?;
    Ok(())
}

/// Points bundles/latest at `version` (a relative symlink, replaced atomically).
fn point_latest_at(bundles: &Path, version: &str) -> Result<()> {
    let latest = bundles.join("latest");
    let temp = bundles.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    std::os::unix::fs::symlink(version, &temp)
        .with_context(|| format!("create {}", temp.display()))?;
    std::fs::rename(&temp, &latest).with_context(|| format!("replace {}", latest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_is_replaced_atomically() {
        let temp = tempfile::tempdir().expect("tempdir");
        point_latest_at(temp.path(), "0.1.0").expect("first");
        point_latest_at(temp.path(), "0.2.0").expect("second");
        let target = std::fs::read_link(temp.path().join("latest")).expect("readlink");
        assert_eq!(target, Path::new("0.2.0"));
    }
}
