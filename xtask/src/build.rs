//! `cargo xtask build`: the build-container image.

use anyhow::{bail, Result};
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {}

impl Args {
    pub fn run(self, _sh: &Shell) -> Result<()> {
        bail!("cargo xtask build is not implemented yet")
    }
}
