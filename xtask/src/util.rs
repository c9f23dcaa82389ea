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

/// The running xtask binary, for stages that run another xtask command as a child.
///
/// `/proc/self/exe`, not the path `current_exe` reports: a `cargo build` or `cargo test` that
/// ran meanwhile (as `cargo xtask test` does between its stages) may have replaced
/// target/debug/xtask, leaving that path "(deleted)". The child's own /proc/self/exe is the
/// same still-open file.
pub fn xtask_exe() -> PathBuf {
    PathBuf::from("/proc/self/exe")
}
