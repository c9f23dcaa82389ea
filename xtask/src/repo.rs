//! `cargo xtask repo`: publishes the RPMs into one channel of the yum repository under
//! bundles/repo (berth-packaging's `channels`: el/7/{<basearch>,debug-<basearch>,source}/
//! <channel>/, the other releasevers linked to el/7), rewrites every channel's signed repodata,
//! exports the public key as bundles/repo/gpg and writes bundles/repo/berth.repo.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_packaging::channels::publish::{self, PublishOptions};
use berth_packaging::channels::{self, Kind, Tree};
use berth_packaging::repofile;
use berth_packaging::signing::SigningKey;
use xshell::Shell;

use crate::binary::sources::SourceInfo;

#[derive(clap::Args)]
pub struct Args {
    /// Directory of RPMs to add [default: bundles/<version>/rpm/el7/x86_64].
    #[arg(long)]
    pub rpms: Option<PathBuf>,
    /// Publish the RPMs of this version's bundles (bundles/<VERSION>/rpm/el7/x86_64)
    /// [default: the workspace's version].
    #[arg(long, conflicts_with = "rpms")]
    pub version: Option<String>,
    /// Channel: stable, test or nightly.
    #[arg(long, default_value = "stable")]
    pub channel: String,
    /// A $releasever the packages are for: 7, 8, 9, 7Server or 7Workstation. They all share
    /// el/7's files (the others are symlinks to it), so any of them gives the same tree.
    #[arg(long, default_value = "7")]
    pub releasever: String,
    /// $basearch of the repository path.
    #[arg(long, default_value = "x86_64")]
    pub basearch: String,
    /// Where bundles/repo is published; baseurl and gpgkey in berth.repo point there
    /// [default: file:// of bundles/repo].
    #[arg(long)]
    pub base_url: Option<String>,
    /// Armored RSA secret key to sign repomd.xml with; without one the repo is unsigned.
    #[arg(long, env = "BERTH_GPG_KEY_FILE")]
    pub gpg_key: Option<PathBuf>,
    /// Keep only the N newest versions of each package.
    #[arg(long)]
    pub keep: Option<usize>,
    /// Fail on an unreadable RPM instead of skipping it with a warning.
    #[arg(long)]
    pub strict: bool,
    /// The repository tree to write [default: bundles/repo].
    #[arg(long)]
    pub repo_dir: Option<PathBuf>,
}

impl Args {
    pub fn run(self, sh: &Shell) -> Result<()> {
        // Bad names fail before anything else is said or written.
        channels::check_channel(&self.channel)?;
        channels::check_releasever(&self.releasever)?;
        let key = crate::rpm::load_key(self.gpg_key.as_deref())?;
        let written = self.publish(sh, key.as_ref())?;
        println!("{}", written.display());
        Ok(())
    }

    /// Publishes every RPM of `--rpms`; returns the channel directory.
    pub fn publish(self, sh: &Shell, key: Option<&SigningKey>) -> Result<PathBuf> {
        let rpm_dir = match (&self.rpms, &self.version) {
            (Some(dir), _) => dir.clone(),
            (None, Some(version)) => {
                let dir = bundle_rpm_dir(version);
                if !dir.is_dir() {
                    bail!(
                        "--version {version}: no bundles ({} does not exist; run `cargo xtask rpm` for that version first)",
                        dir.display()
                    );
                }
                dir
            }
            (None, None) => {
                let root = crate::util::project_root();
                bundle_rpm_dir(&SourceInfo::read(sh, &root)?.version)
            }
        };
        let rpms = list_rpms(&rpm_dir)?;
        self.publish_files(&rpms, key)
    }

    /// Publishes exactly `rpms` (`--rpms` is not read); returns the channel directory.
    pub fn publish_files(self, rpms: &[PathBuf], key: Option<&SigningKey>) -> Result<PathBuf> {
        let channel = channels::check_channel(&self.channel)?;
        channels::check_releasever(&self.releasever)?;
        let root = crate::util::project_root();
        let repo_root = self.repo_dir.unwrap_or_else(|| root.join("bundles/repo"));
        let tree = Tree::new(&repo_root, &self.basearch);
        let options = PublishOptions {
            keep: self.keep,
            strict: self.strict,
            key,
        };
        let started = std::time::Instant::now();
        let reports = publish::publish(&tree, channel, rpms, &options)?;
        let mut packages = 0;
        for entry in &reports {
            for (path, reason) in &entry.report.skipped {
                eprintln!("warning: skipped {}: {reason}", path.display());
            }
            for path in &entry.report.removed {
                eprintln!("removed {} (--keep)", path.display());
            }
            if entry.channel == channel {
                packages += entry.report.packages;
            }
        }
        eprintln!(
            "repodata: {packages} packages in the {channel} channel, {} channel directories \
             rewritten in {:.2}s, {}",
            reports.len(),
            started.elapsed().as_secs_f64(),
            if key.is_some() { "signed" } else { "UNSIGNED" }
        );
        if let Some(key) = key {
            key.write_public_key(&repo_root.join("gpg"))?;
        }
        let base_url = match self.base_url {
            Some(url) => url,
            None => format!("file://{}", repo_root.display()),
        };
        let template_path = root.join("repo/berth.repo.in");
        let template = std::fs::read_to_string(&template_path)
            .with_context(|| format!("read {}", template_path.display()))?;
        let repo_file = repo_root.join("berth.repo");
        berth_packaging::fsutil::write_atomic(
            &repo_file,
            repofile::render(&template, &base_url, key.is_some()).as_bytes(),
        )
        .with_context(|| format!("write {}", repo_file.display()))?;
        eprintln!("wrote {}", repo_file.display());
        Ok(tree.channel_dir(&self.releasever, Kind::Binary, channel))
    }
}

/// Where `cargo xtask rpm` puts a version's RPMs.
fn bundle_rpm_dir(version: &str) -> PathBuf {
    crate::util::project_root()
        .join("bundles")
        .join(version)
        .join("rpm/el7/x86_64")
}

fn list_rpms(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut rpms: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("read {} (run `cargo xtask rpm` first)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rpm"))
        .collect();
    rpms.sort();
    if rpms.is_empty() {
        bail!("no RPMs in {} (run `cargo xtask rpm` first)", dir.display());
    }
    Ok(rpms)
}
