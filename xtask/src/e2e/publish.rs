//! The repo side of the e2e test: release N with `cargo xtask gpg-keygen` and
//! `cargo xtask release`, serve a private copy of bundles/repo on 127.0.0.1 (so the test never
//! leaves N+1 in the developer's repo), and publish N+1 into that copy by repackaging N's
//! payload under a higher version with berth-packaging (the same binaries, signed with the
//! same key).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_packaging::builder::{self, BuildSettings, SourceDirs};
use berth_packaging::definition::{FileSource, PackageDefinition};
use berth_packaging::repodata::{self, RepoOptions};
use berth_packaging::signing::SigningKey;
use berth_packaging::version::RpmVersion;
use sha2::{Digest, Sha256};
use xshell::{cmd, Shell};

use super::http::StaticServer;
use super::scratch::ScratchDir;
use crate::util::project_root;

/// The channel the e2e host installs from (the only one berth.repo enables).
const CHANNEL: &str = "el/7/x86_64/stable";
const PACKAGES: [&str; 2] = ["berth-engine", "berth-cli"];

/// Makes a throwaway RSA key and runs `cargo xtask release` with it. Returns the key file.
pub fn release_n(sh: &Shell, bundles: &Path, host_build: bool) -> Result<PathBuf> {
    let key = bundles.join("e2e/throwaway.key");
    // This very xtask binary: no nested cargo, no second build lock.
    let xtask = crate::util::xtask_exe();
    cmd!(sh, "{xtask} gpg-keygen --out {key} --bits 2048 --user-id 'berth e2e throwaway key <e2e@example.invalid>'")
        .run()
        .context("`cargo xtask gpg-keygen` could not make the throwaway release key")?;
    let host_build = host_build.then_some("--host-build");
    cmd!(sh, "{xtask} release --gpg-key {key} {host_build...}")
        .run()
        .context("`cargo xtask release` could not build version N and the repo")?;
    Ok(key)
}

/// A copy of bundles/repo served over http on 127.0.0.1.
pub struct ServedRepo {
    server: StaticServer,
    dir: ScratchDir,
}

impl ServedRepo {
    pub fn start(bundles: &Path) -> Result<Self> {
        let source = bundles.join("repo");
        if !source.join("berth.repo").is_file() {
            bail!(
                "{} is missing: `cargo xtask release` has not produced the repo (drop --skip-build)",
                source.join("berth.repo").display()
            );
        }
        let dir = ScratchDir::new(Path::new("/var/tmp"), "berth-e2e-repo")?;
        copy_tree(&source, dir.path())?;
        let server = StaticServer::start(dir.path())?;
        println!(
            "e2e: serving a copy of {} at {}",
            source.display(),
            server.base_url()
        );
        Ok(ServedRepo { server, dir })
    }

    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn requests(&self) -> Vec<String> {
        self.server.requests()
    }

    pub fn repo_file(&self) -> Result<String> {
        let path = self.dir.path().join("berth.repo");
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    }

    /// Repackages the served N's payload as `next` (N+1), signs it with `key` and updates the
    /// served repo's metadata.
    pub fn publish_next(
        &self,
        sh: &Shell,
        key: Option<&Path>,
        version: &str,
        next: &str,
    ) -> Result<()> {
        let Some(key) = key else {
            bail!(
                "publishing N+1 needs the release key: drop --skip-build, or pass --gpg-key FILE"
            );
        };
        let key = SigningKey::load(key)
            .with_context(|| format!("loading the release key {}", key.display()))?;
        let channel = self.dir.path().join(CHANNEL);
        let work = ScratchDir::new(Path::new("/var/tmp"), "berth-e2e-next")?;
        let (binaries, generated, out) = (
            work.path().join("binaries"),
            work.path().join("generated"),
            work.path().join("rpms"),
        );
        let root = project_root();
        let rpm_version =
            RpmVersion::release(next).with_context(|| format!("N+1 version {next}"))?;
        let source_date = u32::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs(),
        )?;
        let mut settings = BuildSettings::new(rpm_version, source_date);
        settings.changelog = format!("- berth {next}: e2e repackaging of {version}");
        let dirs = SourceDirs {
            project_root: root.clone(),
            binaries: binaries.clone(),
            generated: generated.clone(),
        };
        for name in PACKAGES {
            let rpm = find_rpm(&channel.join("Packages"), name, version)?;
            let payload = work.path().join(format!("{name}-payload"));
            extract(sh, &rpm, &payload)?;
            let definition_path = root.join("rpm").join(format!("{name}.toml"));
            let definition = PackageDefinition::load(&definition_path)
                .with_context(|| format!("loading {}", definition_path.display()))?;
            for file in &definition.files {
                let shipped = payload.join(file.path.trim_start_matches('/'));
                let destination = match &file.source {
                    FileSource::Binary(binary) => binaries.join(binary),
                    FileSource::Generated(generated_name) => generated.join(generated_name),
                    FileSource::Tree(_) | FileSource::Sbom => continue,
                };
                if let Some(parent) = destination.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                if file.gzip {
                    let plain = cmd!(sh, "gzip -dc {shipped}").quiet().output()?.stdout;
                    std::fs::write(&destination, plain)?;
                } else {
                    std::fs::copy(&shipped, &destination)
                        .with_context(|| format!("{} is not in {}", file.path, rpm.display()))?;
                }
            }
            let package = builder::build_package(&definition, &dirs, &settings, Some(&key))
                .with_context(|| format!("repackaging {name} as {next}"))?;
            let written = builder::write_package(&package, &out)?;
            println!("e2e: built {}", written.display());
        }
        let rpms: Vec<PathBuf> = std::fs::read_dir(&out)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        repodata::add_packages(&channel, &rpms)?;
        let options = RepoOptions {
            key: Some(&key),
            strict: true,
            ..RepoOptions::default()
        };
        let report = repodata::update_repository(&channel, &options)?;
        println!(
            "e2e: published {next}: the served repo now has {} packages",
            report.packages
        );
        Ok(())
    }
}

/// The RPM of `name` at `version` in a Packages dir.
fn find_rpm(packages: &Path, name: &str, version: &str) -> Result<PathBuf> {
    let prefix = format!("{name}-{version}-");
    let found = std::fs::read_dir(packages)
        .with_context(|| format!("reading {}", packages.display()))?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".rpm"))
        });
    found.with_context(|| format!("no {prefix}*.rpm in {}", packages.display()))
}

/// Unpacks an RPM's payload into `dir` (rpm2cpio | cpio) and checks every file against the
/// SHA-256 digest in the RPM header. rpm2cpio's exit status is not trusted either way: it
/// reports failure for packages without an archive-size tag even when the archive is whole.
fn extract(sh: &Shell, rpm: &Path, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let archive = cmd!(sh, "rpm2cpio {rpm}")
        .quiet()
        .ignore_status()
        .output()?
        .stdout;
    if archive.is_empty() {
        bail!("rpm2cpio {} printed no archive", rpm.display());
    }
    cmd!(sh, "cpio -idm --quiet -D {dir}")
        .quiet()
        .stdin(archive)
        .run()
        .with_context(|| format!("unpacking {}", rpm.display()))?;
    let query = "[%{FILENAMES}\t%{FILEDIGESTS}\n]";
    let listing = cmd!(sh, "rpm -qp --qf {query} {rpm}")
        .quiet()
        .ignore_stderr()
        .read()?;
    let mut verified = 0;
    for line in listing.lines() {
        let Some((path, digest)) = line.split_once('\t') else {
            bail!(
                "unexpected `rpm -qp --qf` output for {}: {line}",
                rpm.display()
            );
        };
        if digest.is_empty() {
            continue;
        }
        let file = dir.join(path.trim_start_matches('/'));
        let bytes = std::fs::read(&file)
            .with_context(|| format!("{path} of {} did not unpack", rpm.display()))?;
        if hex::encode(Sha256::digest(&bytes)) != digest {
            bail!(
                "{path} unpacked from {} does not match its header digest",
                rpm.display()
            );
        }
        verified += 1;
    }
    if verified == 0 {
        bail!(
            "no file digests in {} to check the unpacked payload against",
            rpm.display()
        );
    }
    println!(
        "e2e: unpacked {} ({verified} files match their digests)",
        rpm.display()
    );
    Ok(())
}

/// Copies a directory tree of regular files and directories.
fn copy_tree(source: &Path, destination: &Path) -> Result<()> {
    std::fs::create_dir_all(destination)?;
    for entry in
        std::fs::read_dir(source).with_context(|| format!("reading {}", source.display()))?
    {
        let entry = entry?;
        let target = destination.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        } else if kind.is_symlink() {
            // el/8, el/9, el/7Server, ... are links to el/7.
            let link = std::fs::read_link(entry.path())?;
            std::os::unix::fs::symlink(&link, &target)
                .with_context(|| format!("linking {}", target.display()))?;
        }
    }
    Ok(())
}
