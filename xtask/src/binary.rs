//! `cargo xtask binary`: compiling the engine inside the build container.

use anyhow::{bail, Result};
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {}

impl Args {
    pub fn run(self, _sh: &Shell) -> Result<()> {
        bail!("cargo xtask binary is not implemented yet")
    }
}
