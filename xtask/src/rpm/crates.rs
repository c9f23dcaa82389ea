//! The third-party crates linked into each engine binary, from `cargo metadata`'s resolve graph
//! and Cargo.lock's checksums: they give the License tag, the `bundled(crate(NAME)) = VERSION`
//! provides and the SBOM.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::{bail, Context, Result};
use berth_packaging::license::CrateInfo;
use cargo_metadata::{DependencyKind, MetadataCommand, PackageId};

/// The workspace license and, for each of `binaries` (package name = binary name), the
/// non-workspace crates its normal (linked) dependency closure holds for `target`.
pub fn crates_by_binary(
    project_root: &Path,
    binaries: &[&str],
    target: &str,
) -> Result<(String, BTreeMap<String, Vec<CrateInfo>>)> {
    let metadata = MetadataCommand::new()
        .manifest_path(project_root.join("Cargo.toml"))
        .other_options(vec!["--filter-platform".to_string(), target.to_string()])
        .exec()
        .context("cargo metadata failed")?;
    let resolve = metadata
        .resolve
        .as_ref()
        .context("cargo metadata returned no dependency graph")?;
    let packages: HashMap<&PackageId, &cargo_metadata::Package> =
        metadata.packages.iter().map(|p| (&p.id, p)).collect();
    let nodes: HashMap<&PackageId, &cargo_metadata::Node> =
        resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let members: BTreeSet<&PackageId> = metadata.workspace_members.iter().collect();
    let checksums = lockfile_checksums(&project_root.join("Cargo.lock"))?;

    let mut project_license = None;
    let mut out = BTreeMap::new();
    for binary in binaries {
        let root = metadata
            .packages
            .iter()
            .find(|p| p.name.as_str() == *binary && members.contains(&p.id))
            .with_context(|| format!("the workspace has no package {binary}"))?;
        project_license = project_license.or_else(|| root.license.clone());
        let mut seen: BTreeSet<&PackageId> = BTreeSet::new();
        let mut stack = vec![&root.id];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let node = nodes
                .get(id)
                .with_context(|| format!("{id} is missing from the dependency graph"))?;
            for dep in &node.deps {
                // Build scripts and proc-macros run at build time; only normal deps are linked.
                if dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind == DependencyKind::Normal)
                {
                    stack.push(&dep.pkg);
                }
            }
        }
        let mut crates: Vec<CrateInfo> = seen
            .into_iter()
            .filter(|id| !members.contains(id))
            .filter_map(|id| packages.get(id))
            .filter(|p| !is_proc_macro(p))
            .map(|p| crate_info(p, &checksums))
            .collect::<Result<_>>()?;
        crates.sort();
        out.insert(binary.to_string(), crates);
    }
    let project_license = project_license.context("the engine packages have no license field")?;
    Ok((project_license, out))
}

/// Cargo.lock's `[[package]]` entries, as far as the SBOM needs them.
#[derive(serde::Deserialize)]
struct Lockfile {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

#[derive(serde::Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
}

/// (name, version, source) → the `.crate` SHA-256 Cargo.lock records for it.
type Checksums = HashMap<(String, String, String), String>;

fn lockfile_checksums(path: &Path) -> Result<Checksums> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let lockfile: Lockfile =
        toml::from_str(&text).with_context(|| format!("{}: not a Cargo.lock", path.display()))?;
    Ok(lockfile
        .package
        .into_iter()
        .filter_map(|p| Some(((p.name, p.version, p.source?), p.checksum?)))
        .collect())
}

/// A crate with its Cargo.lock checksum; a registry crate without one is an error naming it.
fn crate_info(package: &cargo_metadata::Package, checksums: &Checksums) -> Result<CrateInfo> {
    let (name, version) = (package.name.to_string(), package.version.to_string());
    let checksum = match &package.source {
        Some(source) => {
            let key = (name.clone(), version.clone(), source.repr.clone());
            let checksum = checksums.get(&key).cloned();
            let registry = ["registry+", "sparse+"]
                .iter()
                .any(|kind| source.repr.starts_with(kind));
            if checksum.is_none() && registry {
                bail!(
                    "Cargo.lock has no checksum for {name} {version} ({})",
                    source.repr
                );
            }
            checksum
        }
        None => None,
    };
    Ok(CrateInfo {
        name,
        version,
        license: package.license.clone(),
        checksum,
    })
}

fn is_proc_macro(package: &cargo_metadata::Package) -> bool {
    package
        .targets
        .iter()
        .all(|t| t.kind.iter().any(|k| k.to_string() == "proc-macro"))
}
