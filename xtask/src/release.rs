//! `cargo xtask release`: the whole release: build, binary, rpm and repo.

use anyhow::{bail, Result};
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {}

impl Args {
    pub fn run(self, _sh: &Shell) -> Result<()> {
        bail!("cargo xtask release is not implemented yet")
    }
}
