//! `cargo xtask rpm`: packages the engine binaries as berth-engine and berth-cli RPMs into
//! bundles/<version>/rpm/el7/x86_64/, each with its SPDX SBOM beside it. The RPM writing itself is berth-packaging's; this stage
//! finds the inputs (binaries, generated docs, crate metadata, key) and orchestrates.

mod crates;
mod generated;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_packaging::builder::{self, BuildSettings, SourceDirs};
use berth_packaging::definition::PackageDefinition;
use berth_packaging::signing::SigningKey;
use berth_packaging::version::RpmVersion;
use xshell::{cmd, Shell};

use crate::binary::sources::SourceInfo;

/// The engine binaries, which are also their Cargo package names.
const BINARIES: [&str; 3] = ["berth", "berthd", "berth-runtime"];
/// The package definitions under rpm/.
const DEFINITIONS: [&str; 2] = ["berth-engine", "berth-cli"];
/// The target the binaries are built for when bundles/ does not say.
const DEFAULT_TARGET: &str = "x86_64-unknown-linux-gnu";

#[derive(clap::Args)]
pub struct Args {
    /// Directory with berth, berthd and berth-runtime [default: bundles/latest/binary, or a
    /// host `cargo build --release` when that does not exist].
    #[arg(long)]
    pub binaries: Option<PathBuf>,
    /// Armored RSA secret key to sign with; without one the RPMs are unsigned.
    #[arg(long, env = "BERTH_GPG_KEY_FILE")]
    pub gpg_key: Option<PathBuf>,
    /// Build a nightly: version <next patch>~nightly.YYYYMMDD.HHMMSS.g<commit>, release 0.
    #[arg(long)]
    pub nightly: bool,
    /// Output directory [default: bundles/<version>/rpm/el7/x86_64].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// xz level of the payload (0-9); higher is smaller and slower.
    #[arg(long, default_value_t = berth_packaging::payload::DEFAULT_XZ_LEVEL, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub xz_level: u32,
}

/// What `cargo xtask rpm` produced.
pub struct RpmOutput {
    pub rpms: Vec<PathBuf>,
    pub version: RpmVersion,
    pub signed: bool,
}

impl Args {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let output = self.build(sh)?;
        for rpm in &output.rpms {
            println!("{}", rpm.display());
        }
        Ok(())
    }

    pub fn build(self, sh: &Shell) -> Result<RpmOutput> {
        let root = crate::util::project_root();
        let source = SourceInfo::read(sh, &root)?;
        let binaries = match self.binaries {
            Some(dir) => dir,
            None => default_binaries(sh, &root)?,
        };
        for name in BINARIES {
            let path = binaries.join(name);
            if !path.is_file() {
                bail!("missing binary {name}: {} does not exist", path.display());
            }
        }
        let key = load_key(self.gpg_key.as_deref())?;

        let version = if self.nightly {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs();
            let commit = source.commit.trim_end_matches("-dirty");
            RpmVersion::nightly(&source.version, now, commit)?
        } else {
            RpmVersion::release(&source.version)?
        };
        let out = self.out.unwrap_or_else(|| {
            root.join("bundles")
                .join(&source.version)
                .join("rpm/el7/x86_64")
        });
        let generated = root
            .join("bundles")
            .join(&source.version)
            .join("rpm/.generated");
        generated::generate(sh, &binaries, &generated)?;

        let target = build_target(&root, &source.version);
        let (project_license, crates_by_binary) =
            crates::crates_by_binary(&root, &BINARIES, &target)?;
        let source_date = u32::try_from(source.source_date_epoch)
            .context("SOURCE_DATE_EPOCH does not fit the RPM header's 32-bit time")?;
        let mut settings = BuildSettings::new(version.clone(), source_date);
        settings.crates_by_binary = crates_by_binary;
        settings.project_license = project_license;
        settings.xz_level = self.xz_level;
        settings.changelog = format!("- berth {} (commit {})", version.evr(), source.commit);
        let dirs = SourceDirs {
            project_root: root.clone(),
            binaries,
            generated,
        };
        let definitions = DEFINITIONS
            .iter()
            .map(|name| PackageDefinition::load(&root.join("rpm").join(format!("{name}.toml"))))
            .collect::<Result<Vec<_>, _>>()?;

        // The two packages are independent: compress them on two threads.
        let started = std::time::Instant::now();
        let rpms = std::thread::scope(|scope| {
            let handles: Vec<_> = definitions
                .iter()
                .map(|def| {
                    let (dirs, settings, key, out) = (&dirs, &settings, key.as_ref(), &out);
                    scope.spawn(move || -> Result<PathBuf> {
                        let pkg = builder::build_package(def, dirs, settings, key)?;
                        let rpm = builder::write_package(&pkg, out)?;
                        // The SBOM the package ships, also beside it for scanners.
                        builder::write_sbom_beside(def, settings, &rpm)?;
                        Ok(rpm)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| anyhow::anyhow!("an RPM build thread panicked"))?
                })
                .collect::<Result<Vec<_>>>()
        })?;
        eprintln!(
            "built {} RPMs ({}) in {:.2}s{}",
            rpms.len(),
            version,
            started.elapsed().as_secs_f64(),
            if key.is_some() { ", signed" } else { "" }
        );
        Ok(RpmOutput {
            rpms,
            version,
            signed: key.is_some(),
        })
    }
}

/// Loads the signing key, or warns loudly that the output is unsigned.
pub fn load_key(path: Option<&Path>) -> Result<Option<SigningKey>> {
    match path {
        Some(path) => Ok(Some(SigningKey::load(path)?)),
        None => {
            eprintln!("{}", UNSIGNED_WARNING);
            Ok(None)
        }
    }
}

const UNSIGNED_WARNING: &str = "\
################################################################################
WARNING: no signing key (--gpg-key FILE or BERTH_GPG_KEY_FILE): the RPMs and the
repository metadata are UNSIGNED and the .repo file says gpgcheck=0.
Make a development key with `cargo xtask gpg-keygen`.
################################################################################";

/// bundles/latest/binary when the binary stage produced it; otherwise a host release build.
fn default_binaries(sh: &Shell, root: &Path) -> Result<PathBuf> {
    let bundled = root.join("bundles/latest/binary");
    if BINARIES.iter().all(|b| bundled.join(b).is_file()) {
        return Ok(bundled);
    }
    eprintln!(
        "{} is missing; building the binaries on the host instead",
        bundled.display()
    );
    let _dir = sh.push_dir(root);
    cmd!(
        sh,
        "cargo build --release --locked -p berth -p berthd -p berth-runtime"
    )
    .run()?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target_dir.join("release"))
}

/// The target triple bundles/<version>/build-info.json records, or the host default.
fn build_target(root: &Path, version: &str) -> String {
    let info = root.join("bundles").join(version).join("build-info.json");
    std::fs::read(&info)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|json| json.get("target")?.as_str().map(str::to_string))
        .unwrap_or_else(|| DEFAULT_TARGET.to_string())
}
