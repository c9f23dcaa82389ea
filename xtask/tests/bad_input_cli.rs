//! Bad input to `cargo xtask repo`, `promote` and `release` as a user meets it: a `--version`
//! with no bundles, a corrupt RPM in a channel directory (a warning naming it, or under
//! `--strict` an error) and a key that cannot sign each give one line naming the item, a
//! non-zero exit where it is an error, and leave the repository tree as it was.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ok, refused, stand_in_rpms};

/// Every file under `root` (links as their target) with its bytes: "nothing was written".
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(listing) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in listing {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                files.insert(path, target.into_os_string().into_encoded_bytes());
            } else if meta.is_dir() {
                pending.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// Fails naming the paths that were added, removed or changed since `before`.
fn assert_unchanged(root: &Path, before: &BTreeMap<PathBuf, Vec<u8>>, what: &str) {
    let after = snapshot(root);
    let changed: Vec<&PathBuf> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .collect();
    assert!(changed.is_empty(), "{what} changed the tree: {changed:?}");
}

fn keygen(dir: &Path) -> PathBuf {
    let key = dir.join("key.asc");
    ok(&[
        "gpg-keygen".as_ref(),
        "--out".as_ref(),
        key.as_os_str(),
        "--bits".as_ref(),
        "2048".as_ref(),
    ]);
    key
}

fn repo_args<'a>(rpms: &'a Path, tree: &'a Path, key: &'a Path) -> Vec<&'a OsStr> {
    vec![
        "repo".as_ref(),
        "--rpms".as_ref(),
        rpms.as_os_str(),
        "--repo-dir".as_ref(),
        tree.as_os_str(),
        "--gpg-key".as_ref(),
        key.as_os_str(),
    ]
}

#[test]
fn a_corrupt_rpm_in_a_channel_is_named_and_strict_refuses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let key = keygen(dir);
    let tree = dir.join("repo");
    ok(&repo_args(&stand_in_rpms(dir, "0.1.0"), &tree, &key));
    let broken = tree.join("el/7/x86_64/test/Packages/berth-engine-0.0.9-1.el7.x86_64.rpm");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    std::fs::write(&broken, b"not an rpm at all").unwrap();

    // --strict: one line naming the file, and nothing written (0.1.1 is not added anywhere).
    let before = snapshot(&tree);
    let rpms_011 = stand_in_rpms(dir, "0.1.1");
    let mut strict = repo_args(&rpms_011, &tree, &key);
    strict.push("--strict".as_ref());
    refused(&strict, broken.to_str().unwrap());
    assert_unchanged(&tree, &before, "--strict");

    // Without --strict: published, with one warning line naming the file.
    let (_, stderr) = ok(&repo_args(&rpms_011, &tree, &key));
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].starts_with(&format!("warning: skipped {}: ", broken.display())),
        "{stderr}"
    );
    assert!(tree
        .join("el/7/x86_64/stable/Packages/berth-engine-0.1.1-1.el7.x86_64.rpm")
        .is_file());
}

#[test]
fn a_version_with_no_bundles_is_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let key = keygen(tmp.path());
    let tree = tmp.path().join("repo");
    refused(
        &[
            "repo".as_ref(),
            "--version".as_ref(),
            "9.9.9-nonexistent".as_ref(),
            "--repo-dir".as_ref(),
            tree.as_os_str(),
            "--gpg-key".as_ref(),
            key.as_os_str(),
        ],
        "--version 9.9.9-nonexistent: no bundles (",
    );
    assert!(!tree.exists());
}

#[test]
fn a_key_that_cannot_sign_is_one_line_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let key = keygen(dir);
    let rpms = stand_in_rpms(dir, "0.1.0");
    let tree = dir.join("repo");
    ok(&repo_args(&rpms, &tree, &key));

    // gpg-keygen wrote the public half beside the secret key.
    let public_only = dir.join("key.asc.pub");
    let garbage = dir.join("garbage.asc");
    std::fs::write(&garbage, [0xff_u8, 0x00, 0x13, 0x37].repeat(64)).unwrap();
    let text_garbage = dir.join("text.asc");
    std::fs::write(
        &text_garbage,
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nnope\n",
    )
    .unwrap();
    let mut bad_keys = vec![
        (public_only, "not an armored OpenPGP secret key"),
        (garbage, "not an armored OpenPGP secret key"),
        (text_garbage, "not an armored OpenPGP secret key"),
    ];
    if let Some(locked) = passphrase_protected_key(dir) {
        bad_keys.push((locked, "this key cannot sign"));
    }

    let before = snapshot(&tree);
    for (bad, expected) in &bad_keys {
        let name = bad.to_str().unwrap();
        let rpms_011 = stand_in_rpms(dir, "0.1.1");
        refused(
            &repo_args(&rpms_011, &tree, bad),
            &format!("{name}: {expected}"),
        );
        refused(
            &[
                "promote".as_ref(),
                "--version".as_ref(),
                "0.1.0".as_ref(),
                "--from".as_ref(),
                "stable".as_ref(),
                "--to".as_ref(),
                "test".as_ref(),
                "--repo-dir".as_ref(),
                tree.as_os_str(),
                "--gpg-key".as_ref(),
                bad.as_os_str(),
            ],
            &format!("{name}: {expected}"),
        );
        // release checks the key before its (long) build.
        refused(
            &["release".as_ref(), "--gpg-key".as_ref(), bad.as_os_str()],
            &format!("{name}: {expected}"),
        );
        assert_unchanged(&tree, &before, name);
    }
}

/// An RSA secret key protected by a passphrase, made by gpg in a throwaway home (its agent is
/// stopped afterwards); None when gpg cannot make one here.
fn passphrase_protected_key(dir: &Path) -> Option<PathBuf> {
    let home = dir.join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        Command::new("timeout")
            .arg("60")
            .arg("gpg")
            .arg("--homedir")
            .arg(&home)
            .args([
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "secret",
            ])
            .args(args)
            .output()
            .expect("run gpg")
    };
    let made = gpg(&[
        "--quick-gen-key",
        "Locked <locked@berth.test>",
        "rsa2048",
        "sign",
        "never",
    ]);
    let exported = gpg(&["--armor", "--export-secret-keys"]);
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(&home)
        .args(["--kill", "gpg-agent"])
        .status();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(exported.status.success() && !exported.stdout.is_empty());
    let locked = dir.join("locked.asc");
    std::fs::write(&locked, exported.stdout).unwrap();
    Some(locked)
}
