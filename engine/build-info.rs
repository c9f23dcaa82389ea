//! Build script shared by the engine binaries (see `build = ...` in their Cargo.toml).
//!
//! It injects `BERTH_BUILD_COMMIT`, the commit the binary is built from, the way moby injects
//! it with `-ldflags -X`. `cargo xtask binary` sets the variable explicitly (the build container
//! has no git); elsewhere it is read from git, with `-dirty` when the work tree has changes.
//!
//! In a static (`+crt-static`) build it also links the binaries with
//! `--wrap=getaddrinfo --wrap=freeaddrinfo`, so no reference to glibc's NSS resolver survives;
//! a binary that still reaches those functions defines the `__wrap_` stand-ins (berthd's
//! `no_nss` module) or fails to link, which is the point.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BERTH_BUILD_COMMIT");
    let commit = std::env::var("BERTH_BUILD_COMMIT")
        .ok()
        .filter(|commit| !commit.is_empty())
        .or_else(commit_from_git)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=BERTH_BUILD_COMMIT={commit}");

    let target_features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    if target_features
        .split(',')
        .any(|feature| feature == "crt-static")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,--wrap=getaddrinfo,--wrap=freeaddrinfo");
    }
}

fn commit_from_git() -> Option<String> {
    let git_dir = git(&["rev-parse", "--absolute-git-dir"])?;
    println!("cargo:rerun-if-changed={git_dir}/HEAD");
    println!("cargo:rerun-if-changed={git_dir}/index");
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|status| !status.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
