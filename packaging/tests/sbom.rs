//! The SBOM each package ships: `%doc /usr/share/doc/<package>/sbom.spdx.json`, the same bytes
//! beside the RPM, valid SPDX 2.3 by pyspdxtools (spdx-tools), naming exactly the crates of the
//! `bundled(crate())` provides, and reproducible.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_packaging::builder;
use berth_packaging::sbom::SpdxDocument;
use common::*;

const PACKAGES: [&str; 2] = ["berth-engine", "berth-cli"];

/// Unpacks `rpm`'s payload into `dir` with rpm2cpio and cpio.
fn extract(rpm: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let cpio = run(Command::new("rpm2cpio").arg(rpm)).stdout;
    let mut child = Command::new("cpio")
        .args(["-idm", "--quiet"])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&cpio).unwrap();
    assert!(child.wait().unwrap().success(), "cpio failed on {rpm:?}");
}

/// (name, version) of every `bundled(crate(NAME)) = VERSION` in `rpm -qp --provides`.
fn bundled_provides(rpm: &Path) -> BTreeSet<(String, String)> {
    stdout(Command::new("rpm").args(["-qp", "--provides"]).arg(rpm))
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("bundled(crate(")?;
            let (name, version) = rest.split_once(")) = ")?;
            Some((name.to_string(), version.to_string()))
        })
        .collect()
}

/// `pyspdxtools -i FILE`: parses the document and validates it against SPDX 2.3.
fn pyspdxtools(file: &Path) -> Output {
    Command::new("pyspdxtools")
        .args(["--version", "SPDX-2.3", "-i"])
        .arg(file)
        .output()
        .unwrap()
}

fn build(dir: &Path, settings: &builder::BuildSettings) -> Vec<(PathBuf, PathBuf)> {
    let sources = stand_in_sources(dir);
    let out = dir.join("out");
    PACKAGES
        .iter()
        .map(|name| {
            let def = definition(name);
            let pkg = builder::build_package(&def, &sources, settings, None).unwrap();
            let rpm = builder::write_package(&pkg, &out).unwrap();
            let sbom = builder::write_sbom_beside(&def, settings, &rpm)
                .unwrap()
                .expect("the definition ships an SBOM");
            (rpm, sbom)
        })
        .collect()
}

#[test]
fn each_package_ships_a_valid_sbom_naming_its_bundled_crates() {
    for tool in ["rpm", "rpm2cpio", "cpio", "pyspdxtools"] {
        require_tool(tool);
    }
    let dir = tempfile::tempdir().unwrap();
    let settings = settings("1.0.0");
    for (name, (rpm, beside)) in PACKAGES.iter().zip(build(dir.path(), &settings)) {
        let installed = format!("/usr/share/doc/{name}/sbom.spdx.json");
        assert_eq!(
            beside.file_name().unwrap().to_str().unwrap(),
            format!("{name}-1.0.0-1.el7.x86_64.sbom.spdx.json")
        );
        let files = stdout(Command::new("rpm").arg("-qlp").arg(&rpm));
        assert!(files.lines().any(|l| l == installed), "{name}: {files}");
        let docs = stdout(Command::new("rpm").arg("-qdp").arg(&rpm));
        assert!(docs.lines().any(|l| l == installed), "not %doc: {docs}");

        // The file in the payload is the file beside the RPM.
        let payload = dir.path().join(format!("{name}-payload"));
        extract(&rpm, &payload);
        let shipped = std::fs::read(payload.join(installed.trim_start_matches('/'))).unwrap();
        assert!(shipped == std::fs::read(&beside).unwrap(), "{name}");

        let check = pyspdxtools(&beside);
        assert!(
            check.status.success(),
            "{name}: pyspdxtools rejects the SBOM:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );

        let doc: SpdxDocument = serde_json::from_slice(&shipped).unwrap();
        assert_eq!(doc.spdx_version, "SPDX-2.3");
        assert_eq!(doc.creation_info.created, "2024-01-02T03:04:05Z");
        let described = &doc.packages[0];
        assert_eq!(described.name, *name);
        assert_eq!(described.version_info, "1.0.0-1.el7");
        assert_eq!(described.license_declared, rpm_query(&rpm, "%{LICENSE}"));
        assert!(doc
            .relationships
            .iter()
            .any(|r| r.spdx_element_id == "SPDXRef-DOCUMENT"
                && r.relationship_type == "DESCRIBES"
                && r.related_spdx_element == described.spdx_id));

        // Exactly the crates of the bundled(crate()) provides, each with checksum and purl.
        let crates = &doc.packages[1..];
        let listed: BTreeSet<(String, String)> = crates
            .iter()
            .map(|p| (p.name.clone(), p.version_info.clone()))
            .collect();
        let provided = bundled_provides(&rpm);
        assert!(!provided.is_empty(), "{name} bundles no crates");
        assert_eq!(
            listed, provided,
            "{name}: SBOM crates != bundled() provides"
        );
        let known = settings.crates_by_binary.values().flatten();
        let known: Vec<_> = known.collect();
        for krate in crates {
            let info = known
                .iter()
                .find(|k| k.name == krate.name && k.version == krate.version_info)
                .unwrap();
            assert_eq!(krate.checksums.len(), 1, "{}", krate.name);
            assert_eq!(krate.checksums[0].algorithm, "SHA256");
            assert_eq!(
                Some(&krate.checksums[0].checksum_value),
                info.checksum.as_ref()
            );
            assert_eq!(
                krate.external_refs[0].reference_locator,
                format!("pkg:cargo/{}@{}", krate.name, krate.version_info)
            );
            assert_eq!(krate.external_refs[0].reference_type, "purl");
            assert_eq!(krate.external_refs[0].reference_category, "PACKAGE-MANAGER");
            assert!(doc
                .relationships
                .iter()
                .any(|r| r.spdx_element_id == described.spdx_id
                    && r.relationship_type == "CONTAINS"
                    && r.related_spdx_element == krate.spdx_id));
        }
    }
}

#[test]
fn the_same_tree_gives_the_same_sbom_bytes() {
    let settings = settings("1.0.0");
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let read = |pairs: Vec<(PathBuf, PathBuf)>| -> Vec<Vec<u8>> {
        pairs
            .iter()
            .map(|(_, sbom)| std::fs::read(sbom).unwrap())
            .collect()
    };
    let one = read(build(first.path(), &settings));
    let two = read(build(second.path(), &settings));
    assert!(
        one == two,
        "two builds of the same tree wrote different SBOMs"
    );

    // Another commit time is another `created`, and so other bytes.
    let mut later = settings.clone();
    later.source_date += 86_400;
    let engine = definition("berth-engine");
    let moved = builder::package_sbom(&engine, &later).unwrap();
    let doc: SpdxDocument = serde_json::from_slice(&moved).unwrap();
    assert_eq!(doc.creation_info.created, "2024-01-03T03:04:05Z");
}

/// The validator is not a rubber stamp: a malformed checksum and purl make it fail.
#[test]
fn pyspdxtools_rejects_a_broken_sbom() {
    require_tool("pyspdxtools");
    let dir = tempfile::tempdir().unwrap();
    let sbom = builder::package_sbom(&definition("berth-engine"), &settings("1.0.0")).unwrap();
    let mut doc: SpdxDocument = serde_json::from_slice(&sbom).unwrap();
    doc.packages[1].checksums[0].checksum_value = "not-a-sha256".into();
    let broken = dir.path().join("broken.spdx.json");
    std::fs::write(&broken, doc.to_json()).unwrap();
    let check = pyspdxtools(&broken);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(!check.status.success(), "pyspdxtools accepted:\n{text}");
    assert!(text.contains("not-a-sha256"), "{text}");
}
