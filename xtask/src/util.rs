//! Helpers shared by the xtask stages: the project root and a shell rooted there.

use std::path::{Path, PathBuf};

use anyhow::Result;
use xshell::Shell;

/// The workspace root (the parent of xtask/).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A shell whose current directory is the workspace root.
pub fn project_shell() -> Result<Shell> {
    let sh = Shell::new()?;
    sh.change_dir(project_root());
    Ok(sh)
}
