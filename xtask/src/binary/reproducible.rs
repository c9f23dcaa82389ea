//! `cargo xtask verify-reproducible`: builds the committed HEAD from two checkouts at different
//! paths and checks the binaries are byte-identical.
//!
//! On a clean work tree the two checkouts are the project itself, built with the usual
//! persistent target cache (a no-op right after `cargo xtask binary`, as in CI), and a fresh
//! clone elsewhere built from an empty target cache: a warm build is compared with a cold one
//! at the cost of one cold build. With uncommitted changes, or with `--cold`, HEAD is cloned
//! twice and both clones are built from empty caches.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use super::sources::SourceInfo;
use super::{build_binaries, BuildOptions, BuildOutput};
use crate::build::{host, CacheArgs};

#[derive(clap::Args)]
pub struct Args {
    /// Build two fresh clones, both from empty target caches (slower; by default the project
    /// itself, with the persistent cache, is compared with one fresh clone built cold).
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

/// Builds HEAD from two checkout paths and compares every binary's sha256.
pub fn verify(sh: &Shell, project_root: &Path, cache: CacheArgs, cold: bool) -> Result<()> {
    host::require_privileges("verify-reproducible")?;
    let base = BuildOptions::new(project_root.to_owned(), cache.cache_dir);
    base.cache.create()?;
    let work = tempfile::Builder::new()
        .prefix("verify-reproducible-")
        .tempdir_in(&base.cache.root)
        .context("create a work dir in the build cache")?;
    let dirty = SourceInfo::read(sh, project_root)?
        .commit
        .ends_with("-dirty");
    if dirty && !cold {
        eprintln!("==> the work tree has uncommitted changes: building two clones of HEAD");
    }
    // (checkout, dev cache: None for the persistent one)
    let mut builds: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    if !dirty && !cold {
        builds.push((project_root.to_owned(), None));
    } else {
        let first = work.path().join("one/berth");
        clone(sh, project_root, &first)?;
        builds.push((first, Some(work.path().join("dev-cache-one"))));
    }
    let second = work.path().join("two/deeper/berth-copy");
    clone(sh, project_root, &second)?;
    builds.push((second, Some(work.path().join("dev-cache-two"))));

    let mut outputs = Vec::new();
    for (index, (checkout, dev_cache)) in builds.into_iter().enumerate() {
        let cache_kind = if dev_cache.is_some() {
            "an empty target cache"
        } else {
            "the persistent target cache"
        };
        eprintln!(
            "==> build {} of 2 from {}, with {cache_kind}",
            index + 1,
            checkout.display()
        );
        let options = BuildOptions {
            project_root: checkout,
            cache: base.cache.clone(),
            dev_cache,
        };
        outputs.push(build_binaries(sh, &options)?);
    }
    let result = compare(&outputs[0], &outputs[1]);
    host::remove_tree(work.path())?;
    result
}

fn clone(sh: &Shell, project_root: &Path, checkout: &Path) -> Result<()> {
    cmd!(
        sh,
        "git clone --quiet --no-hardlinks {project_root} {checkout}"
    )
    .quiet()
    .run()
    .with_context(|| format!("git clone {} failed", project_root.display()))
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
