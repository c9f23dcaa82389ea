//! `cargo xtask publish --to DIR`: syncs bundles/repo (or `--repo-dir`) into a directory a
//! web server serves, in the order berth-packaging's `channels::sync` gives (packages, then
//! repodata, then repomd.xml by rename), so a client never sees a half-updated channel.

use std::path::PathBuf;

use anyhow::Result;
use berth_packaging::channels::sync::{sync, SyncOptions};
use berth_packaging::channels::Tree;
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {
    /// The served directory (nginx's `root`); created when missing.
    #[arg(long)]
    pub to: PathBuf,
    /// The repository tree to publish [default: bundles/repo].
    #[arg(long)]
    pub repo_dir: Option<PathBuf>,
    /// $basearch of the repository path.
    #[arg(long, default_value = "x86_64")]
    pub basearch: String,
    /// Remove published packages the source no longer has (after the repodata swap).
    #[arg(long)]
    pub delete: bool,
    /// How many previous repomd.xml generations keep their repodata files, for clients that
    /// read one just before a swap.
    #[arg(long, default_value_t = 3)]
    pub retain: usize,
}

impl Args {
    pub fn run(self, _sh: &Shell) -> Result<()> {
        let source = self
            .repo_dir
            .unwrap_or_else(|| crate::util::project_root().join("bundles/repo"));
        let options = SyncOptions {
            delete: self.delete,
            retain: self.retain,
        };
        let started = std::time::Instant::now();
        let report = sync(&Tree::new(&source, &self.basearch), &self.to, &options)?;
        for path in &report.copied_packages {
            println!("{}", path.display());
        }
        for path in &report.deleted_packages {
            eprintln!("deleted {} (--delete)", path.display());
        }
        eprintln!(
            "published {} to {}: {} packages copied, {} already there, {} repomd.xml swapped, \
             {} old repodata files removed, in {:.2}s",
            source.display(),
            self.to.display(),
            report.copied_packages.len(),
            report.unchanged_packages,
            report.swapped.len(),
            report.removed_repodata.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}
