//! Writes the yum repodata of one directory with berth-packaging, as its own process, so that
//! `cargo xtask bench` can time it (and read its peak RSS) next to `createrepo_c`:
//!
//! ```text
//! repodata <repo-dir>
//! ```
//!
//! `<repo-dir>/Packages/*.rpm` → `<repo-dir>/repodata/`, unsigned, reusing the entries of
//! unchanged packages from the previous repodata (the same call `cargo xtask repo` makes).

use std::path::PathBuf;

use berth_packaging::repodata::{update_repository, RepoOptions};

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [repo_dir] = args.as_slice() else {
        eprintln!("usage: repodata <repo-dir>");
        std::process::exit(2);
    };
    match update_repository(repo_dir, &RepoOptions::default()) {
        Ok(report) => println!(
            "{} packages ({} read, {} reused, {} skipped)",
            report.packages,
            report.read,
            report.reused,
            report.skipped.len()
        ),
        Err(err) => {
            eprintln!("repodata: {}: {err}", repo_dir.display());
            std::process::exit(1);
        }
    }
}
