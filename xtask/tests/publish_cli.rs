//! `cargo xtask publish --to DIR` as a user runs it, with DIR served by nginx: dnf reads the
//! served copy again and again while new versions are published, and every call succeeds and
//! sees berth-engine and berth-cli at the same versions. The intermediate state a naive copy
//! (repomd.xml first) exposes is shown to fail the same checks, so they are not vacuous.

mod common;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use berth_packaging::channels::sync::check_served;
use common::nginx::Nginx;
use common::{ok, refused, stand_in_rpms};

/// dnf reads of the served repository while publishing goes on.
const READS: usize = 20;
/// The most versions the publisher adds (it stops earlier once the reads are done).
const MAX_PUBLISHES: usize = 40;

struct Setup {
    dir: PathBuf,
    key: PathBuf,
    source: PathBuf,
    served: PathBuf,
}

impl Setup {
    /// `cargo xtask repo` of stand-in RPMs at `version` into the source tree, stable channel.
    fn add_version(&self, version: &str, base_url: &str) {
        let rpms = stand_in_rpms(&self.dir, version);
        ok(&[
            "repo".as_ref(),
            "--rpms".as_ref(),
            rpms.as_os_str(),
            "--repo-dir".as_ref(),
            self.source.as_os_str(),
            "--gpg-key".as_ref(),
            self.key.as_os_str(),
            "--base-url".as_ref(),
            base_url.as_ref(),
        ]);
    }

    fn publish(&self) -> (String, String) {
        ok(&[
            "publish".as_ref(),
            "--repo-dir".as_ref(),
            self.source.as_os_str(),
            "--to".as_ref(),
            self.served.as_os_str(),
        ])
    }
}

/// Runs dnf on the served stable channel with fresh metadata; Err(output) when it fails.
fn dnf(work: &Path, url: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("timeout")
        .arg("120")
        .arg("dnf")
        .arg("-y")
        .arg(format!("--installroot={}", work.join("root").display()))
        .arg("--setopt=reposdir=/nonexistent")
        .arg(format!(
            "--setopt=cachedir={}",
            work.join("cache").display()
        ))
        .arg(format!("--repofrompath=served,{url}/el/7/x86_64/stable"))
        .args([
            "--repo=served",
            "--releasever=7",
            "--setopt=skip_if_unavailable=False",
            "--setopt=metadata_expire=0",
            "--refresh",
        ])
        .args(args)
        .output()
        .expect("run dnf");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// The versions dnf lists for one package.
fn versions_of(listing: &str, package: &str) -> Vec<String> {
    let prefix = format!("{package}.x86_64");
    let mut versions: Vec<String> = listing
        .lines()
        .filter(|line| line.starts_with(&prefix))
        .filter_map(|line| line.split_whitespace().nth(1).map(str::to_string))
        .collect();
    versions.sort();
    versions
}

/// makecache, then list: both succeed and both packages have the same versions, 0.1.0 among
/// them.
fn read_consistently(work: &Path, url: &str) -> Result<Vec<String>, String> {
    dnf(work, url, &["makecache"])?;
    let listing = dnf(
        work,
        url,
        &[
            "list",
            "--showduplicates",
            "--available",
            "berth-engine",
            "berth-cli",
        ],
    )?;
    let engine = versions_of(&listing, "berth-engine");
    let cli = versions_of(&listing, "berth-cli");
    if engine != cli || !engine.iter().any(|v| v == "0.1.0-1.el7") {
        return Err(format!(
            "inconsistent: engine {engine:?}, cli {cli:?}\n{listing}"
        ));
    }
    Ok(engine)
}

fn setup() -> (tempfile::TempDir, Setup) {
    let tmp = tempfile::tempdir().unwrap();
    // nginx's worker runs as nobody: the served path must be readable by others.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tmp.path().to_path_buf();
    let key = dir.join("key.asc");
    ok(&[
        "gpg-keygen".as_ref(),
        "--out".as_ref(),
        key.as_os_str(),
        "--bits".as_ref(),
        "2048".as_ref(),
    ]);
    let setup = Setup {
        source: dir.join("repo"),
        served: dir.join("served"),
        key,
        dir,
    };
    (tmp, setup)
}

#[test]
fn dnf_never_sees_a_half_published_channel() {
    let (_tmp, setup) = setup();
    let nginx = Nginx::serve(&setup.served, &setup.dir.join("nginx"));
    let url = nginx.url();
    setup.add_version("0.1.0", &url);
    setup.publish();

    // The root is served as a production host serves it: the .repo file and the key.
    let repo_file = Command::new("curl")
        .args(["-fsS", "--max-time", "30", &format!("{url}/berth.repo")])
        .output()
        .unwrap();
    assert!(repo_file.status.success());
    assert!(String::from_utf8_lossy(&repo_file.stdout).contains(&format!("baseurl={url}/el/")));
    let history = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "30",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(format!("{url}/el/7/x86_64/stable/.publish-history/"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&history.stdout), "403");

    let reads_done = AtomicBool::new(false);
    let published = AtomicUsize::new(0);
    let reader = setup.dir.join("dnf");
    let seen = std::thread::scope(|scope| {
        let publisher = scope.spawn(|| {
            for patch in 1..=MAX_PUBLISHES {
                if reads_done.load(Ordering::SeqCst) {
                    break;
                }
                setup.add_version(&format!("0.1.{patch}"), &url);
                setup.publish();
                published.fetch_add(1, Ordering::SeqCst);
            }
        });
        let mut seen = Vec::new();
        let mut reads = 0;
        // READS reads, and at least until a few publishes have landed in between.
        while reads < READS || (published.load(Ordering::SeqCst) < 3 && !publisher.is_finished()) {
            match read_consistently(&reader, &url) {
                Ok(versions) => seen.push(versions.len()),
                Err(text) => {
                    reads_done.store(true, Ordering::SeqCst);
                    panic!("read {reads} while publishing failed:\n{text}");
                }
            }
            reads += 1;
        }
        reads_done.store(true, Ordering::SeqCst);
        publisher.join().unwrap();
        seen
    });
    let published = published.load(Ordering::SeqCst);
    assert!(
        published >= 3,
        "only {published} publishes ran during the reads"
    );
    // dnf saw the channel grow while it read.
    assert!(seen.first() < seen.last(), "{seen:?}");
    eprintln!(
        "{} reads saw {seen:?} versions; {published} publishes",
        seen.len()
    );
}

#[test]
fn a_naive_copy_order_is_caught_and_publish_repairs_it() {
    let (_tmp, setup) = setup();
    let nginx = Nginx::serve(&setup.served, &setup.dir.join("nginx"));
    let url = nginx.url();
    setup.add_version("0.1.0", &url);
    setup.publish();
    let channel = Path::new("el/7/x86_64/stable");
    let served_channel = setup.served.join(channel);
    check_served(&served_channel).unwrap();
    let reader = setup.dir.join("dnf");
    read_consistently(&reader, &url).unwrap();

    // What a naive copy shows between its first and second step: the new repomd.xml (and
    // signature) before the files it names.
    setup.add_version("0.1.1", &url);
    for name in ["repomd.xml", "repomd.xml.asc"] {
        std::fs::copy(
            setup.source.join(channel).join("repodata").join(name),
            served_channel.join("repodata").join(name),
        )
        .unwrap();
    }
    let problem = check_served(&served_channel).unwrap_err();
    assert!(problem.contains("primary.xml.gz"), "{problem}");
    let failure = read_consistently(&reader, &url).unwrap_err();
    assert!(!failure.is_empty());

    // publish puts it right: every file in place, 0.1.1 visible.
    setup.publish();
    check_served(&served_channel).unwrap();
    let versions = read_consistently(&reader, &url).unwrap();
    assert_eq!(versions, ["0.1.0-1.el7", "0.1.1-1.el7"]);
}

#[test]
fn publish_refuses_bad_input_in_one_line_and_writes_nothing() {
    let (_tmp, setup) = setup();
    let dir = &setup.dir;
    let missing = dir.join("no-such-repo");
    let served = dir.join("served-bad");
    let publish = |source: &Path, to: &Path, expected: &str| {
        refused(
            &[
                OsStr::new("publish"),
                "--repo-dir".as_ref(),
                source.as_os_str(),
                "--to".as_ref(),
                to.as_os_str(),
            ],
            expected,
        )
    };
    publish(&missing, &served, "no-such-repo: no repository to publish");
    assert!(!served.exists());

    setup.add_version("0.1.0", "http://127.0.0.1");
    let not_a_dir = dir.join("a-file");
    std::fs::write(&not_a_dir, "x").unwrap();
    publish(
        &setup.source,
        &not_a_dir,
        "a-file: destination is not a writable directory",
    );

    // A package rebuilt under the same name is never overwritten in place.
    setup.publish();
    let name = "berth-engine-0.1.0-1.el7.x86_64.rpm";
    let served_rpm = setup.served.join("el/7/x86_64/stable/Packages").join(name);
    let before = std::fs::read(&served_rpm).unwrap();
    let repomd = setup.served.join("el/7/x86_64/stable/repodata/repomd.xml");
    let repomd_before = std::fs::read(&repomd).unwrap();
    let source_rpm = setup.source.join("el/7/x86_64/stable/Packages").join(name);
    let mut changed = std::fs::read(&source_rpm).unwrap();
    let last = changed.len() - 1;
    changed[last] ^= 0xff;
    std::fs::write(&source_rpm, changed).unwrap();
    publish(
        &setup.source,
        &setup.served,
        &format!("{name}: a different file of that name is already published"),
    );
    assert_eq!(std::fs::read(&served_rpm).unwrap(), before);
    assert_eq!(std::fs::read(&repomd).unwrap(), repomd_before);

    // A source channel without repodata is named, not skipped.
    std::fs::write(&source_rpm, &before).unwrap();
    let lost = setup.source.join("el/7/source/nightly/repodata/repomd.xml");
    std::fs::remove_file(&lost).unwrap();
    publish(
        &setup.source,
        &setup.served,
        &format!("{}: missing in the source", lost.display()),
    );
    assert_eq!(std::fs::read(&repomd).unwrap(), repomd_before);
}

#[test]
fn delete_removes_dropped_packages_after_the_swap() {
    let (_tmp, setup) = setup();
    setup.add_version("0.1.0", "http://127.0.0.1");
    setup.add_version("0.1.1", "http://127.0.0.1");
    setup.publish();
    let served = setup.served.join("el/7/x86_64/stable/Packages");
    assert!(served.join("berth-cli-0.1.0-1.el7.x86_64.rpm").is_file());
    // --keep 1 drops 0.1.0 from the source; publish without --delete keeps it served.
    let rpms = setup.dir.join("rpms-0.1.1");
    ok(&[
        "repo".as_ref(),
        "--rpms".as_ref(),
        rpms.as_os_str(),
        "--repo-dir".as_ref(),
        setup.source.as_os_str(),
        "--gpg-key".as_ref(),
        setup.key.as_os_str(),
        "--keep".as_ref(),
        "1".as_ref(),
    ]);
    setup.publish();
    assert!(served.join("berth-cli-0.1.0-1.el7.x86_64.rpm").is_file());
    let (_, stderr) = ok(&[
        "publish".as_ref(),
        "--repo-dir".as_ref(),
        setup.source.as_os_str(),
        "--to".as_ref(),
        setup.served.as_os_str(),
        "--delete".as_ref(),
    ]);
    assert!(stderr.contains("deleted"), "{stderr}");
    assert!(!served.join("berth-cli-0.1.0-1.el7.x86_64.rpm").exists());
    assert!(served.join("berth-cli-0.1.1-1.el7.x86_64.rpm").is_file());
    for link in ["8", "9", "7Server", "7Workstation"] {
        assert_eq!(
            std::fs::read_link(setup.served.join("el").join(link)).unwrap(),
            Path::new("7")
        );
    }
    assert!(setup.served.join("gpg").is_file());
    check_served(&setup.served.join("el/7/x86_64/stable")).unwrap();
}
