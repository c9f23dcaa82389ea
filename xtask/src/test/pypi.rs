//! The test tools that only PyPI ships (pyspdxtools, the SPDX validator): installed into a
//! private virtualenv, with each command linked onto PATH, so the system Python is untouched.

use std::path::Path;

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

/// Commands the tests call, and the pinned PyPI requirement that provides each.
const PYPI_TOOLS: &[(&str, &str)] = &[("pyspdxtools", "spdx-tools==0.8.5")];
/// The virtualenv the tools live in.
const VENV: &str = "/opt/berth-test-tools/venv";
/// Where each tool is linked, on PATH.
const BIN_DIR: &str = "/usr/local/bin";

/// Installs every PyPI tool that is not on PATH; a tool already there is left alone.
pub fn install_missing_tools(sh: &Shell) -> Result<()> {
    let missing: Vec<&(&str, &str)> = PYPI_TOOLS
        .iter()
        .filter(|(tool, _)| super::which(tool).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let venv = Path::new(VENV);
    let pip = venv.join("bin/pip");
    if !pip.is_file() {
        println!("xtask test: creating {VENV} for the PyPI test tools");
        if cmd!(sh, "python3 -m venv {venv}").run().is_err() {
            // Debian ships ensurepip (which venv needs) separately.
            super::apt_install(sh, &["python3-venv"])?;
            cmd!(sh, "python3 -m venv {venv}")
                .run()
                .with_context(|| format!("python3 -m venv {VENV} failed"))?;
        }
    }
    let requirements: Vec<&str> = missing.iter().map(|(_, req)| *req).collect();
    println!(
        "xtask test: installing {} from PyPI",
        requirements.join(" ")
    );
    cmd!(sh, "{pip} install -q {requirements...}")
        .run()
        .context("pip install of the PyPI test tools failed")?;
    for (tool, _) in missing {
        let target = venv.join("bin").join(tool);
        let link = Path::new(BIN_DIR).join(tool);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link)
            .with_context(|| format!("link {} -> {}", link.display(), target.display()))?;
    }
    Ok(())
}
