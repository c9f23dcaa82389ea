//! Our repodata against createrepo_c's, incremental updates, --keep, corrupt input, the
//! repomd.xml signature (checked with gpg) and the atomic swap.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_packaging::repodata::{self, RepoError, RepoOptions};
use common::repo::{read_repo, repomd_data};
use common::*;

/// Builds both packages at `version` into `out`.
fn packages(
    dir: &Path,
    version: &str,
    key: Option<&berth_packaging::signing::SigningKey>,
) -> Vec<PathBuf> {
    let sources = stand_in_sources(&dir.join(format!("src-{version}")));
    build_both(
        &sources,
        &settings(version),
        key,
        &dir.join(format!("rpms-{version}")),
    )
}

#[test]
fn repodata_describes_the_same_packages_as_createrepo_c() {
    require_tool("createrepo_c");
    let dir = tempfile::tempdir().unwrap();
    let mut rpms = packages(dir.path(), "1.0.0", None);
    rpms.extend(packages(dir.path(), "1.1.0-rc.1", None));
    let ours = dir.path().join("ours");
    let theirs = dir.path().join("theirs");
    repodata::add_packages(&ours, &rpms).unwrap();
    repodata::add_packages(&theirs, &rpms).unwrap();
    let report = repodata::update_repository(&ours, &RepoOptions::default()).unwrap();
    assert_eq!((report.packages, report.read, report.reused), (4, 4, 0));
    run(Command::new("createrepo_c")
        .args(["--no-database", "--quiet"])
        .arg(&theirs));

    let ours_pkgs = read_repo(&ours);
    let theirs_pkgs = read_repo(&theirs);
    assert_eq!(ours_pkgs.len(), 4);
    assert_eq!(
        ours_pkgs.keys().collect::<Vec<_>>(),
        theirs_pkgs.keys().collect::<Vec<_>>()
    );
    for (pkgid, ours) in &ours_pkgs {
        let theirs = &theirs_pkgs[pkgid];
        assert_eq!(ours, theirs, "package {pkgid} differs from createrepo_c");
    }

    // yum 3.4.3 rules for repomd.xml: the three XML types, .gz, sha256, integer timestamps,
    // sizes, and a revision.
    let data = repomd_data(&ours);
    let kinds: Vec<&str> = data.iter().map(|d| d["type"].as_str()).collect();
    assert_eq!(kinds, ["primary", "filelists", "other"]);
    for d in &data {
        assert!(
            d["href"].starts_with("repodata/") && d["href"].ends_with(".xml.gz"),
            "{d:?}"
        );
        for field in ["checksum", "open-checksum", "size", "open-size"] {
            assert!(d.contains_key(field), "{field} missing in {d:?}");
        }
        assert!(
            d["timestamp"].parse::<u64>().is_ok(),
            "timestamp must be an integer: {d:?}"
        );
    }
    let repomd = std::fs::read_to_string(ours.join("repodata/repomd.xml")).unwrap();
    assert!(repomd.contains("<revision>"), "{repomd}");
}

#[test]
fn a_source_rpm_is_listed_as_createrepo_c_lists_it() {
    require_tool("createrepo_c");
    require_tool("rpmbuild");
    let dir = tempfile::tempdir().unwrap();
    let srpm = source_rpm(dir.path());
    let ours = dir.path().join("ours");
    let theirs = dir.path().join("theirs");
    repodata::add_packages(&ours, std::slice::from_ref(&srpm)).unwrap();
    repodata::add_packages(&theirs, &[srpm]).unwrap();
    repodata::update_repository(&ours, &RepoOptions::default()).unwrap();
    run(Command::new("createrepo_c")
        .args(["--no-database", "--quiet"])
        .arg(&theirs));
    let ours = read_repo(&ours);
    let theirs = read_repo(&theirs);
    assert_eq!(ours.len(), 1);
    assert_eq!(
        ours, theirs,
        "the source package's entry differs from createrepo_c's"
    );
    let entry = ours.values().next().unwrap();
    assert_eq!(entry.arch, "src");
}

#[test]
fn update_reuses_unchanged_entries_and_keeps_n_versions() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    repodata::add_packages(&repo, &packages(dir.path(), "1.0.0", None)).unwrap();
    let first = repodata::update_repository(&repo, &RepoOptions::default()).unwrap();
    assert_eq!((first.packages, first.read, first.reused), (2, 2, 0));

    repodata::add_packages(&repo, &packages(dir.path(), "1.1.0", None)).unwrap();
    let second = repodata::update_repository(&repo, &RepoOptions::default()).unwrap();
    assert_eq!((second.packages, second.read, second.reused), (4, 2, 2));

    // A rewritten file (other size or mtime) is read again.
    let changed = repo.join("Packages/berth-cli-1.0.0-1.el7.x86_64.rpm");
    let mut bytes = std::fs::read(&changed).unwrap();
    bytes.extend_from_slice(b"\0");
    std::fs::write(&changed, bytes).unwrap();
    let third = repodata::update_repository(&repo, &RepoOptions::default()).unwrap();
    assert_eq!((third.packages, third.read, third.reused), (4, 1, 3));
    let listed = read_repo(&repo);
    let sha = hex_sha256(&changed);
    assert!(
        listed.contains_key(&sha),
        "the changed file's new checksum is listed"
    );

    repodata::add_packages(&repo, &packages(dir.path(), "1.2.0", None)).unwrap();
    let keep = RepoOptions {
        keep: Some(2),
        ..RepoOptions::default()
    };
    let pruned = repodata::update_repository(&repo, &keep).unwrap();
    assert_eq!(pruned.packages, 4);
    let mut removed: Vec<String> = pruned
        .removed
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    removed.sort();
    assert_eq!(
        removed,
        [
            "berth-cli-1.0.0-1.el7.x86_64.rpm",
            "berth-engine-1.0.0-1.el7.x86_64.rpm"
        ]
    );
    assert!(!repo
        .join("Packages/berth-engine-1.0.0-1.el7.x86_64.rpm")
        .exists());
    let versions: std::collections::BTreeSet<String> =
        read_repo(&repo).values().map(|p| p.evr.1.clone()).collect();
    assert_eq!(versions.into_iter().collect::<Vec<_>>(), ["1.1.0", "1.2.0"]);
}

fn hex_sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn corrupt_rpm_is_skipped_with_a_warning_or_fails_under_strict() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    repodata::add_packages(&repo, &packages(dir.path(), "1.0.0", None)).unwrap();
    repodata::update_repository(&repo, &RepoOptions::default()).unwrap();
    let before = std::fs::read(repo.join("repodata/repomd.xml")).unwrap();

    let corrupt = repo.join("Packages/broken-1.0-1.x86_64.rpm");
    std::fs::write(&corrupt, b"\xed\xab\xee\xdb this is not an rpm").unwrap();
    let strict = RepoOptions {
        strict: true,
        ..RepoOptions::default()
    };
    let err = repodata::update_repository(&repo, &strict).unwrap_err();
    assert!(matches!(err, RepoError::Corrupt(_)), "{err:?}");
    assert!(err.to_string().contains("broken-1.0-1.x86_64.rpm"), "{err}");
    // Nothing half-written: the old repodata is untouched and no temp dir is left.
    assert_eq!(
        std::fs::read(repo.join("repodata/repomd.xml")).unwrap(),
        before
    );
    let leftovers: Vec<_> = std::fs::read_dir(&repo)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let report = repodata::update_repository(&repo, &RepoOptions::default()).unwrap();
    assert_eq!(report.packages, 2);
    assert_eq!(report.skipped.len(), 1);
    assert!(report.skipped[0].0.ends_with("broken-1.0-1.x86_64.rpm"));
}

#[test]
fn repomd_signature_and_public_key_verify_with_gpg() {
    require_tool("gpg");
    let dir = tempfile::tempdir().unwrap();
    let key = test_key();
    let repo = dir.path().join("repo");
    repodata::add_packages(&repo, &packages(dir.path(), "1.0.0", Some(&key))).unwrap();
    let opts = RepoOptions {
        key: Some(&key),
        ..RepoOptions::default()
    };
    let report = repodata::update_repository(&repo, &opts).unwrap();
    assert!(report.signed);
    key.write_public_key(&repo.join("gpg")).unwrap();
    let asc = std::fs::read_to_string(repo.join("repodata/repomd.xml.asc")).unwrap();
    assert!(asc.starts_with("-----BEGIN PGP SIGNATURE-----"), "{asc}");

    let home = dir.path().join("gnupg");
    std::fs::create_dir(&home).unwrap();
    let gpg = |args: &[&std::ffi::OsStr]| {
        Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args(["--batch", "--quiet"])
            .args(args)
            .output()
            .unwrap()
    };
    let imported = gpg(&["--import".as_ref(), repo.join("gpg").as_os_str()]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let sig = repo.join("repodata/repomd.xml.asc");
    let md = repo.join("repodata/repomd.xml");
    let good = gpg(&["--verify".as_ref(), sig.as_os_str(), md.as_os_str()]);
    let stderr = String::from_utf8_lossy(&good.stderr);
    assert!(
        good.status.success() && stderr.contains("Good signature"),
        "{stderr}"
    );
    assert!(
        stderr.contains("RSA"),
        "the repomd signature must be RSA: {stderr}"
    );

    let tampered = std::fs::read_to_string(&md)
        .unwrap()
        .replace("<revision>", "<revision>1");
    std::fs::write(&md, tampered).unwrap();
    let bad = gpg(&["--verify".as_ref(), sig.as_os_str(), md.as_os_str()]);
    assert!(
        !bad.status.success(),
        "a tampered repomd.xml must not verify"
    );
}

#[test]
fn swap_replaces_repodata_whole_and_cleans_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    repodata::add_packages(&repo, &packages(dir.path(), "1.0.0", None)).unwrap();
    repodata::update_repository(&repo, &RepoOptions::default()).unwrap();
    let old_files: Vec<String> = repomd_data(&repo)
        .iter()
        .map(|d| d["href"].clone())
        .collect();
    // A temp dir a crashed run left behind is removed.
    std::fs::create_dir(repo.join(".repodata.new-1-2")).unwrap();
    repodata::add_packages(&repo, &packages(dir.path(), "1.1.0", None)).unwrap();
    repodata::update_repository(&repo, &RepoOptions::default()).unwrap();
    assert!(!repo.join(".repodata.new-1-2").exists());
    for href in old_files {
        assert!(!repo.join(&href).exists(), "old {href} is still there");
    }
    for d in repomd_data(&repo) {
        assert!(repo.join(&d["href"]).exists(), "{} is missing", d["href"]);
    }
}
