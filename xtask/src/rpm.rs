//! `cargo xtask rpm`: packaging the binaries as RPMs.

use anyhow::{bail, Result};
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {}

impl Args {
    pub fn run(self, _sh: &Shell) -> Result<()> {
        bail!("cargo xtask rpm is not implemented yet")
    }
}
