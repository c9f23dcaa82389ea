//! Every section of the generated berth.repo works: each channel (stable, test, nightly) and
//! kind (binary, debuginfo, source), for every served `$releasever` (7, 8, 9, 7Server,
//! 7Workstation), checked with `dnf makecache` after the edit `yum-config-manager --enable`
//! makes; installs with --releasever 8, 9 and 7Server from one set of RPM files; source and
//! debuginfo RPMs land in their own sections.

mod common;

use std::path::{Path, PathBuf};

use berth_packaging::channels::publish::{publish, PublishOptions};
use berth_packaging::channels::{package_files, Kind, Tree, CHANNELS, RELEASEVERS};
use berth_packaging::signing::SigningKey;
use common::dnf::{base_provides_rpm, Dnf};
use common::*;

/// The nine section names of berth.repo.
pub fn sections() -> Vec<String> {
    CHANNELS
        .iter()
        .flat_map(|c| ["", "-debuginfo", "-source"].map(|s| format!("berth-{c}{s}")))
        .collect()
}

/// `yum-config-manager --enable SECTION`: sets enabled=1 in that section, nothing else.
pub fn enable(repo_file: &str, section: &str) -> String {
    let mut current = String::new();
    repo_file
        .lines()
        .map(|line| {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                current = name.to_string();
            }
            if current == section && line.starts_with("enabled=") {
                "enabled=1\n".to_string()
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}

/// A tree at `dir/repo` with berth 1.0.0 and the base RPM published into stable, signed; its
/// public key at `dir/repo/gpg` and berth.repo pointing at file:// of the tree.
fn signed_tree(dir: &Path, key: &SigningKey) -> (Tree, String) {
    let tree = Tree::new(&dir.join("repo"), "x86_64");
    let sources = stand_in_sources(&dir.join("src-1.0"));
    let mut rpms = build_both(&sources, &settings("1.0.0"), Some(key), &dir.join("rpms"));
    rpms.push(base_provides_rpm(&dir.join("rpms-base"), key));
    let opts = PublishOptions {
        key: Some(key),
        ..PublishOptions::default()
    };
    let reports = publish(&tree, "stable", &rpms, &opts).unwrap();
    assert_eq!(reports.len(), 9, "one report per channel directory");
    key.write_public_key(&tree.root.join("gpg")).unwrap();
    let template = std::fs::read_to_string(project_root().join("repo/berth.repo.in")).unwrap();
    let base = format!("file://{}", tree.root.display());
    let repo_file = berth_packaging::repofile::render(&template, &base, true);
    (tree, repo_file)
}

#[test]
fn every_section_makes_cache_for_every_releasever() {
    require_tool("dnf");
    let dir = tempfile::tempdir().unwrap();
    let key = test_key();
    let (tree, repo_file) = signed_tree(dir.path(), &key);

    // Each section enabled in turn (stable stays enabled, as after yum-config-manager).
    for section in sections() {
        let edited = enable(&repo_file, &section);
        assert!(
            edited.contains(&format!("[{section}]\nname=")),
            "{section} missing"
        );
        let dnf = Dnf::with_repo_file(dir.path(), &section, &edited, None);
        let out = dnf.ok(&["makecache"]);
        assert!(out.contains("Metadata cache created"), "{section}: {out}");
        let listed = dnf.ok(&["repolist", "--enabled"]);
        assert!(
            listed.contains(&section),
            "{section} not enabled:\n{listed}"
        );
    }
    // Every releasever with all nine sections enabled: one missing or unsigned repomd.xml
    // fails the run (skip_if_unavailable=False).
    let all = sections()
        .iter()
        .fold(repo_file.clone(), |text, s| enable(&text, s));
    assert!(!all.contains("enabled=0"), "{all}");
    for releasever in RELEASEVERS {
        let mut dnf = Dnf::with_repo_file(dir.path(), &format!("all-{releasever}"), &all, None);
        dnf.releasever = releasever.to_string();
        let out = dnf.ok(&["makecache"]);
        assert!(
            out.contains("Metadata cache created"),
            "{releasever}: {out}"
        );
        for channel in CHANNELS {
            for kind in Kind::ALL {
                let dir = tree.channel_dir(releasever, kind, channel);
                assert!(
                    dir.join("repodata/repomd.xml.asc").is_file(),
                    "{} is not signed",
                    dir.display()
                );
            }
        }
    }
}

#[test]
fn one_rpm_file_serves_every_releasever() {
    let dir = tempfile::tempdir().unwrap();
    let key = test_key();
    let (tree, _) = signed_tree(dir.path(), &key);
    let rpm = "Packages/berth-engine-1.0.0-1.el7.x86_64.rpm";
    let real = tree.files_dir(Kind::Binary, "stable").join(rpm);
    assert!(std::fs::symlink_metadata(&real).unwrap().is_file());
    for releasever in RELEASEVERS {
        let link = tree.root.join("el").join(releasever);
        let meta = std::fs::symlink_metadata(&link).unwrap();
        if releasever == "7" {
            assert!(meta.is_dir());
        } else {
            assert!(meta.file_type().is_symlink(), "{releasever}");
            assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from("7"));
        }
        let served = tree
            .channel_dir(releasever, Kind::Binary, "stable")
            .join(rpm);
        assert_eq!(
            served.canonicalize().unwrap(),
            real.canonicalize().unwrap(),
            "{releasever}"
        );
    }
    let count = walk_rpms(&tree.root.join("el/7"));
    assert_eq!(count, 3, "each RPM is written once");
}

fn walk_rpms(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                walk_rpms(&e.path())
            } else {
                usize::from(e.file_name().to_string_lossy().ends_with(".rpm"))
            }
        })
        .sum()
}

#[test]
fn dnf_installs_with_releasever_8_9_and_7server() {
    require_tool("dnf");
    require_tool("rpm");
    let dir = tempfile::tempdir().unwrap();
    let key = test_key();
    let (tree, repo_file) = signed_tree(dir.path(), &key);
    let public = tree.root.join("gpg");
    for releasever in ["8", "9", "7Server"] {
        let mut dnf = Dnf::with_repo_file(
            dir.path(),
            &format!("install-{releasever}"),
            &repo_file,
            Some(&public),
        );
        dnf.releasever = releasever.to_string();
        dnf.ok(&["install", "berth-engine"]);
        assert_eq!(
            dnf.installed(),
            [
                "berth-cli-1.0.0-1.el7",
                "berth-engine-1.0.0-1.el7",
                "berth-test-base-1.0-1"
            ],
            "{releasever}"
        );
        assert!(dnf.root.join("usr/bin/berthd").is_file());
    }
}

#[test]
fn unknown_channel_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::new(&dir.path().join("repo"), "x86_64");
    let sources = stand_in_sources(&dir.path().join("src"));
    let rpms = build_both(&sources, &settings("1.0.0"), None, &dir.path().join("rpms"));
    let err = publish(&tree, "beta", &rpms, &PublishOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "channel \"beta\": not one of stable, test, nightly"
    );
    assert!(!tree.root.exists(), "something was written");

    // An unreadable input RPM is refused before anything is copied.
    let bad = dir.path().join("broken-1.0-1.x86_64.rpm");
    std::fs::write(&bad, b"not an rpm").unwrap();
    let mut inputs = rpms.clone();
    inputs.push(bad);
    let err = publish(&tree, "stable", &inputs, &PublishOptions::default()).unwrap_err();
    assert!(err.to_string().contains("broken-1.0-1.x86_64.rpm"), "{err}");
    assert!(!tree.root.exists(), "something was written");
}

/// A stand-in berth-debuginfo package.
fn debuginfo_rpm(dir: &Path, key: &SigningKey) -> PathBuf {
    let mut builder = rpm::PackageBuilder::new(
        "berth-debuginfo",
        "1.0.0",
        "Apache-2.0",
        "x86_64",
        "Debug information for package berth",
    );
    builder
        .using_config(rpm::BuildConfig::v4().compression(rpm::CompressionWithLevel::Gzip(1)))
        .release("1.el7")
        .with_file_contents(
            "stand-in debug info",
            rpm::FileOptions::new("/usr/lib/debug/usr/bin/berthd.debug"),
        )
        .unwrap();
    let pkg = builder.build_and_sign(key.rpm_signer().unwrap()).unwrap();
    berth_packaging::builder::write_package(&pkg, dir).unwrap()
}

#[test]
fn source_and_debuginfo_rpms_go_to_their_sections() {
    require_tool("dnf");
    require_tool("rpmbuild");
    let dir = tempfile::tempdir().unwrap();
    let key = test_key();
    let (tree, repo_file) = signed_tree(dir.path(), &key);
    let rpms = [
        source_rpm(dir.path()),
        debuginfo_rpm(&dir.path().join("debug"), &key),
    ];
    let opts = PublishOptions {
        key: Some(&key),
        ..PublishOptions::default()
    };
    publish(&tree, "test", &rpms, &opts).unwrap();
    let placed = [
        (Kind::Source, "berth-1.0.0-1.el7.src.rpm"),
        (Kind::Debuginfo, "berth-debuginfo-1.0.0-1.el7.x86_64.rpm"),
    ];
    for (kind, file) in placed {
        let path = tree.files_dir(kind, "test").join("Packages").join(file);
        assert!(path.is_file(), "{} is missing", path.display());
    }
    assert!(
        package_files(&tree.files_dir(Kind::Binary, "test"))
            .unwrap()
            .is_empty(),
        "source or debuginfo packages landed in the binary directory"
    );

    let edited = ["berth-test-source", "berth-test-debuginfo"]
        .iter()
        .fold(repo_file, |text, s| enable(&text, s));
    let mut dnf = Dnf::with_repo_file(dir.path(), "kinds", &edited, None);
    dnf.releasever = "9".to_string();
    let source = dnf.ok(&["repoquery", "--repo=berth-test-source", "--arch=src"]);
    assert!(source.contains("berth-0:1.0.0-1.el7.src"), "{source}");
    let debug = dnf.ok(&["repoquery", "--repo=berth-test-debuginfo"]);
    assert!(
        debug.contains("berth-debuginfo-0:1.0.0-1.el7.x86_64"),
        "{debug}"
    );
}
