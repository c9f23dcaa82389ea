//! `cargo xtask verify-reproducible`: builds the committed HEAD from two fresh clones at
//! different paths and checks the binaries are byte-identical.
//!
//! The first build starts from an empty target cache; the second uses the usual persistent one
//! (so in CI, after `cargo xtask binary`, only the workspace crates recompile): a cold build is
//! compared with a warm one. `--cold` makes both cold.

use std::path::Path;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use super::{build_binaries, BuildOptions, BuildOutput};
use crate::build::{host, CacheArgs};

#[derive(clap::Args)]
pub struct Args {
    /// Build both clones from empty target caches (slower; by default the second reuses the
    /// persistent target cache).
    #[arg(long)]
    pub cold: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
}

impl Args {
    pub fn run(self, sh: &Shell) -> Result<()> {
        verify(sh, &crate::util::project_root(), self.cache, self.cold)
    }
}

/// Clones `project_root`'s HEAD twice, builds both and compares every binary's sha256.
pub fn verify(sh: &Shell, project_root: &Path, cache: CacheArgs, cold: bool) -> Result<()> {
    host::require_privileges("verify-reproducible")?;
    let base = BuildOptions::new(project_root.to_owned(), cache.cache_dir);
    base.cache.create()?;
    let work = tempfile::Builder::new()
        .prefix("verify-reproducible-")
        .tempdir_in(&base.cache.root)
        .context("create a work dir in the build cache")?;
    let checkouts = [
        work.path().join("one/berth"),
        work.path().join("two/deeper/berth-copy"),
    ];
    let mut outputs = Vec::new();
    for (index, checkout) in checkouts.iter().enumerate() {
        cmd!(
            sh,
            "git clone --quiet --no-hardlinks {project_root} {checkout}"
        )
        .quiet()
        .run()
        .with_context(|| format!("git clone {} failed", project_root.display()))?;
        let warm = index == 1 && !cold;
        let options = BuildOptions {
            project_root: checkout.clone(),
            cache: base.cache.clone(),
            dev_cache: (!warm).then(|| work.path().join(format!("dev-cache-{index}"))),
        };
        eprintln!("==> build {} of 2 from {}", index + 1, checkout.display());
        outputs.push(build_binaries(sh, &options)?);
    }
    let result = compare(&outputs[0], &outputs[1]);
    host::remove_tree(work.path())?;
    result
}

fn compare(one: &BuildOutput, two: &BuildOutput) -> Result<()> {
    let mut differing = Vec::new();
    for ((name, first), (_, second)) in one.binaries.iter().zip(&two.binaries) {
        let verdict = if first == second {
            "identical"
        } else {
            "DIFFERENT"
        };
        println!("{name:<14} {first} {second} {verdict}");
        if first != second {
            differing.push(name.as_str());
        }
    }
    if one.info != two.info {
        bail!(
            "build-info.json differs between the two builds: {:?} vs {:?}",
            one.info,
            two.info
        );
    }
    if !differing.is_empty() {
        bail!(
            "not reproducible: {} differ between the two checkouts",
            differing.join(", ")
        );
    }
    println!(
        "reproducible: all {} binaries are byte-identical",
        one.binaries.len()
    );
    Ok(())
}
