//! `cargo xtask repo --channel` and `cargo xtask promote` as a user runs them: every channel
//! directory of every served releasever gets signed repodata, promotion copies once, and a bad
//! channel, releasever or version is one `Error:` line, a non-zero exit and nothing written.

mod common;

use std::path::Path;
use std::process::Command;

use common::{ok, refused, stand_in_rpms};

const CHANNELS: [&str; 3] = ["stable", "test", "nightly"];
const KINDS: [&str; 3] = ["x86_64", "debug-x86_64", "source"];
const RELEASEVERS: [&str; 5] = ["7", "8", "9", "7Server", "7Workstation"];

/// `dnf makecache` with a copy of the generated berth.repo in which every section is enabled
/// (`yum-config-manager --enable` sets enabled=1), for every served releasever.
fn makecache_with_every_section(dir: &Path, repo_file: &str) {
    let all_enabled = repo_file.replace("enabled=0", "enabled=1");
    for releasever in RELEASEVERS {
        let work = dir.join(format!("dnf-{releasever}"));
        let reposdir = work.join("repos");
        std::fs::create_dir_all(&reposdir).unwrap();
        std::fs::write(reposdir.join("berth.repo"), &all_enabled).unwrap();
        std::fs::write(work.join("dnf.conf"), "[main]\n").unwrap();
        let out = Command::new("dnf")
            .arg("-y")
            .arg(format!("--installroot={}", work.join("root").display()))
            .arg(format!("--setopt=reposdir={}", reposdir.display()))
            .arg(format!(
                "--setopt=cachedir={}",
                work.join("cache").display()
            ))
            .arg(format!("--config={}", work.join("dnf.conf").display()))
            .arg(format!("--releasever={releasever}"))
            .args(["--setopt=skip_if_unavailable=False", "makecache"])
            .output()
            .expect("run dnf");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && text.contains("Metadata cache created"),
            "dnf makecache --releasever={releasever} failed:\n{text}"
        );
        assert_eq!(text.matches("Importing GPG key").count(), 9, "{text}");
    }
}

#[test]
fn repo_and_promote_through_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.asc");
    ok(&[
        "gpg-keygen".as_ref(),
        "--out".as_ref(),
        key.as_os_str(),
        "--bits".as_ref(),
        "2048".as_ref(),
    ]);
    let rpms = stand_in_rpms(dir.path(), "0.1.0");
    let tree = dir.path().join("repo");
    let (stdout, _) = ok(&[
        "repo".as_ref(),
        "--channel".as_ref(),
        "test".as_ref(),
        "--rpms".as_ref(),
        rpms.as_os_str(),
        "--repo-dir".as_ref(),
        tree.as_os_str(),
        "--gpg-key".as_ref(),
        key.as_os_str(),
    ]);
    assert_eq!(
        stdout.trim(),
        tree.join("el/7/x86_64/test").to_str().unwrap()
    );
    for releasever in RELEASEVERS {
        for kind in KINDS {
            for channel in CHANNELS {
                let repodata = tree
                    .join("el")
                    .join(releasever)
                    .join(kind)
                    .join(channel)
                    .join("repodata");
                for file in ["repomd.xml", "repomd.xml.asc"] {
                    assert!(
                        repodata.join(file).is_file(),
                        "{}/{file} is missing",
                        repodata.display()
                    );
                }
            }
        }
    }
    let repo_file = std::fs::read_to_string(tree.join("berth.repo")).unwrap();
    assert!(repo_file.contains("[berth-test-source]"), "{repo_file}");
    makecache_with_every_section(dir.path(), &repo_file);

    let promote = |version: &str| {
        ok(&[
            "promote".as_ref(),
            "--version".as_ref(),
            version.as_ref(),
            "--from".as_ref(),
            "test".as_ref(),
            "--to".as_ref(),
            "stable".as_ref(),
            "--repo-dir".as_ref(),
            tree.as_os_str(),
            "--gpg-key".as_ref(),
            key.as_os_str(),
        ])
    };
    let (stdout, _) = promote("0.1.0");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    let stable = tree.join("el/7/x86_64/stable/Packages");
    assert!(stable.join("berth-engine-0.1.0-1.el7.x86_64.rpm").is_file());
    let (stdout, stderr) = promote("0.1.0");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("nothing to do"), "{stderr}");

    // Bad names and versions: one line, non-zero, nothing written.
    let fresh = dir.path().join("fresh");
    for (flag, value, expected) in [
        (
            "--channel",
            "beta",
            "channel \"beta\": not one of stable, test, nightly",
        ),
        ("--releasever", "6", "releasever \"6\": not served"),
    ] {
        refused(
            &[
                "repo".as_ref(),
                flag.as_ref(),
                value.as_ref(),
                "--rpms".as_ref(),
                rpms.as_os_str(),
                "--repo-dir".as_ref(),
                fresh.as_os_str(),
            ],
            expected,
        );
        assert!(!fresh.exists(), "{flag} {value} wrote {}", fresh.display());
    }
    let before = std::fs::read(tree.join("el/7/x86_64/stable/repodata/repomd.xml")).unwrap();
    refused(
        &[
            "promote".as_ref(),
            "--version".as_ref(),
            "9.9.9".as_ref(),
            "--from".as_ref(),
            "test".as_ref(),
            "--to".as_ref(),
            "stable".as_ref(),
            "--repo-dir".as_ref(),
            tree.as_os_str(),
        ],
        "version \"9.9.9\": no package of that version in the test channel",
    );
    let after = std::fs::read(tree.join("el/7/x86_64/stable/repodata/repomd.xml")).unwrap();
    assert_eq!(before, after);
    // release checks its channel before building anything.
    refused(
        &["release".as_ref(), "--channel".as_ref(), "beta".as_ref()],
        "channel \"beta\"",
    );
    refused(
        &[
            "release".as_ref(),
            "--nightly".as_ref(),
            "--channel".as_ref(),
            "stable".as_ref(),
        ],
        "--nightly goes to the nightly channel",
    );
}
