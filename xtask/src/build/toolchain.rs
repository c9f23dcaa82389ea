//! The pinned Rust toolchain: finding it on the host and checking it matches rust-toolchain.toml.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use xshell::{cmd, Shell};

/// The host toolchain the build container mounts read-only.
#[derive(Debug, Clone, Serialize)]
pub struct Toolchain {
    /// The channel rust-toolchain.toml pins (e.g. "1.95.0").
    pub channel: String,
    /// `rustc -vV` output: release, commit hash, host and LLVM version.
    pub rustc_version_verbose: String,
    /// `rustc --version`, the short form recorded in build-info.json.
    pub rustc_version: String,
    /// The toolchain directory (`rustc --print sysroot`), with bin/cargo and bin/rustc.
    pub sysroot: PathBuf,
}

impl Toolchain {
    /// Resolves the toolchain that rustup selects in `project_root` and checks it is the pinned one.
    pub fn resolve(sh: &Shell, project_root: &Path, pin_file: &Path) -> Result<Self> {
        let pin_path = project_root.join(pin_file);
        let channel = pinned_channel(&pin_path)?;
        let _dir = sh.push_dir(project_root);
        let sysroot = PathBuf::from(
            cmd!(sh, "rustc --print sysroot")
                .quiet()
                .read()
                .context("cannot run `rustc --print sysroot`: is the Rust toolchain installed?")?,
        );
        let rustc = sysroot.join("bin/rustc");
        let rustc_version_verbose = cmd!(sh, "{rustc} -vV").quiet().read()?;
        let rustc_version = cmd!(sh, "{rustc} --version").quiet().read()?;
        let release = rustc_version_verbose
            .lines()
            .find_map(|line| line.strip_prefix("release: "))
            .unwrap_or_default();
        if release != channel {
            bail!(
                "{}: pins Rust {channel} but the toolchain in {} is {release}",
                pin_path.display(),
                sysroot.display()
            );
        }
        for tool in ["bin/cargo", "bin/rustc"] {
            if !sysroot.join(tool).is_file() {
                bail!("the toolchain {} has no {tool}", sysroot.display());
            }
        }
        Ok(Self {
            channel,
            rustc_version_verbose,
            rustc_version,
            sysroot,
        })
    }
}

/// The `toolchain.channel` of a rust-toolchain.toml.
fn pinned_channel(path: &Path) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct File {
        toolchain: Section,
    }
    #[derive(serde::Deserialize)]
    struct Section {
        channel: String,
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: File = toml::from_str(&text).map_err(|err| {
        anyhow::anyhow!("{}: toolchain.channel: {}", path.display(), err.message())
    })?;
    Ok(file.toolchain.channel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_toolchain_is_the_pinned_one() {
        let sh = Shell::new().expect("shell");
        let root = crate::util::project_root();
        let toolchain =
            Toolchain::resolve(&sh, &root, Path::new("rust-toolchain.toml")).expect("toolchain");
        assert!(toolchain
            .rustc_version
            .starts_with(&format!("rustc {}", toolchain.channel)));
        assert!(toolchain.sysroot.join("bin/cargo").is_file());
    }
}
