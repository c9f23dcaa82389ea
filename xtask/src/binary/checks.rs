//! Checks on built engine binaries, for `cargo xtask test`: each is fully static (no PT_INTERP,
//! no DT_NEEDED), matches its .sha256, and prints "<name> version X.Y.Z, build <commit>" when
//! run in a container whose root file system holds nothing but that binary.

use std::path::Path;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use super::container::{self, ContainerConfig};
use super::elf;
use super::output::BuildInfo;
use super::sources::PACKAGES;

/// Runs every check on bundles/<version>/binary (`binary_dir`) against the build-info.json
/// next to it. Needs root (it runs containers).
pub fn check_binaries(binary_dir: &Path) -> Result<()> {
    let info_path = binary_dir
        .parent()
        .context("binary dir has no parent")?
        .join("build-info.json");
    let info: BuildInfo = serde_json::from_slice(
        &std::fs::read(&info_path).with_context(|| format!("read {}", info_path.display()))?,
    )
    .with_context(|| format!("{}: not a build-info.json", info_path.display()))?;
    for name in PACKAGES {
        let path = binary_dir.join(name);
        let bytes = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        check_checksum(binary_dir, name, &bytes)?;
        check_static(&path, &bytes)?;
        check_version_in_empty_rootfs(&path, name, &info)?;
    }
    Ok(())
}

fn check_checksum(binary_dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let sum_path = binary_dir.join(format!("{name}.sha256"));
    let recorded = std::fs::read_to_string(&sum_path)
        .with_context(|| format!("read {}", sum_path.display()))?;
    let actual = hex::encode(Sha256::digest(bytes));
    if recorded != format!("{actual}  {name}\n") {
        bail!(
            "{}: does not match {name} (sha256 {actual})",
            sum_path.display()
        );
    }
    Ok(())
}

/// Fails unless `path` has no program interpreter and needs no shared library.
pub fn check_static(path: &Path, bytes: &[u8]) -> Result<()> {
    let linkage = elf::linkage(bytes).with_context(|| format!("{}", path.display()))?;
    if let Some(interpreter) = &linkage.interpreter {
        bail!(
            "{}: not static, it has the program interpreter {interpreter}",
            path.display()
        );
    }
    if !linkage.needed.is_empty() {
        bail!(
            "{}: not static, it needs {}",
            path.display(),
            linkage.needed.join(", ")
        );
    }
    Ok(())
}

/// Copies the binary alone into a fresh read-only rootfs, runs `/<name> --version` there in new
/// namespaces with no mounts at all, and compares what it prints with build-info.json.
pub fn check_version_in_empty_rootfs(path: &Path, name: &str, info: &BuildInfo) -> Result<()> {
    let temp = tempfile::Builder::new()
        .prefix("berth-empty-rootfs-")
        .tempdir()?;
    let rootfs = temp.path().join("rootfs");
    std::fs::create_dir(&rootfs)?;
    std::fs::copy(path, rootfs.join(name)).with_context(|| format!("copy {}", path.display()))?;
    let state = temp.path().join("state");
    std::fs::create_dir(&state)?;
    let output_path = temp.path().join("output");
    let output = std::fs::File::create(&output_path)?;
    let config = ContainerConfig {
        rootfs: rootfs.clone(),
        hostname: "berth-check".to_owned(),
        args: vec![format!("/{name}"), "--version".to_owned()],
        env: vec!["PATH=/".to_owned()],
        cwd: "/".to_owned(),
        binds: Vec::new(),
        system_mounts: false,
    };
    let exit_code = container::run(&config, &state, &output, &container::new_id())?;
    let printed = std::fs::read_to_string(&output_path)?;
    let expected = format!("{name} version {}, build {}", info.version, info.commit);
    if exit_code != 0 || printed.trim_end() != expected {
        bail!(
            "{name} --version in an empty rootfs: exit code {exit_code}, printed {:?}, expected {expected:?}",
            printed.trim_end()
        );
    }
    Ok(())
}
