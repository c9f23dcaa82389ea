//! Safe extraction against hostile layers crafted here, checked against the host tree, plus
//! whiteout/opaque semantics in any tar order and metadata preservation.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_image::extract::extract_layer;
use common::*;

/// Extracts `layer` into `<tmp>/dest` and checks nothing outside `dest` (in the temp dir,
/// and /etc/shadow) changed. Returns the extraction result.
fn extract_confined(layer: &[u8]) -> (tempfile::TempDir, berth_image::Result<()>) {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("victim"), b"original").unwrap();
    let dest = dir.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let shadow_before = std::fs::symlink_metadata("/etc/shadow")
        .map(|m| (m.ino(), m.nlink(), m.mtime()))
        .ok();
    let etc_before = tree_snapshot(Path::new("/etc"));
    let outside_before = tree_snapshot(&outside);
    let result = extract_layer(layer, &dest).map(|_| ());
    assert_eq!(
        tree_snapshot(&outside),
        outside_before,
        "outside dir changed"
    );
    assert_eq!(std::fs::read(outside.join("victim")).unwrap(), b"original");
    assert_eq!(
        std::fs::symlink_metadata("/etc/shadow")
            .map(|m| (m.ino(), m.nlink(), m.mtime()))
            .ok(),
        shadow_before
    );
    assert_eq!(tree_snapshot(Path::new("/etc")), etc_before, "/etc changed");
    let siblings: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        siblings.len(),
        2,
        "something was created next to dest: {siblings:?}"
    );
    (dir, result)
}

fn refused(layer: &[u8], why: &str) {
    let (_dir, result) = extract_confined(layer);
    let err = result.expect_err(why).to_string();
    assert!(err.contains("refusing layer entry"), "{why}: {err}");
}

#[test]
fn path_traversal_is_refused() {
    refused(
        &tar_layer(&[Entry::File(
            "../outside/victim".into(),
            b"pwned".to_vec(),
            0o644,
        )]),
        "dotdot",
    );
    refused(
        &tar_layer(&[Entry::File(
            "a/../../outside/victim".into(),
            b"pwned".to_vec(),
            0o644,
        )]),
        "inner dotdot",
    );
    refused(
        &tar_layer(&[Entry::File(
            "/etc/berth-pwned".into(),
            b"pwned".to_vec(),
            0o644,
        )]),
        "absolute",
    );
    assert!(!Path::new("/etc/berth-pwned").exists());
}

#[test]
fn writes_through_an_earlier_symlink_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _ = dir; // the outside dir of extract_confined is what matters
    refused(
        &tar_layer(&[
            Entry::Symlink("etc".into(), "/etc".into()),
            Entry::File("etc/berth-pwned".into(), b"pwned".to_vec(), 0o644),
        ]),
        "absolute symlink then write",
    );
    assert!(!Path::new("/etc/berth-pwned").exists());
    refused(
        &tar_layer(&[
            Entry::Symlink("up".into(), "../outside".into()),
            Entry::File("up/victim".into(), b"pwned".to_vec(), 0o644),
        ]),
        "relative symlink then write",
    );
    refused(
        &tar_layer(&[
            Entry::Symlink("up".into(), "../outside".into()),
            Entry::Dir("up/sub/", 0o755),
        ]),
        "mkdir through symlink",
    );
    refused(
        &tar_layer(&[
            Entry::Dir("a/", 0o755),
            Entry::File("a/x".into(), b"x".to_vec(), 0o644),
            Entry::Symlink("a".into(), "../outside".into()),
            Entry::File("a/victim".into(), b"pwned".to_vec(), 0o644),
        ]),
        "directory replaced by a symlink, then written through",
    );
    // A symlink as the final component is replaced, not followed.
    let (dir, result) = extract_confined(&tar_layer(&[
        Entry::Symlink("victim".into(), "../outside/victim".into()),
        Entry::File("victim".into(), b"mine".to_vec(), 0o644),
    ]));
    result.expect("replacing a symlink is fine");
    assert_eq!(
        std::fs::read(dir.path().join("dest/victim")).unwrap(),
        b"mine"
    );
}

#[test]
fn hardlinks_outside_the_layer_are_refused() {
    refused(
        &tar_layer(&[Entry::Hardlink("shadow".into(), "/etc/shadow".into())]),
        "absolute hardlink",
    );
    refused(
        &tar_layer(&[Entry::Hardlink(
            "shadow".into(),
            "../../../../etc/shadow".into(),
        )]),
        "dotdot hardlink",
    );
    refused(
        &tar_layer(&[
            Entry::Symlink("e".into(), "/etc".into()),
            Entry::Hardlink("shadow".into(), "e/shadow".into()),
        ]),
        "hardlink through symlink",
    );
    refused(
        &tar_layer(&[Entry::Hardlink("x".into(), "missing".into())]),
        "hardlink to nothing",
    );
    // A hardlink inside the layer works.
    let (dir, result) = extract_confined(&tar_layer(&[
        Entry::File("a".into(), b"same".to_vec(), 0o644),
        Entry::Hardlink("b".into(), "a".into()),
    ]));
    result.expect("inner hardlink");
    let a = std::fs::metadata(dir.path().join("dest/a")).unwrap();
    let b = std::fs::metadata(dir.path().join("dest/b")).unwrap();
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn whiteout_of_parent_is_refused() {
    refused(
        &tar_layer(&[Entry::File("sub/.wh..".into(), Vec::new(), 0o644)]),
        "whiteout of ..",
    );
    refused(
        &tar_layer(&[Entry::File(".wh..".into(), Vec::new(), 0o644)]),
        "whiteout of root parent",
    );
    refused(
        &tar_layer(&[Entry::File("../.wh.outside".into(), Vec::new(), 0o644)]),
        "whiteout above root",
    );
    refused(
        &tar_layer(&[
            Entry::Symlink("up".into(), "../outside".into()),
            Entry::File("up/.wh.victim".into(), Vec::new(), 0o644),
        ]),
        "whiteout through symlink",
    );
}

#[test]
fn whiteouts_and_opaque_dirs_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    // Opaque marker after the directory's new content, whiteout before its sibling.
    let layer = tar_layer(&[
        Entry::File("d/new".into(), b"n".to_vec(), 0o644),
        Entry::File("d/.wh..wh..opq".into(), Vec::new(), 0o644),
        Entry::File("e/.wh.gone".into(), Vec::new(), 0o644),
        Entry::File("e/kept".into(), b"k".to_vec(), 0o644),
        Entry::File(".wh..wh.plnk".into(), Vec::new(), 0o644),
    ]);
    extract_layer(layer.as_slice(), dir.path()).expect("extract");
    let gone = std::fs::symlink_metadata(dir.path().join("e/gone")).unwrap();
    assert!(
        gone.file_type().is_char_device() && gone.rdev() == 0,
        "whiteout is a 0/0 char device"
    );
    assert!(dir.path().join("e/kept").is_file());
    assert!(dir.path().join("d/new").is_file());
    let opaque = xattr(&dir.path().join("d"), "trusted.overlay.opaque");
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    assert!(!dir.path().join(".wh..wh.plnk").exists());
}

#[test]
fn modes_ownership_xattrs_and_mtimes_are_preserved() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_path("suid").unwrap();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o4755);
    header.set_uid(1234);
    header.set_gid(2345);
    header.set_mtime(1_234_567_890);
    header.set_size(3);
    header.set_cksum();
    builder
        .append_pax_extensions([("SCHILY.xattr.user.berth", &b"value"[..])])
        .unwrap();
    builder.append(&header, &b"abc"[..]).unwrap();
    let mut dir_header = tar::Header::new_ustar();
    dir_header.set_path("sticky/").unwrap();
    dir_header.set_entry_type(tar::EntryType::Directory);
    dir_header.set_mode(0o1777);
    dir_header.set_mtime(1_000_000_000);
    dir_header.set_uid(0);
    dir_header.set_gid(0);
    dir_header.set_size(0);
    dir_header.set_cksum();
    builder.append(&dir_header, std::io::empty()).unwrap();
    let mut inner = tar::Header::new_ustar();
    inner.set_path("sticky/f").unwrap();
    inner.set_entry_type(tar::EntryType::Regular);
    inner.set_mode(0o600);
    inner.set_mtime(1_000_000_001);
    inner.set_uid(0);
    inner.set_gid(0);
    inner.set_size(0);
    inner.set_cksum();
    builder.append(&inner, std::io::empty()).unwrap();
    let layer = builder.into_inner().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let stats = extract_layer(layer.as_slice(), dir.path()).expect("extract");
    assert_eq!(stats.diff_id.to_string(), sha(&layer));
    let meta = std::fs::symlink_metadata(dir.path().join("suid")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o4755);
    assert_eq!((meta.uid(), meta.gid()), (1234, 2345));
    assert_eq!(meta.mtime(), 1_234_567_890);
    let sticky = std::fs::symlink_metadata(dir.path().join("sticky")).unwrap();
    assert_eq!(sticky.mode() & 0o7777, 0o1777);
    assert_eq!(
        sticky.mtime(),
        1_000_000_000,
        "dir mtime set after its children"
    );
    let value = xattr(&dir.path().join("suid"), "user.berth");
    assert_eq!(value.as_deref(), Some(&b"value"[..]));
}

#[test]
fn zstd_and_plain_layers_hash_to_the_same_diff_id() {
    let layer = tar_layer(&[Entry::File("z".into(), vec![1; 10000], 0o644)]);
    let zstd_layer = zstd::encode_all(layer.as_slice(), 3).unwrap();
    for input in [layer.clone(), gzip(&layer), zstd_layer] {
        let dir = tempfile::tempdir().unwrap();
        let stats = extract_layer(input.as_slice(), dir.path()).unwrap();
        assert_eq!(stats.diff_id.to_string(), sha(&layer));
        assert_eq!(std::fs::read(dir.path().join("z")).unwrap(), vec![1; 10000]);
    }
}

const DEVICE_CHILD_ENV: &str = "BERTH_IMAGE_DEVICE_CHILD";

/// Runs only as the child of `device_nodes_need_real_root`, inside a user namespace.
#[test]
fn device_child() {
    let Ok(dest) = std::env::var(DEVICE_CHILD_ENV) else {
        return;
    };
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_path("null").unwrap();
    header.set_entry_type(tar::EntryType::Char);
    header.set_device_major(1).unwrap();
    header.set_device_minor(3).unwrap();
    header.set_mode(0o666);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(0);
    header.set_cksum();
    builder.append(&header, std::io::empty()).unwrap();
    let plain = tar_layer(&[Entry::File("file".into(), b"ok".to_vec(), 0o644)]);
    let mut a = tar::Archive::new(plain.as_slice());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        builder.append(&h, &mut e).unwrap();
    }
    let layer = builder.into_inner().unwrap();
    extract_layer(layer.as_slice(), Path::new(&dest)).expect("extract in user namespace");
}

#[test]
fn device_nodes_need_real_root() {
    require_tool("unshare");
    // As real root the device node is created.
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["device_child", "--exact", "--test-threads=1"])
        .env(DEVICE_CHILD_ENV, dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let meta = std::fs::symlink_metadata(dir.path().join("null")).expect("device created as root");
    assert!(meta.file_type().is_char_device() && meta.rdev() == nix::sys::stat::makedev(1, 3));

    // As root of a user namespace it is skipped, and the rest of the layer still extracts.
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--"])
        .arg(std::env::current_exe().unwrap())
        .args(["device_child", "--exact", "--test-threads=1"])
        .env(DEVICE_CHILD_ENV, dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "extraction in a user namespace failed");
    assert!(
        !dir.path().join("null").exists(),
        "device node created without real root"
    );
    assert_eq!(std::fs::read(dir.path().join("file")).unwrap(), b"ok");
}
