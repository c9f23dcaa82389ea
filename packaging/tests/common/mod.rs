//! Helpers shared by the packaging integration tests: tool checks, stand-in inputs built from
//! the real package definitions, a test signing key, and command runners.
#![allow(dead_code)]

pub mod dnf;
pub mod repo;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_packaging::builder::{self, BuildSettings, SourceDirs};
use berth_packaging::definition::PackageDefinition;
use berth_packaging::license::CrateInfo;
use berth_packaging::signing::SigningKey;
use berth_packaging::version::RpmVersion;
use sha2::Digest;

/// SOURCE_DATE_EPOCH used by the tests: 2024-01-02 03:04:05 UTC.
pub const SOURCE_DATE: u32 = 1_704_164_645;

/// Fails the test when `tool` is missing, naming the fix.
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not installed: run `cargo xtask test`, which installs the test tools"
    );
}

pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs a command; panics with its output when it fails.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stdout(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&run(cmd).stdout).into_owned()
}

/// `rpm -qp --qf FORMAT FILE`.
pub fn rpm_query(rpm: &Path, format: &str) -> String {
    stdout(
        Command::new("rpm")
            .args(["-qp", "--nosignature", "--qf", format])
            .arg(rpm),
    )
}

/// Stand-in inputs: small shell scripts as the three binaries, small generated files, and the
/// real source tree (units, daemon.json, LICENSE). Small inputs keep the tests fast.
pub fn stand_in_sources(dir: &Path) -> SourceDirs {
    stand_ins(dir, |name| {
        format!("#!/bin/sh\necho '{name} stand-in'\n").into_bytes()
    })
}

/// Like [`stand_in_sources`], with static ELF binaries (copies of busybox), for rpmlint.
pub fn stand_in_sources_elf(dir: &Path) -> SourceDirs {
    stand_ins(dir, |name| {
        // A copy of busybox with the name appended, so the three files differ.
        let mut bytes = std::fs::read("/bin/busybox")
            .expect("busybox-static (/bin/busybox) is needed: run `cargo xtask test`");
        bytes.extend_from_slice(name.as_bytes());
        bytes
    })
}

fn stand_ins(dir: &Path, binary: impl Fn(&str) -> Vec<u8>) -> SourceDirs {
    let binaries = dir.join("binaries");
    let generated = dir.join("generated");
    std::fs::create_dir_all(&binaries).unwrap();
    std::fs::create_dir_all(&generated).unwrap();
    for name in ["berth", "berthd", "berth-runtime"] {
        std::fs::write(binaries.join(name), binary(name)).unwrap();
        set_executable(&binaries.join(name));
    }
    std::fs::write(
        generated.join("berth.bash"),
        "complete -W 'ps run images' berth\n",
    )
    .unwrap();
    std::fs::write(
        generated.join("berth.1"),
        ".TH BERTH 1\n.SH NAME\nberth \\- test stand-in\n",
    )
    .unwrap();
    std::fs::write(
        generated.join("berthd.8"),
        ".TH BERTHD 8\n.SH NAME\nberthd \\- test stand-in\n",
    )
    .unwrap();
    SourceDirs {
        project_root: project_root(),
        binaries,
        generated,
    }
}

pub fn settings(cargo_version: &str) -> BuildSettings {
    let mut settings = BuildSettings::new(RpmVersion::release(cargo_version).unwrap(), SOURCE_DATE);
    let krate = |name: &str, version: &str, license: &str| CrateInfo {
        name: name.into(),
        version: version.into(),
        license: Some(license.into()),
        // A stand-in .crate SHA-256, distinct per crate.
        checksum: Some(hex::encode(sha2::Sha256::digest(
            format!("{name}-{version}.crate").as_bytes(),
        ))),
    };
    let mut by_binary = BTreeMap::new();
    by_binary.insert(
        "berth".to_string(),
        vec![
            krate("clap", "4.6.0", "MIT OR Apache-2.0"),
            krate("berth", cargo_version, "Apache-2.0"),
        ],
    );
    by_binary.insert(
        "berthd".to_string(),
        vec![
            krate("serde", "1.0.200", "MIT OR Apache-2.0"),
            krate("berthd", cargo_version, "Apache-2.0"),
        ],
    );
    by_binary.insert(
        "berth-runtime".to_string(),
        vec![krate("nix", "0.32.0", "MIT")],
    );
    settings.crates_by_binary = by_binary;
    settings
}

pub fn definition(name: &str) -> PackageDefinition {
    PackageDefinition::load(&project_root().join("rpm").join(format!("{name}.toml"))).unwrap()
}

/// Builds berth-engine and berth-cli from the real definitions into `out`.
pub fn build_both(
    sources: &SourceDirs,
    settings: &BuildSettings,
    key: Option<&SigningKey>,
    out: &Path,
) -> Vec<PathBuf> {
    ["berth-engine", "berth-cli"]
        .iter()
        .map(|name| {
            let pkg = builder::build_package(&definition(name), sources, settings, key).unwrap();
            builder::write_package(&pkg, out).unwrap()
        })
        .collect()
}

/// A source RPM from Debian's rpmbuild (`-bs` of a minimal spec).
pub fn source_rpm(dir: &Path) -> PathBuf {
    let top = dir.join("rpmbuild");
    std::fs::create_dir_all(top.join("SPECS")).unwrap();
    let spec = top.join("SPECS/berth.spec");
    std::fs::write(
        &spec,
        "Name: berth\nVersion: 1.0.0\nRelease: 1.el7\nSummary: Container engine\nLicense: Apache-2.0\n\
         %description\nStand-in source package.\n%files\n",
    )
    .unwrap();
    run(Command::new("rpmbuild")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .args(["--quiet", "-bs"])
        .arg(&spec));
    top.join("SRPMS/berth-1.0.0-1.el7.src.rpm")
}

/// A fresh 2048-bit RSA key (4096 in releases; 2048 keeps the tests fast).
pub fn test_key() -> SigningKey {
    SigningKey::generate(2048, "berth test key <test@example.invalid>").unwrap()
}

/// An rpm database in `dir` with `key`'s public key imported.
pub fn rpmdb_with_key(dir: &Path, key: &SigningKey) -> PathBuf {
    let db = dir.join("rpmdb");
    std::fs::create_dir_all(&db).unwrap();
    let public = dir.join("key.pub.asc");
    std::fs::write(&public, key.public_armored().unwrap()).unwrap();
    run(Command::new("rpm")
        .arg("--dbpath")
        .arg(&db)
        .arg("--import")
        .arg(&public));
    db
}

fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
