//! Helpers shared by the xtask command-line tests: running `cargo xtask` as a user does and
//! stand-in RPMs built from the real package definitions.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_packaging::builder::{self, BuildSettings, SourceDirs};
use berth_packaging::definition::PackageDefinition;
use berth_packaging::version::RpmVersion;

pub mod nginx;

pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

pub fn xtask(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env_remove("BERTH_GPG_KEY_FILE")
        // anyhow adds a backtrace to the error line when these ask for one.
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("run xtask")
}

pub fn ok(args: &[&std::ffi::OsStr]) -> (String, String) {
    let out = xtask(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "xtask {args:?} failed:\n{stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// Fails with exactly one line on stderr, which contains `expected`.
pub fn refused(args: &[&std::ffi::OsStr], expected: &str) {
    let out = xtask(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "xtask {args:?} succeeded");
    assert_eq!(stderr.lines().count(), 1, "not one line:\n{stderr}");
    assert!(
        stderr.starts_with("Error: ") && stderr.contains(expected),
        "{stderr}"
    );
}

/// berth-engine and berth-cli `version` built from shell-script stand-ins, unsigned RPM files.
pub fn stand_in_rpms(dir: &Path, version: &str) -> PathBuf {
    let binaries = dir.join(format!("binaries-{version}"));
    let generated = dir.join(format!("generated-{version}"));
    std::fs::create_dir_all(&binaries).unwrap();
    std::fs::create_dir_all(&generated).unwrap();
    for name in ["berth", "berthd", "berth-runtime"] {
        std::fs::write(
            binaries.join(name),
            format!("#!/bin/sh\necho {name} {version}\n"),
        )
        .unwrap();
    }
    for (name, text) in [
        ("berth.bash", "complete -W ps berth\n"),
        ("berth.1", ".TH BERTH 1\n"),
        ("berthd.8", ".TH BERTHD 8\n"),
    ] {
        std::fs::write(generated.join(name), text).unwrap();
    }
    let dirs = SourceDirs {
        project_root: project_root(),
        binaries,
        generated,
    };
    let settings = BuildSettings::new(RpmVersion::release(version).unwrap(), 1_704_164_645);
    let out = dir.join(format!("rpms-{version}"));
    for name in ["berth-engine", "berth-cli"] {
        let definition =
            PackageDefinition::load(&project_root().join("rpm").join(format!("{name}.toml")))
                .unwrap();
        let pkg = builder::build_package(&definition, &dirs, &settings, None).unwrap();
        builder::write_package(&pkg, &out).unwrap();
    }
    out
}
