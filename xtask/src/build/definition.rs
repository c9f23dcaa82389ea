//! The declarative build-image definition, packaging/build-image.toml: parsing and validation.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Where the definition lives, relative to the workspace root.
pub const DEFINITION_PATH: &str = "packaging/build-image.toml";

/// packaging/build-image.toml, parsed. Serialized (as JSON) into the image digest and manifest.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub base: Base,
    pub packages: Packages,
    pub toolchain: ToolchainPin,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Base {
    /// Debian suite handed to debootstrap (e.g. "bookworm").
    pub suite: String,
    /// Major Debian release the suite must be, checked against the mirror's Release file.
    pub release: String,
    /// debootstrap --variant.
    pub variant: String,
    /// Debian mirror URL; empty means the one apt uses on this host.
    #[serde(default)]
    pub mirror: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Packages {
    /// Extra packages installed with debootstrap --include.
    pub install: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ToolchainPin {
    /// The rust-toolchain.toml that pins the channel, relative to the workspace root.
    pub pin_file: PathBuf,
    /// Where the toolchain is bind-mounted (read-only) inside the build container.
    pub mount: String,
    /// The target triple the engine binaries are built for.
    pub target: String,
}

impl Definition {
    /// Reads and validates the definition at `path`; errors name the file and the field.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read the build-image definition {}", path.display())
        })?;
        Self::parse(&text).with_context(|| format!("{}", path.display()))
    }

    /// Parses and validates a definition from its TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        let definition: Definition = toml::from_str(text).map_err(|err| {
            anyhow::anyhow!("{}", err.message().trim()).context(match err.span() {
                Some(span) => format!("invalid TOML at byte {}", span.start),
                None => "invalid TOML".to_owned(),
            })
        })?;
        definition.validate()?;
        Ok(definition)
    }

    fn validate(&self) -> Result<()> {
        let word = |value: &str| {
            !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
        };
        if !word(&self.base.suite) {
            bail!(
                "base.suite: {:?} is not a Debian suite name",
                self.base.suite
            );
        }
        if self.base.release.is_empty() || !self.base.release.bytes().all(|b| b.is_ascii_digit()) {
            bail!(
                "base.release: {:?} is not a Debian major release number",
                self.base.release
            );
        }
        if !["minbase", "buildd"].contains(&self.base.variant.as_str()) {
            bail!(
                "base.variant: {:?} must be \"minbase\" or \"buildd\"",
                self.base.variant
            );
        }
        let mirror = &self.base.mirror;
        if !(mirror.is_empty() || mirror.starts_with("http://") || mirror.starts_with("https://")) {
            bail!(
                "base.mirror: {:?} must be empty or an http(s) URL",
                self.base.mirror
            );
        }
        if let Some(bad) = self.packages.install.iter().find(|name| !word(name)) {
            bail!("packages.install: {bad:?} is not a Debian package name");
        }
        if !self.toolchain.mount.starts_with('/') || self.toolchain.mount.contains("..") {
            bail!(
                "toolchain.mount: {:?} must be an absolute path",
                self.toolchain.mount
            );
        }
        if !word(&self.toolchain.target.replace('_', "")) {
            bail!(
                "toolchain.target: {:?} is not a target triple",
                self.toolchain.target
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [base]
        suite = "bookworm"
        release = "12"
        variant = "minbase"
        [packages]
        install = ["gcc", "libc6-dev"]
        [toolchain]
        pin_file = "rust-toolchain.toml"
        mount = "/opt/rust"
        target = "x86_64-unknown-linux-gnu"
    "#;

    #[test]
    fn the_checked_in_definition_is_valid() {
        let path = crate::util::project_root().join(DEFINITION_PATH);
        let definition = Definition::load(&path).expect("packaging/build-image.toml");
        assert!(definition.packages.install.iter().any(|p| p == "gcc"));
    }

    #[test]
    fn a_minimal_definition_parses_with_the_host_mirror() {
        let definition = Definition::parse(GOOD).expect("valid");
        assert_eq!(definition.base.mirror, "");
        assert_eq!(definition.toolchain.mount, "/opt/rust");
    }

    #[test]
    fn errors_name_the_bad_field() {
        let bad_package = GOOD.replace("\"libc6-dev\"", "\"libc6 dev; rm -rf /\"");
        let err = format!("{:#}", Definition::parse(&bad_package).unwrap_err());
        assert!(err.contains("packages.install"), "{err}");

        let bad_mount = GOOD.replace("/opt/rust", "opt/rust");
        let err = format!("{:#}", Definition::parse(&bad_mount).unwrap_err());
        assert!(err.contains("toolchain.mount"), "{err}");

        let unknown = GOOD.replace("[packages]", "[packages]\nextra = 1");
        let err = format!("{:#}", Definition::parse(&unknown).unwrap_err());
        assert!(err.contains("extra"), "{err}");
    }
}
