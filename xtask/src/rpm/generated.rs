//! Files generated from the built binaries at packaging time: the bash completion
//! (`berth completion bash`) and the man pages (`berth generate-man DIR`,
//! `berthd --generate-man DIR`).

use std::path::Path;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

/// Writes berth.bash, berth.1 and berthd.8 into `out` from the binaries in `binaries`.
pub fn generate(sh: &Shell, binaries: &Path, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    let berth = binaries.join("berth");
    let berthd = binaries.join("berthd");

    let completion = cmd!(sh, "{berth} completion bash")
        .quiet()
        .ignore_stderr()
        .read()
        .map_err(|e| {
            anyhow::anyhow!(
                "{} does not support `berth completion bash` (needed for the bash completion): {e}",
                berth.display()
            )
        })?;
    if !completion.contains("berth") {
        bail!(
            "{}: `berth completion bash` printed no completion script",
            berth.display()
        );
    }
    crate::build::host::write_atomic(
        &out.join("berth.bash"),
        format!("{completion}\n").as_bytes(),
    )?;

    for (binary, command, page) in [
        (&berth, "generate-man", "berth.1"),
        (&berthd, "--generate-man", "berthd.8"),
    ] {
        let shown = if command.starts_with('-') {
            format!("berthd {command} DIR")
        } else {
            format!("berth {command} DIR")
        };
        cmd!(sh, "{binary} {command} {out}")
            .quiet()
            .ignore_stdout()
            .run()
            .map_err(|e| {
                anyhow::anyhow!(
                    "{} does not support `{shown}` (needed for {page}): {e}",
                    binary.display()
                )
            })?;
        let path = out.join(page);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "`{shown}` ({}) did not write {}",
                binary.display(),
                path.display()
            )
        })?;
        if !text.contains(".TH") {
            bail!(
                "{}: `{shown}` wrote {page} without a .TH header",
                binary.display()
            );
        }
    }
    Ok(())
}
