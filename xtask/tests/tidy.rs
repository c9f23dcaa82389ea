//! Repository hygiene, checked as an ordinary test: every Rust file opens with a `//!` doc
//! comment saying what it owns, and stays near the 800-line limit of the style guide; every
//! workspace dependency is used, and every linked dependency's licence is on the allow-list.

use std::path::{Path, PathBuf};

/// "Keep files under about 800 lines": this is the "about".
const MAX_LINES: usize = 850;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Every `.rs` file of the workspace that git tracks or would track.
fn rust_sources() -> Vec<PathBuf> {
    let root = workspace_root();
    let output = std::process::Command::new("git")
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "*.rs",
        ])
        .current_dir(&root)
        .output()
        .expect("git ls-files runs");
    assert!(output.status.success(), "git ls-files failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| root.join(line))
        .filter(|path| path.is_file())
        .collect()
}

#[test]
fn every_rust_file_opens_with_a_module_doc_comment() {
    let missing: Vec<String> = rust_sources()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let first = text.lines().find(|line| !line.trim().is_empty());
            !first.is_some_and(|line| line.starts_with("//!"))
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! doc comment: {missing:#?}"
    );
}

#[test]
fn rust_files_stay_near_the_line_limit() {
    let long: Vec<String> = rust_sources()
        .into_iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(&path).ok()?.lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:#?}");
}

/// The licences a dependency of this Apache-2.0 project may carry: permissive licences whose
/// terms an Apache-2.0 binary distribution can meet (notices kept), plus MPL-2.0's file-level
/// copyleft. CDLA-Permissive-2.0 covers data (webpki-root-certs' certificate list);
/// bzip2-1.0.6 is bzip2's BSD-style licence.
const ALLOWED_LICENCES: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "Zlib",
    "MPL-2.0",
    "CC0-1.0",
    "0BSD",
    "Unlicense",
    "BSL-1.0",
    "CDLA-Permissive-2.0",
    "bzip2-1.0.6",
];

/// Licence exceptions (`X WITH exception`) that only widen what the licence allows.
const ALLOWED_EXCEPTIONS: &[&str] = &["LLVM-exception"];

/// Whether an SPDX expression (or the legacy `A/B` form, meaning `A OR B`) can be met using
/// allow-listed licences only: one allowed branch of an OR suffices, every part of an AND must
/// be allowed. An expression that does not parse is an error.
fn licence_allowed(expression: &str) -> Result<bool, String> {
    let spaced = expression
        .replace('/', " OR ")
        .replace('(', " ( ")
        .replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut position = 0;
    let allowed = parse_or(&tokens, &mut position)?;
    if position != tokens.len() {
        return Err(format!(
            "unexpected {:?} in {expression:?}",
            tokens[position]
        ));
    }
    Ok(allowed)
}

fn parse_or(tokens: &[&str], position: &mut usize) -> Result<bool, String> {
    let mut allowed = parse_and(tokens, position)?;
    while tokens.get(*position) == Some(&"OR") {
        *position += 1;
        allowed |= parse_and(tokens, position)?;
    }
    Ok(allowed)
}

fn parse_and(tokens: &[&str], position: &mut usize) -> Result<bool, String> {
    let mut allowed = parse_licence(tokens, position)?;
    while tokens.get(*position) == Some(&"AND") {
        *position += 1;
        allowed &= parse_licence(tokens, position)?;
    }
    Ok(allowed)
}

fn parse_licence(tokens: &[&str], position: &mut usize) -> Result<bool, String> {
    let token = *tokens
        .get(*position)
        .ok_or("the expression ends where a licence should be")?;
    *position += 1;
    if token == "(" {
        let allowed = parse_or(tokens, position)?;
        if tokens.get(*position) != Some(&")") {
            return Err("unbalanced parenthesis".to_owned());
        }
        *position += 1;
        return Ok(allowed);
    }
    if ["OR", "AND", "WITH", ")"].contains(&token) {
        return Err(format!("{token:?} where a licence should be"));
    }
    let mut allowed = ALLOWED_LICENCES.contains(&token);
    if tokens.get(*position) == Some(&"WITH") {
        let exception = tokens
            .get(*position + 1)
            .ok_or("WITH without an exception")?;
        allowed &= ALLOWED_EXCEPTIONS.contains(exception);
        *position += 2;
    }
    Ok(allowed)
}

/// The workspace's `cargo metadata`.
fn workspace_metadata() -> cargo_metadata::Metadata {
    cargo_metadata::MetadataCommand::new()
        .manifest_path(workspace_root().join("Cargo.toml"))
        .exec()
        .expect("cargo metadata runs")
}

#[test]
fn every_linked_dependency_has_an_allowed_licence() {
    use cargo_metadata::DependencyKind;
    let metadata = workspace_metadata();
    let resolve = metadata.resolve.as_ref().expect("cargo metadata resolves");
    let mut seen = std::collections::BTreeSet::new();
    let mut stack: Vec<&cargo_metadata::PackageId> = metadata.workspace_members.iter().collect();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let node = resolve
            .nodes
            .iter()
            .find(|node| &node.id == id)
            .expect("every package is in the resolve graph");
        for dep in &node.deps {
            if dep
                .dep_kinds
                .iter()
                .any(|kind| kind.kind == DependencyKind::Normal)
            {
                stack.push(&dep.pkg);
            }
        }
    }
    let refused: Vec<String> = metadata
        .packages
        .iter()
        .filter(|package| seen.contains(&package.id))
        .filter(|package| !metadata.workspace_members.contains(&package.id))
        .filter_map(|package| {
            let name = format!("{} {}", package.name, package.version);
            match package.license.as_deref().map(licence_allowed) {
                None => Some(format!("{name}: no licence field")),
                Some(Ok(true)) => None,
                Some(Ok(false)) => Some(format!(
                    "{name}: {:?} is not made of allowed licences",
                    package.license.as_deref().unwrap_or_default()
                )),
                Some(Err(err)) => Some(format!("{name}: licence does not parse: {err}")),
            }
        })
        .collect();
    assert!(
        refused.is_empty(),
        "dependencies whose licence is outside the allow-list ({ALLOWED_LICENCES:?}): {refused:#?}"
    );
}

#[test]
fn the_licence_check_refuses_what_is_not_allowed() {
    for allowed in [
        "MIT",
        "MIT OR Apache-2.0",
        "MIT/Apache-2.0",
        "(MIT OR Apache-2.0) AND Unicode-3.0",
        "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT",
        "MIT OR Apache-2.0 OR LGPL-2.1-or-later",
    ] {
        assert_eq!(licence_allowed(allowed), Ok(true), "{allowed}");
    }
    for refused in [
        "GPL-3.0-only",
        "MIT AND GPL-2.0-only",
        "(MIT OR Apache-2.0) AND LGPL-2.1-or-later",
        "Apache-2.0 WITH Some-exception",
        "SSPL-1.0 OR BUSL-1.1",
    ] {
        assert_eq!(licence_allowed(refused), Ok(false), "{refused}");
    }
    for malformed in ["MIT OR", "(MIT", "AND MIT", "MIT Apache-2.0"] {
        assert!(licence_allowed(malformed).is_err(), "{malformed}");
    }
}

/// Whether `source` names the crate whose library is `lib` (`lib::…`, `use lib;`,
/// `use lib as …`, `extern crate lib`), not merely a longer identifier ending in it.
fn mentions_crate(source: &str, lib: &str) -> bool {
    source.match_indices(lib).any(|(at, _)| {
        let before = source[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            return false;
        }
        let after = &source[at + lib.len()..];
        let used_whole = source[..at].trim_end().ends_with("use")
            || source[..at].trim_end().ends_with("extern crate");
        after.starts_with("::")
            || (used_whole && (after.starts_with(';') || after.starts_with(" as ")))
    })
}

/// The `[workspace.dependencies]` names of the root Cargo.toml.
fn workspace_dependency_names() -> Vec<String> {
    let text = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest["workspace"]["dependencies"]
        .as_table()
        .expect("[workspace.dependencies] is a table")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn every_workspace_dependency_is_used_by_a_member() {
    let metadata = workspace_metadata();
    let used: std::collections::BTreeSet<&str> = metadata
        .workspace_packages()
        .into_iter()
        .flat_map(|package| package.dependencies.iter().map(|dep| dep.name.as_str()))
        .collect();
    let unused: Vec<String> = workspace_dependency_names()
        .into_iter()
        .filter(|name| !used.contains(name.as_str()))
        .collect();
    assert!(
        unused.is_empty(),
        "[workspace.dependencies] entries no member uses (drop them): {unused:?}"
    );
}

#[test]
fn every_member_dependency_is_referenced_in_its_sources() {
    use cargo_metadata::DependencyKind;
    let metadata = workspace_metadata();
    let root = workspace_root();
    let sources: Vec<(PathBuf, String)> = rust_sources()
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            (path, text)
        })
        .collect();
    let mut unreferenced = Vec::new();
    for package in metadata.workspace_packages() {
        let package_dir = package.manifest_path.parent().unwrap().as_std_path();
        for dep in &package.dependencies {
            // The library name the code writes: a `package = …` rename, or the target's name
            // (md-5's library is `md5`), else the name with `-` → `_`.
            let lib = dep.rename.clone().unwrap_or_else(|| {
                metadata
                    .packages
                    .iter()
                    .find(|candidate| candidate.name.as_str() == dep.name)
                    .and_then(|candidate| candidate.targets.iter().find(|t| t.is_lib()))
                    .map(|target| target.name.clone())
                    .unwrap_or_else(|| dep.name.clone())
            });
            let lib = lib.replace('-', "_");
            // Normal dependencies are for the library and binaries (src/), build dependencies
            // for build.rs, dev dependencies for anything (tests, examples, unit tests).
            let in_scope = |path: &Path| match dep.kind {
                DependencyKind::Normal => path.starts_with(package_dir.join("src")),
                DependencyKind::Build => path == package_dir.join("build.rs"),
                _ => path.starts_with(package_dir),
            };
            let referenced = sources
                .iter()
                .filter(|(path, _)| in_scope(path))
                .any(|(_, text)| mentions_crate(text, &lib));
            if !referenced {
                unreferenced.push(format!(
                    "{} ({:?}): {} is never named as `{lib}::`/`use {lib}` under {}",
                    package.name,
                    dep.kind,
                    dep.name,
                    package_dir
                        .strip_prefix(&root)
                        .unwrap_or(package_dir)
                        .display()
                ));
            }
        }
    }
    assert!(
        unreferenced.is_empty(),
        "dependencies their member never uses (drop them): {unreferenced:#?}"
    );
}

#[test]
fn the_crate_reference_search_tells_use_from_a_longer_name() {
    assert!(mentions_crate("use serde_json::Value;", "serde_json"));
    assert!(mentions_crate("let v = hex::encode(x);", "hex"));
    assert!(mentions_crate("#[tokio::test]\nasync fn t() {}", "tokio"));
    assert!(mentions_crate("use anyhow;", "anyhow"));
    assert!(mentions_crate("extern crate libc;", "libc"));
    assert!(mentions_crate("use md5 as digest;", "md5"));
    // Violations: the crate is only a suffix, a path segment, or a word in a comment.
    assert!(!mentions_crate("let x = to_hex::encode(y);", "hex"));
    assert!(!mentions_crate("use std::fmt::Write;", "fmt"));
    assert!(!mentions_crate("// uses tokio for the runtime", "tokio"));
    assert!(!mentions_crate("use serde_json::Value;", "serde"));
}
