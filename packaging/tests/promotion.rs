//! A channel's version history (every published version, `--keep N`), `dnf downgrade` that
//! keeps an edited daemon.json, promotion from test to stable (byte-identical signed RPMs,
//! idempotent, clear errors), and nightlies sorting between releases by rpm's own comparison.

mod common;

use std::path::PathBuf;
use std::process::Command;

use berth_packaging::channels::promote::promote;
use berth_packaging::channels::publish::{publish, PublishOptions};
use berth_packaging::channels::{ChannelError, Kind, Tree};
use berth_packaging::signing::SigningKey;
use berth_packaging::version::RpmVersion;
use common::dnf::{base_provides_rpm, Dnf};
use common::repo::read_repo;
use common::*;

struct Fixture {
    dir: tempfile::TempDir,
    key: SigningKey,
    tree: Tree,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::new(&dir.path().join("repo"), "x86_64");
        let key = test_key();
        key.write_public_key(&dir.path().join("gpg")).unwrap();
        Fixture { dir, key, tree }
    }

    fn opts(&self) -> PublishOptions<'_> {
        PublishOptions {
            key: Some(&self.key),
            ..PublishOptions::default()
        }
    }

    /// Builds berth `version` from stand-ins (plus the base RPM) and publishes it.
    fn publish(&self, version: &str, channel: &str, keep: Option<usize>) {
        let sources = stand_in_sources(&self.dir.path().join(format!("src-{version}")));
        let out = self.dir.path().join(format!("rpms-{version}"));
        let mut rpms = build_both(&sources, &settings(version), Some(&self.key), &out);
        rpms.push(base_provides_rpm(&out, &self.key));
        let opts = PublishOptions {
            keep,
            ..self.opts()
        };
        publish(&self.tree, channel, &rpms, &opts).unwrap();
    }

    fn channel_dir(&self, channel: &str) -> PathBuf {
        self.tree.files_dir(Kind::Binary, channel)
    }

    fn versions(&self, channel: &str) -> Vec<String> {
        let mut versions: Vec<String> = read_repo(&self.channel_dir(channel))
            .values()
            .filter(|p| p.name == "berth-engine")
            .map(|p| p.evr.1.clone())
            .collect();
        versions.sort();
        versions
    }

    /// dnf with only `section` of berth.repo enabled (the yum-config-manager edit).
    fn dnf(&self, name: &str, section: &str) -> Dnf {
        let repo_file: String = ["stable", "test", "nightly"]
            .iter()
            .map(|channel| {
                let enabled = u8::from(format!("berth-{channel}") == section);
                format!(
                    "[berth-{channel}]\nname=berth {channel}\nbaseurl=file://{}/el/$releasever/$basearch/{channel}\nenabled={enabled}\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://{}/gpg\nmetadata_expire=0\n",
                    self.tree.root.display(),
                    self.dir.path().display()
                )
            })
            .collect();
        let key = self.dir.path().join("gpg");
        Dnf::with_repo_file(self.dir.path(), name, &repo_file, Some(&key))
    }
}

#[test]
fn a_channel_keeps_every_version_and_downgrade_keeps_edited_config() {
    require_tool("dnf");
    require_tool("rpm");
    let fx = Fixture::new();
    fx.publish("0.1.0", "test", None);
    fx.publish("0.1.1", "test", None);
    assert_eq!(fx.versions("test"), ["0.1.0", "0.1.1"]);

    let dnf = fx.dnf("history", "berth-test");
    let list = dnf.ok(&["list", "--showduplicates", "berth-engine"]);
    for evr in ["0.1.0-1.el7", "0.1.1-1.el7"] {
        assert!(
            list.lines()
                .any(|l| l.starts_with("berth-engine") && l.contains(evr)),
            "{evr} not listed:\n{list}"
        );
    }
    dnf.ok(&["install", "berth-engine"]);
    assert!(dnf
        .installed()
        .contains(&"berth-engine-0.1.1-1.el7".to_string()));
    let daemon_json = dnf.root.join("etc/berth/daemon.json");
    let edited = std::fs::read_to_string(&daemon_json).unwrap().replace(
        "\"registry-mirrors\": []",
        "\"registry-mirrors\": [\"https://mirror.example.invalid\"]",
    );
    assert!(edited.contains("mirror.example.invalid"));
    std::fs::write(&daemon_json, &edited).unwrap();

    dnf.ok(&["downgrade", "berth-engine", "berth-cli"]);
    assert_eq!(
        dnf.installed(),
        [
            "berth-cli-0.1.0-1.el7",
            "berth-engine-0.1.0-1.el7",
            "berth-test-base-1.0-1"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&daemon_json).unwrap(),
        edited,
        "the downgrade replaced the edited daemon.json"
    );
}

#[test]
fn keep_trims_only_the_channel_published_to() {
    let fx = Fixture::new();
    fx.publish("0.1.0", "stable", None);
    fx.publish("0.1.0", "test", None);
    fx.publish("0.1.1", "test", None);
    fx.publish("0.1.2", "test", Some(2));
    assert_eq!(fx.versions("test"), ["0.1.1", "0.1.2"]);
    assert_eq!(fx.versions("stable"), ["0.1.0"]);
    assert!(!fx
        .channel_dir("test")
        .join("Packages/berth-engine-0.1.0-1.el7.x86_64.rpm")
        .exists());
}

#[test]
fn promotion_copies_the_signed_rpms_once() {
    require_tool("dnf");
    let fx = Fixture::new();
    fx.publish("0.1.0", "test", None);
    fx.publish("0.1.1", "test", None);
    assert!(fx.versions("stable").is_empty());

    let done = promote(&fx.tree, "0.1.1", "test", "stable", &fx.opts()).unwrap();
    let mut copied: Vec<String> = done
        .copied
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    copied.sort();
    assert_eq!(
        copied,
        [
            "berth-cli-0.1.1-1.el7.x86_64.rpm",
            "berth-engine-0.1.1-1.el7.x86_64.rpm"
        ]
    );
    for name in &copied {
        let from = fx.channel_dir("test").join("Packages").join(name);
        let to = fx.channel_dir("stable").join("Packages").join(name);
        assert_eq!(
            std::fs::read(&from).unwrap(),
            std::fs::read(&to).unwrap(),
            "{name} was rebuilt or re-signed"
        );
    }
    assert_eq!(fx.versions("stable"), ["0.1.1"]);
    assert_eq!(fx.versions("test"), ["0.1.0", "0.1.1"]);
    // Installs from stable with gpgcheck=1 and repo_gpgcheck=1 (the base RPM is in test only,
    // so enable both).
    let dnf = fx.dnf("promoted", "berth-stable");
    dnf.ok(&["--enablerepo=berth-test", "install", "berth-engine"]);
    let out = dnf.ok(&["list", "--installed", "berth-engine"]);
    assert!(out.contains("0.1.1-1.el7"), "{out}");

    // Twice: nothing is written, not even repodata.
    let repomd = fx.channel_dir("stable").join("repodata/repomd.xml");
    let before = (
        std::fs::read(&repomd).unwrap(),
        std::fs::metadata(&repomd).unwrap().modified().unwrap(),
    );
    let again = promote(&fx.tree, "0.1.1-1.el7", "test", "stable", &fx.opts()).unwrap();
    assert!(again.copied.is_empty() && again.reports.is_empty());
    assert_eq!(again.already.len(), 2);
    let after = (
        std::fs::read(&repomd).unwrap(),
        std::fs::metadata(&repomd).unwrap().modified().unwrap(),
    );
    assert!(before == after, "promoting twice rewrote stable's repodata");

    // A version test does not have.
    let err = promote(&fx.tree, "9.9.9", "test", "stable", &fx.opts()).unwrap_err();
    assert!(
        matches!(err, ChannelError::VersionMissing { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "version \"9.9.9\": no package of that version in the test channel"
    );
    // Signed channels without the key: refused before anything is copied.
    let unsigned = PublishOptions::default();
    let err = promote(&fx.tree, "0.1.0", "test", "stable", &unsigned).unwrap_err();
    assert!(matches!(err, ChannelError::KeyNeeded(_)), "{err:?}");
    assert_eq!(fx.versions("stable"), ["0.1.1"]);
    assert!(!fx
        .channel_dir("stable")
        .join("Packages/berth-engine-0.1.0-1.el7.x86_64.rpm")
        .exists());
    let err = promote(&fx.tree, "0.1.0", "test", "test", &fx.opts()).unwrap_err();
    assert!(matches!(err, ChannelError::SameChannel(_)), "{err:?}");
    let err = promote(&fx.tree, "0.1.0", "test", "beta", &fx.opts()).unwrap_err();
    assert!(matches!(err, ChannelError::UnknownChannel(_)), "{err:?}");
}

/// rpm's own EVR comparison: -1, 0 or 1.
fn rpm_vercmp(a: &str, b: &str) -> i32 {
    let out = stdout(
        Command::new("rpm")
            .arg("--eval")
            .arg(format!("%{{lua: print(rpm.vercmp(\"{a}\", \"{b}\"))}}")),
    );
    out.trim().parse().unwrap()
}

#[test]
fn nightlies_sort_after_their_release_and_before_the_next() {
    require_tool("rpm");
    // 2026-12-03 10:00:00 UTC and every six hours after.
    let nightlies: Vec<String> = (0..5)
        .map(|i| {
            RpmVersion::nightly("0.1.0", 1_796_292_000 + i * 21_600, "abc1234")
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        nightlies[0].starts_with("0.1.1~nightly.20261203.100000.gabc1234"),
        "{}",
        nightlies[0]
    );
    let release = |v: &str| RpmVersion::release(v).unwrap().to_string();
    for (i, nightly) in nightlies.iter().enumerate() {
        assert!(!nightly.contains('^'), "{nightly}");
        assert_eq!(rpm_vercmp(nightly, &release("0.1.0")), 1, "{nightly}");
        assert_eq!(rpm_vercmp(nightly, &release("0.1.1")), -1, "{nightly}");
        assert_eq!(rpm_vercmp(nightly, &release("0.1.1-rc.1")), -1, "{nightly}");
        if let Some(next) = nightlies.get(i + 1) {
            assert_eq!(rpm_vercmp(nightly, next), -1, "{nightly} < {next}");
        }
    }
    // After a pre-release: above it, below the next pre-release and the release.
    let nightly = RpmVersion::nightly("0.2.0-rc.1", 1_796_292_000, "abc1234")
        .unwrap()
        .to_string();
    assert_eq!(rpm_vercmp(&nightly, &release("0.2.0-rc.1")), 1, "{nightly}");
    assert_eq!(
        rpm_vercmp(&nightly, &release("0.2.0-rc.2")),
        -1,
        "{nightly}"
    );
    assert_eq!(rpm_vercmp(&nightly, &release("0.2.0")), -1, "{nightly}");
}

#[test]
fn promotion_skips_an_unreadable_rpm_or_fails_under_strict() {
    let fx = Fixture::new();
    fx.publish("0.1.0", "test", None);
    let broken = fx
        .channel_dir("test")
        .join("Packages/broken-0.1.0-1.x86_64.rpm");
    std::fs::write(&broken, b"\xed\xab\xee\xdb not an rpm").unwrap();
    let strict = PublishOptions {
        strict: true,
        ..fx.opts()
    };
    let err = promote(&fx.tree, "0.1.0", "test", "stable", &strict).unwrap_err();
    assert!(
        err.to_string().contains("broken-0.1.0-1.x86_64.rpm"),
        "{err}"
    );
    assert!(fx.versions("stable").is_empty(), "copied despite --strict");

    let done = promote(&fx.tree, "0.1.0", "test", "stable", &fx.opts()).unwrap();
    assert_eq!(done.copied.len(), 2);
    assert_eq!(done.skipped.len(), 1, "{:?}", done.skipped);
    assert_eq!(done.skipped[0].0, broken);
    assert_eq!(fx.versions("stable"), ["0.1.0"]);
}
