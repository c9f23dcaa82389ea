//! `cargo xtask repo`: the yum repository.

use anyhow::{bail, Result};
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {}

impl Args {
    pub fn run(self, _sh: &Shell) -> Result<()> {
        bail!("cargo xtask repo is not implemented yet")
    }
}
