//! `cargo xtask repo`: adds the RPMs to the yum repository under
//! bundles/repo/el/<releasever>/<basearch>/<channel>/, rewrites its signed repodata (written by
//! berth-packaging), exports the public key as bundles/repo/gpg and writes bundles/repo/berth.repo.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_packaging::repodata::{self, RepoOptions};
use berth_packaging::repofile;
use berth_packaging::signing::SigningKey;
use xshell::Shell;

use crate::binary::sources::SourceInfo;

#[derive(clap::Args)]
pub struct Args {
    /// Directory of RPMs to add [default: bundles/<version>/rpm/el7/x86_64].
    #[arg(long)]
    pub rpms: Option<PathBuf>,
    /// Channel: stable, test or nightly.
    #[arg(long, default_value = "stable")]
    pub channel: String,
    /// $releasever of the repository path.
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
}

impl Args {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let key = crate::rpm::load_key(self.gpg_key.as_deref())?;
        let written = self.publish(sh, key.as_ref())?;
        println!("{}", written.display());
        Ok(())
    }

    /// Publishes the RPMs; returns the channel directory.
    pub fn publish(self, sh: &Shell, key: Option<&SigningKey>) -> Result<PathBuf> {
        if !repofile::CHANNELS.contains(&self.channel.as_str()) {
            bail!(
                "--channel {}: must be one of {}",
                self.channel,
                repofile::CHANNELS.join(", ")
            );
        }
        let root = crate::util::project_root();
        let repo_root = root.join("bundles/repo");
        let rpm_dir = match self.rpms {
            Some(dir) => dir,
            None => {
                let version = SourceInfo::read(sh, &root)?.version;
                root.join("bundles").join(version).join("rpm/el7/x86_64")
            }
        };
        let rpms = list_rpms(&rpm_dir)?;
        let channel_dir = repo_root
            .join("el")
            .join(&self.releasever)
            .join(&self.basearch)
            .join(&self.channel);
        repodata::add_packages(&channel_dir, &rpms)?;
        let options = RepoOptions {
            keep: self.keep,
            strict: self.strict,
            key,
            ..RepoOptions::default()
        };
        let started = std::time::Instant::now();
        let report = repodata::update_repository(&channel_dir, &options)?;
        for (path, reason) in &report.skipped {
            eprintln!("warning: skipped {}: {reason}", path.display());
        }
        for path in &report.removed {
            eprintln!("removed {} (--keep)", path.display());
        }
        eprintln!(
            "repodata: {} packages ({} read, {} reused) in {:.2}s, {}",
            report.packages,
            report.read,
            report.reused,
            started.elapsed().as_secs_f64(),
            if report.signed { "signed" } else { "UNSIGNED" }
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
        Ok(channel_dir)
    }
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
