//! `cargo xtask bench`: side-by-side benchmarks against the anchors, written to docs/benchmarks.md.

use anyhow::{bail, Result};
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {}

impl Args {
    pub fn run(self, _sh: &Shell) -> Result<()> {
        bail!("cargo xtask bench is not implemented yet")
    }
}
