//! Turning a package definition plus inputs into an EL7-compatible, optionally signed RPM.
//!
//! EL7 rules applied here: xz payload (never zstd), rpm v4 format with only the rpmlib()
//! capabilities rpm 4.11 knows, SHA-256 file digests, the signature header rpm 4.11's rpmsign
//! writes (header digests, MD5 and RSA signatures of the header and of header+payload; see
//! [`crate::signature_header`]), root:root ownership, and fixed mtimes for reproducible output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rpm::{Dependency, FileOptions, PackageBuilder};

use crate::definition::{ConfigKind, DepOp, DepSpec, FileSource, PackageDefinition};
use crate::license::{spdx_and, CrateInfo};
use crate::sbom::{SbomSubject, SpdxDocument};
use crate::signing::{SigningError, SigningKey};
use crate::version::RpmVersion;

/// A package that could not be built or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("{package}: missing input {path} for {dest} (is the {kind} built?)")]
    MissingInput {
        package: String,
        kind: &'static str,
        path: PathBuf,
        dest: String,
    },
    #[error("{package}: {message}")]
    Invalid { package: String, message: String },
    #[error("{package}: rpm: {source}")]
    Rpm {
        package: String,
        #[source]
        source: rpm::Error,
    },
    #[error(transparent)]
    Signing(#[from] SigningError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where file sources named by a definition live.
#[derive(Debug, Clone)]
pub struct SourceDirs {
    /// The source tree; `source = "..."` paths are relative to it.
    pub project_root: PathBuf,
    /// The built binaries; `binary = "..."` names a file here.
    pub binaries: PathBuf,
    /// Files generated from the binaries (completion, man pages); `generated = "..."`.
    pub generated: PathBuf,
}

/// Everything about one build that is not in the definition.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    pub version: RpmVersion,
    pub arch: String,
    /// SOURCE_DATE_EPOCH: build time, file mtimes, changelog and signature time.
    pub source_date: u32,
    /// The third-party crates linked into each binary, by binary name; they give the
    /// `bundled(crate(NAME)) = VERSION` provides and, with `project_license`, the License tag
    /// of the package shipping that binary.
    pub crates_by_binary: BTreeMap<String, Vec<CrateInfo>>,
    /// The license of berth's own code (the workspace license), part of every License tag.
    pub project_license: String,
    /// The text of the changelog entry for this version.
    pub changelog: String,
    /// xz level (0-9); lower is faster.
    pub xz_level: u32,
    /// Threads compressing the payload; the output is the same for any count.
    pub xz_threads: u32,
}

impl BuildSettings {
    /// Settings with the defaults berth releases use.
    pub fn new(version: RpmVersion, source_date: u32) -> Self {
        BuildSettings {
            version,
            arch: "x86_64".to_string(),
            source_date,
            crates_by_binary: BTreeMap::new(),
            project_license: "Apache-2.0".to_string(),
            changelog: "- Release built by cargo xtask rpm".to_string(),
            xz_level: crate::payload::DEFAULT_XZ_LEVEL,
            xz_threads: crate::payload::default_threads(),
        }
    }
}

/// Builds the RPM described by `def` in memory, signed with `key` when given.
pub fn build_package(
    def: &PackageDefinition,
    dirs: &SourceDirs,
    settings: &BuildSettings,
    key: Option<&SigningKey>,
) -> Result<rpm::Package, BuildError> {
    let package = def.name.clone();
    let rpm_err = |source| BuildError::Rpm {
        package: package.clone(),
        source,
    };

    let crates = bundled_crates(def, settings);
    let license = license_tag(def, settings, &crates)?;

    let config = rpm::BuildConfig::v4()
        // Written uncompressed; crate::payload compresses it as xz on every core.
        .compression(rpm::CompressionWithLevel::None)
        .source_date(settings.source_date);
    let mut builder = PackageBuilder::new(
        &def.name,
        &settings.version.version,
        &license,
        &settings.arch,
        &def.summary,
    );
    builder
        .using_config(config)
        .release(settings.version.release.clone())
        .description(def.description.clone())
        .url(def.url.clone())
        .vendor(def.vendor.clone())
        .packager(def.packager.clone())
        .group(def.group.clone())
        .build_host("berth-build")
        .add_changelog_entry(
            format!("{} - {}", def.packager, settings.version.evr()),
            &settings.changelog,
            settings.source_date,
        );

    let evr = settings.version.evr();
    let dependency = |dep: &DepSpec| -> Dependency {
        match &dep.constraint {
            None => Dependency::any(&dep.name),
            Some((op, version)) => {
                let version = version.replace("{evr}", &evr);
                match op {
                    DepOp::Eq => Dependency::eq(&dep.name, version),
                    DepOp::Lt => Dependency::less(&dep.name, version),
                    DepOp::Le => Dependency::less_eq(&dep.name, version),
                    DepOp::Gt => Dependency::greater(&dep.name, version),
                    DepOp::Ge => Dependency::greater_eq(&dep.name, version),
                }
            }
        }
    };
    for dep in &def.requires.plain {
        builder.requires(dependency(dep));
    }
    for dep in &def.requires.pre {
        builder.requires(Dependency::script_pre(&dep.name));
    }
    for dep in &def.requires.post {
        builder.requires(Dependency::script_post(&dep.name));
    }
    for dep in &def.requires.preun {
        builder.requires(Dependency::script_preun(&dep.name));
    }
    for dep in &def.requires.postun {
        builder.requires(Dependency::script_postun(&dep.name));
    }
    for krate in &crates {
        builder.provides(Dependency::eq(
            format!("bundled(crate({}))", krate.name),
            &krate.version,
        ));
    }

    if let Some(body) = &def.scripts.pre {
        builder.pre_install_script(shell_script(body));
    }
    if let Some(body) = &def.scripts.post {
        builder.post_install_script(shell_script(body));
    }
    if let Some(body) = &def.scripts.preun {
        builder.pre_uninstall_script(shell_script(body));
    }
    if let Some(body) = &def.scripts.postun {
        builder.post_uninstall_script(shell_script(body));
    }

    for dir in &def.dirs {
        builder
            .with_dir_entry(
                FileOptions::dir(&dir.path)
                    .user("root")
                    .group("root")
                    .permissions(dir.mode),
            )
            .map_err(rpm_err)?;
    }

    let mut files: Vec<_> = def.files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for file in files {
        let read = |kind: &'static str, path: PathBuf| {
            std::fs::read(&path).map_err(|_| BuildError::MissingInput {
                package: package.clone(),
                kind,
                path,
                dest: file.path.clone(),
            })
        };
        let content = match &file.source {
            FileSource::Binary(name) => read("binary", dirs.binaries.join(name))?,
            FileSource::Tree(rel) => read("source file", dirs.project_root.join(rel))?,
            FileSource::Generated(rel) => read("generated file", dirs.generated.join(rel))?,
            FileSource::Sbom => sbom_json(def, settings, &crates, &license)?,
        };
        let content = if file.gzip { gzip(&content) } else { content };
        let mut options = FileOptions::new(&file.path)
            .user("root")
            .group("root")
            .permissions(file.mode);
        options = match file.config {
            Some(ConfigKind::Noreplace) => options.config().noreplace(),
            Some(ConfigKind::Replace) => options.config(),
            None => options,
        };
        if file.doc {
            options = options.doc();
        }
        if file.license {
            options = options.license();
        }
        builder
            .with_file_contents(content, options)
            .map_err(rpm_err)?;
    }

    let mut built = builder.build().map_err(rpm_err)?;
    let signer = key.map(SigningKey::rpm_signer).transpose()?;
    crate::payload::compress_xz(
        &mut built,
        settings.xz_level,
        settings.xz_threads,
        signer,
        settings.source_date,
    )
    .map_err(|message| BuildError::Invalid { package, message })?;
    Ok(built)
}

/// The third-party crates linked into the binaries `def` ships, each (name, version) once,
/// sorted: the `bundled(crate())` provides, the terms of the License tag and the SBOM's crates.
pub fn bundled_crates(def: &PackageDefinition, settings: &BuildSettings) -> Vec<CrateInfo> {
    let mut crates: BTreeMap<(&str, &str), &CrateInfo> = BTreeMap::new();
    for file in &def.files {
        if let FileSource::Binary(name) = &file.source {
            for krate in settings.crates_by_binary.get(name).into_iter().flatten() {
                crates.insert((&krate.name, &krate.version), krate);
            }
        }
    }
    crates.into_values().cloned().collect()
}

/// The License tag: the SPDX AND of the bundled crates' licences and berth's own.
fn license_tag(
    def: &PackageDefinition,
    settings: &BuildSettings,
    crates: &[CrateInfo],
) -> Result<String, BuildError> {
    let mut terms = crates.to_vec();
    terms.push(CrateInfo {
        name: def.name.clone(),
        version: settings.version.version.clone(),
        license: Some(settings.project_license.clone()),
        checksum: None,
    });
    spdx_and(&terms).map_err(|message| BuildError::Invalid {
        package: def.name.clone(),
        message,
    })
}

/// The SPDX 2.3 JSON SBOM of the package `def` describes, as its `sbom = true` file ships it.
pub fn package_sbom(
    def: &PackageDefinition,
    settings: &BuildSettings,
) -> Result<Vec<u8>, BuildError> {
    let crates = bundled_crates(def, settings);
    let license = license_tag(def, settings, &crates)?;
    sbom_json(def, settings, &crates, &license)
}

/// Writes the package's SBOM beside its RPM (`NAME-VERSION-RELEASE.ARCH.sbom.spdx.json` next to
/// `NAME-VERSION-RELEASE.ARCH.rpm`) when the definition ships one; returns its path.
pub fn write_sbom_beside(
    def: &PackageDefinition,
    settings: &BuildSettings,
    rpm: &Path,
) -> Result<Option<PathBuf>, BuildError> {
    if !def.files.iter().any(|f| f.source == FileSource::Sbom) {
        return Ok(None);
    }
    let file_name = rpm
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".rpm"))
        .ok_or_else(|| BuildError::Invalid {
            package: def.name.clone(),
            message: format!("{} is not a .rpm path", rpm.display()),
        })?;
    let dest = rpm.with_file_name(format!("{file_name}.sbom.spdx.json"));
    let json = package_sbom(def, settings)?;
    crate::fsutil::write_atomic(&dest, &json).map_err(|source| BuildError::Io {
        path: dest.clone(),
        source,
    })?;
    Ok(Some(dest))
}

fn sbom_json(
    def: &PackageDefinition,
    settings: &BuildSettings,
    crates: &[CrateInfo],
    license: &str,
) -> Result<Vec<u8>, BuildError> {
    let evr = settings.version.evr();
    let subject = SbomSubject {
        name: &def.name,
        evr: &evr,
        arch: &settings.arch,
        vendor: &def.vendor,
        url: &def.url,
        summary: &def.summary,
        license,
        source_date: settings.source_date,
    };
    let document = SpdxDocument::new(&subject, crates).map_err(|message| BuildError::Invalid {
        package: def.name.clone(),
        message: format!("SBOM: {message}"),
    })?;
    Ok(document.to_json())
}

/// Writes `pkg` into `dir` as NAME-VERSION-RELEASE.ARCH.rpm: temp file, fsync, rename.
pub fn write_package(pkg: &rpm::Package, dir: &Path) -> Result<PathBuf, BuildError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    let name = pkg.canonical_filename().map_err(|source| BuildError::Rpm {
        package: pkg.metadata.get_name().unwrap_or("?").to_string(),
        source,
    })?;
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut bytes = Vec::new();
    pkg.write(&mut bytes).map_err(|source| BuildError::Rpm {
        package: name.clone(),
        source,
    })?;
    let dest = dir.join(&name);
    crate::fsutil::write_atomic(&dest, &bytes).map_err(io_err(&dest))?;
    Ok(dest)
}

/// gzip with a fixed header (no name, mtime 0), so the output depends only on the input.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// A scriptlet run by /bin/sh, recorded in the header (PREINPROG and friends) as rpmbuild does.
fn shell_script(body: &str) -> rpm::Scriptlet {
    rpm::Scriptlet::new(body).prog(vec!["/bin/sh"])
}
