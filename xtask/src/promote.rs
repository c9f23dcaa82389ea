//! `cargo xtask promote --version V --from test --to stable`: copies the signed RPMs of one
//! version between channels of bundles/repo (no rebuild, no re-signing) and rewrites both
//! channels' repodata, signed with `--gpg-key`. Promoting twice changes nothing.

use std::path::PathBuf;

use anyhow::Result;
use berth_packaging::channels::promote::promote;
use berth_packaging::channels::publish::PublishOptions;
use berth_packaging::channels::Tree;
use berth_packaging::signing::SigningKey;
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {
    /// The version to promote: 0.1.1, 0.1.1-1.el7 or a Cargo pre-release such as 1.0.0-rc.1.
    #[arg(long)]
    pub version: String,
    /// The channel that has the version: stable, test or nightly.
    #[arg(long)]
    pub from: String,
    /// The channel to copy it to.
    #[arg(long)]
    pub to: String,
    /// $basearch of the repository path.
    #[arg(long, default_value = "x86_64")]
    pub basearch: String,
    /// Armored RSA secret key to sign the rewritten repomd.xml files with (required when the
    /// channels are signed).
    #[arg(long, env = "BERTH_GPG_KEY_FILE")]
    pub gpg_key: Option<PathBuf>,
    /// Fail on an unreadable RPM in a channel directory instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// The repository tree [default: bundles/repo].
    #[arg(long)]
    pub repo_dir: Option<PathBuf>,
}

impl Args {
    pub fn run(self, _sh: &Shell) -> Result<()> {
        let repo_root = self
            .repo_dir
            .unwrap_or_else(|| crate::util::project_root().join("bundles/repo"));
        let key = match &self.gpg_key {
            Some(path) => Some(SigningKey::load(path)?),
            None => None,
        };
        let options = PublishOptions {
            keep: None,
            strict: self.strict,
            key: key.as_ref(),
        };
        let tree = Tree::new(&repo_root, &self.basearch);
        let done = promote(&tree, &self.version, &self.from, &self.to, &options)?;
        for (path, reason) in &done.skipped {
            eprintln!("warning: skipped {}: {reason}", path.display());
        }
        for entry in &done.reports {
            for (path, reason) in &entry.report.skipped {
                eprintln!("warning: skipped {}: {reason}", path.display());
            }
        }
        for path in &done.copied {
            println!("{}", path.display());
        }
        if done.copied.is_empty() {
            eprintln!(
                "{} is already in {} ({} packages): nothing to do",
                self.version,
                self.to,
                done.already.len()
            );
        } else {
            eprintln!(
                "promoted {} from {} to {}: {} packages copied, {} already there, {} repodata \
                 directories rewritten",
                self.version,
                self.from,
                self.to,
                done.copied.len(),
                done.already.len(),
                done.reports.len()
            );
        }
        Ok(())
    }
}
