//! Writes EL7-compatible RPMs, yum repodata and OpenPGP signatures in-process, with no
//! rpmbuild, createrepo_c or gpg at build time.
//!
//! - [`definition`]: the declarative package definitions in rpm/*.toml.
//! - [`builder`]: definition + binaries → a signed RPM (xz, rpm 4.11 rpmlib caps, SHA-256
//!   file digests, reproducible from SOURCE_DATE_EPOCH).
//! - [`signature_header`]: the digests and RSA signatures EL7's rpm checks, header and
//!   header+payload.
//! - [`repodata`]: a yum 3.4.3-compatible repository (primary/filelists/other .xml.gz,
//!   repomd.xml, repomd.xml.asc), incremental and swapped in atomically.
//! - [`channels`]: the tree of channels (stable, test, nightly) × kinds (binary, debuginfo,
//!   source) × `$releasever`, publishing into it and promoting between channels.
//! - [`signing`]: RSA OpenPGP keys, generation and detached signatures.
//! - [`repofile`]: the docker-ce.repo-style `.repo` file.
//! - [`sbom`]: the SPDX 2.3 JSON SBOM each package ships (its bundled crates).
//!
//! ```no_run
//! use std::path::Path;
//! use berth_packaging::{builder, definition::PackageDefinition, version::RpmVersion};
//!
//! let def = PackageDefinition::load(Path::new("rpm/berth-cli.toml"))?;
//! let dirs = builder::SourceDirs {
//!     project_root: ".".into(),
//!     binaries: "target/release".into(),
//!     generated: "target/generated".into(),
//! };
//! let settings = builder::BuildSettings::new(RpmVersion::release("1.0.0")?, 1_700_000_000);
//! let pkg = builder::build_package(&def, &dirs, &settings, None)?;
//! builder::write_package(&pkg, Path::new("bundles/rpm"))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod builder;
pub mod channels;
pub mod definition;
pub mod fsutil;
pub mod license;
pub mod payload;
pub mod repodata;
pub mod repofile;
pub mod sbom;
pub mod signature_header;
pub mod signing;
pub mod version;
