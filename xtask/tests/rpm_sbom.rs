//! `cargo xtask rpm` with the real crate data (cargo metadata and Cargo.lock) and stand-in
//! binaries: each RPM's SBOM sits beside it, is the file the RPM installs, validates with
//! pyspdxtools, names exactly the `bundled(crate())` provides with Cargo.lock's checksums, and
//! two runs write the same bytes.
//!
//! Like every `cargo xtask rpm`, a run regenerates bundles/<version>/rpm/.generated (here from
//! the stand-ins); the next real `cargo xtask rpm` regenerates it from the real binaries.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const PACKAGES: [&str; 2] = ["berth-engine", "berth-cli"];

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not installed: run `cargo xtask test`, which installs the test tools"
    );
}

/// Runs `program ARGS` under coreutils' `timeout` (killed after `limit`); panics unless it
/// succeeds.
fn run(program: &str, args: &[&std::ffi::OsStr], limit: Duration) -> Output {
    let out = Command::new("timeout")
        .args(["--kill-after=5", &limit.as_secs().to_string(), program])
        .args(args)
        .env_remove("BERTH_GPG_KEY_FILE")
        .env("SOURCE_DATE_EPOCH", "1704164645")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Shell stand-ins for berth, berthd and berth-runtime that answer what `cargo xtask rpm` asks
/// of them (the bash completion and the man pages).
fn stand_in_binaries(dir: &Path) -> PathBuf {
    let bin = dir.join("binaries");
    std::fs::create_dir_all(&bin).unwrap();
    let scripts = [
        (
            "berth",
            "case \"$1\" in\n  completion) echo \"complete -W 'ps run' berth\" ;;\n  generate-man) printf '.TH BERTH 1\\n' > \"$2/berth.1\" ;;\nesac\n",
        ),
        (
            "berthd",
            "case \"$1\" in\n  --generate-man) printf '.TH BERTHD 8\\n' > \"$2/berthd.8\" ;;\nesac\n",
        ),
        ("berth-runtime", "echo berth-runtime stand-in\n"),
    ];
    for (name, body) in scripts {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// `cargo xtask rpm --binaries BIN --out OUT`; returns the written RPMs.
fn xtask_rpm(binaries: &Path, out: &Path) -> Vec<PathBuf> {
    let output = run(
        env!("CARGO_BIN_EXE_xtask"),
        &[
            "rpm".as_ref(),
            "--binaries".as_ref(),
            binaries.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--xz-level".as_ref(),
            "0".as_ref(),
        ],
        Duration::from_secs(300),
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(PathBuf::from)
        .collect()
}

/// (name, version) → checksum of every Cargo.lock package that has one.
fn lockfile_checksums() -> BTreeMap<(String, String), String> {
    let text = std::fs::read_to_string(project_root().join("Cargo.lock")).unwrap();
    let lock: toml::Table = toml::from_str(&text).unwrap();
    lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| {
            Some((
                (
                    p["name"].as_str()?.to_string(),
                    p["version"].as_str()?.to_string(),
                ),
                p.get("checksum")?.as_str()?.to_string(),
            ))
        })
        .collect()
}

fn bundled_provides(rpm: &Path) -> BTreeSet<(String, String)> {
    let out = run(
        "rpm",
        &["-qp".as_ref(), "--provides".as_ref(), rpm.as_os_str()],
        Duration::from_secs(60),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("bundled(crate(")?;
            let (name, version) = rest.split_once(")) = ")?;
            Some((name.to_string(), version.to_string()))
        })
        .collect()
}

/// The bytes of `path` inside `rpm`'s payload (rpm2cpio, cpio).
fn payload_file(rpm: &Path, path: &str, dir: &Path) -> Vec<u8> {
    std::fs::create_dir_all(dir).unwrap();
    let cpio = run("rpm2cpio", &[rpm.as_os_str()], Duration::from_secs(60)).stdout;
    let mut child = Command::new("cpio")
        .args(["-idm", "--quiet"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&cpio).unwrap();
    assert!(child.wait().unwrap().success(), "cpio failed on {rpm:?}");
    std::fs::read(dir.join(path.trim_start_matches('/'))).unwrap()
}

fn beside(rpm: &Path) -> PathBuf {
    let name = rpm.file_name().unwrap().to_str().unwrap();
    rpm.with_file_name(name.replace(".rpm", ".sbom.spdx.json"))
}

#[test]
fn xtask_rpm_writes_valid_reproducible_sboms_of_the_real_crates() {
    for tool in ["rpm", "rpm2cpio", "cpio", "pyspdxtools"] {
        require_tool(tool);
    }
    let dir = tempfile::tempdir().unwrap();
    let binaries = stand_in_binaries(dir.path());
    let first = xtask_rpm(&binaries, &dir.path().join("first"));
    let second = xtask_rpm(&binaries, &dir.path().join("second"));
    assert_eq!(first.len(), 2, "{first:?}");
    let checksums = lockfile_checksums();

    for (name, (rpm, again)) in PACKAGES.iter().zip(first.iter().zip(&second)) {
        let sbom_path = beside(rpm);
        let sbom =
            std::fs::read(&sbom_path).unwrap_or_else(|e| panic!("{}: {e}", sbom_path.display()));
        assert!(
            sbom == std::fs::read(beside(again)).unwrap(),
            "{name}: two runs on the same tree wrote different SBOMs"
        );
        let installed = format!("/usr/share/doc/{name}/sbom.spdx.json");
        let shipped = payload_file(rpm, &installed, &dir.path().join(format!("{name}-payload")));
        assert!(shipped == sbom, "{name}: the RPM installs another SBOM");

        // Exits non-zero and lists the problems when the document is not valid SPDX 2.3.
        run(
            "pyspdxtools",
            &[
                "--version".as_ref(),
                "SPDX-2.3".as_ref(),
                "-i".as_ref(),
                sbom_path.as_os_str(),
            ],
            Duration::from_secs(120),
        );

        let doc: serde_json::Value = serde_json::from_slice(&sbom).unwrap();
        assert_eq!(doc["creationInfo"]["created"], "2024-01-02T03:04:05Z");
        let packages = doc["packages"].as_array().unwrap();
        assert_eq!(packages[0]["name"], *name);
        let crates = &packages[1..];
        let listed: BTreeSet<(String, String)> = crates
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["versionInfo"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let provided = bundled_provides(rpm);
        assert!(provided.len() > 20, "{name}: {provided:?}");
        assert_eq!(
            listed, provided,
            "{name}: SBOM crates != bundled() provides"
        );
        for krate in crates {
            let key = (
                krate["name"].as_str().unwrap().to_string(),
                krate["versionInfo"].as_str().unwrap().to_string(),
            );
            let expected = checksums
                .get(&key)
                .unwrap_or_else(|| panic!("{key:?} has no checksum in Cargo.lock"));
            assert_eq!(krate["checksums"][0]["algorithm"], "SHA256", "{key:?}");
            assert_eq!(krate["checksums"][0]["checksumValue"], *expected, "{key:?}");
            // purl percent-encodes the `+` of semver build metadata (zstd-sys 2.1.3+zstd.1.5.7).
            assert_eq!(
                krate["externalRefs"][0]["referenceLocator"],
                format!("pkg:cargo/{}@{}", key.0, key.1.replace('+', "%2B"))
            );
            assert_ne!(krate["licenseDeclared"], "NOASSERTION", "{key:?}");
        }
    }
    // Each package lists its own binaries' crates: oci-spec is linked into berth-runtime and
    // berthd only.
    let engine = bundled_provides(&first[0]);
    let cli = bundled_provides(&first[1]);
    assert!(
        engine.iter().any(|k| k.0 == "oci-spec") && !cli.iter().any(|k| k.0 == "oci-spec"),
        "engine: {engine:?}\ncli: {cli:?}"
    );
}
