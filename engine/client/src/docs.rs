//! Generated documentation: shell completion scripts and the berth.1 man page, both built
//! from the clap definition so they never drift from the real flags.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

/// Prints the completion script for `shell` to stdout.
pub fn completion(shell: clap_complete::Shell) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "berth", &mut std::io::stdout());
}

/// Writes berth.1 into `dir`.
pub fn man_page(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .section("1")
        .render(&mut page)?;
    let path = dir.join("berth.1");
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
