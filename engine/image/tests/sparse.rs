//! Sparse files in image layers, as GNU tar writes them (`--sparse` in the GNU format and
//! in the PAX formats 0.0, 0.1 and 1.0), pulled through a real registry: the layer holds the
//! file, whole, under its own name, with its holes still holes.

mod common;

use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use berth_image::{Reference, StorageDriver, Store};
use common::*;

const SIZE: u64 = 4 << 20;

/// A 4 MiB file with two data runs and holes before, between and after them.
fn file_with_holes(dir: &Path) -> Vec<u8> {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let path = dir.join("data/holes");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(SIZE).unwrap();
    let first: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 1) as u8).collect();
    file.write_all_at(&first, 1 << 20).unwrap();
    file.write_all_at(b"middle of the file", (5 << 19) + 3)
        .unwrap();
    drop(file);
    std::fs::read(&path).unwrap()
}

/// GNU tar's archive of `data/holes` with `--sparse` in `format` (and `--sparse-version`).
fn sparse_tar(dir: &Path, format: &str, version: Option<&str>) -> Vec<u8> {
    require_tool("tar");
    let mut command = Command::new("tar");
    command
        .arg(format!("--format={format}"))
        .arg("--sparse")
        .args(version.map(|v| format!("--sparse-version={v}")))
        .args(["--owner=0", "--group=0", "-cf", "-", "-C"])
        .arg(dir)
        .arg("data/holes");
    let output = command.output().expect("run tar");
    assert!(
        output.status.success(),
        "tar: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Pushes a one-layer image of `tar` and pulls it into a fresh store; returns the layer dir.
async fn pull_layer(
    registry: &Registry,
    store: &Store,
    repo: &str,
    tar: Vec<u8>,
) -> berth_image::Result<std::path::PathBuf> {
    let image = TestImage::new(&[tar], "amd64");
    Uploader::new(&registry.url())
        .image(repo, "latest", &image)
        .await;
    let reference = Reference::parse(&format!("{}/{repo}:latest", registry.host())).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let id = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        pull_with_defaults(store, &reference, &tx),
    )
    .await
    .expect("the pull did not end within 60 s")?;
    let record = store.image(&id).unwrap();
    Ok(store.layer_diff(&record.layers[0].diff_id))
}

fn assert_expanded(diff: &Path, expected: &[u8], format: &str) {
    let path = diff.join("data/holes");
    let content = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{format}: {} missing ({e})", path.display()));
    assert_eq!(
        sha(&content),
        sha(expected),
        "{format}: the expanded file differs"
    );
    let names: Vec<String> = std::fs::read_dir(diff.join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["holes"], "{format}: stray entries in the layer");
    let allocated = std::fs::metadata(&path).unwrap().blocks() * 512;
    assert!(
        allocated < SIZE / 2,
        "{format}: the holes were written out ({allocated} bytes allocated)"
    );
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("root"), StorageDriver::Overlay2).expect("open store");
    (dir, store)
}

#[tokio::test]
async fn gnu_sparse_entry_is_expanded_not_skipped() {
    let work = tempfile::tempdir().unwrap();
    let expected = file_with_holes(work.path());
    let tar = sparse_tar(work.path(), "gnu", None);
    let registry = Registry::start();
    let (_dir, store) = store();
    let diff = pull_layer(&registry, &store, "sparse/gnu", tar)
        .await
        .expect("pull of a GNU sparse layer");
    assert_expanded(&diff, &expected, "gnu");
}

#[tokio::test]
async fn pax_sparse_entries_are_expanded_not_extracted_as_gnusparsefile() {
    let work = tempfile::tempdir().unwrap();
    let expected = file_with_holes(work.path());
    let registry = Registry::start();
    for version in ["0.0", "0.1", "1.0"] {
        let tar = sparse_tar(work.path(), "pax", Some(version));
        let (_dir, store) = store();
        let repo = format!("sparse/pax{}", version.replace('.', ""));
        let diff = pull_layer(&registry, &store, &repo, tar)
            .await
            .unwrap_or_else(|e| panic!("pull of a PAX {version} sparse layer: {e}"));
        assert_expanded(&diff, &expected, &format!("pax {version}"));
    }
}

#[tokio::test]
async fn pax_sparse_map_that_lies_about_its_data_is_refused_naming_the_entry() {
    let work = tempfile::tempdir().unwrap();
    file_with_holes(work.path());
    let mut tar = sparse_tar(work.path(), "pax", Some("1.0"));
    // The 1.0 map leads the data of the `data/GNUSparseFile.N/holes` entry: make its first
    // length longer than the file (same digit count, so the layout holds).
    let header = (512..tar.len())
        .step_by(512)
        .find(|at| tar[*at..].starts_with(b"data/GNUSparseFile."))
        .expect("the 1.0 entry header");
    let map = header + 512;
    let text = String::from_utf8_lossy(&tar[map..map + 512]).into_owned();
    let first_length = text.lines().nth(2).unwrap().to_string();
    let bigger = "9".repeat(first_length.len());
    let at = map + text.find(&format!("\n{first_length}\n")).unwrap() + 1;
    tar[at..at + bigger.len()].copy_from_slice(bigger.as_bytes());
    let registry = Registry::start();
    let (_dir, store) = store();
    let err = pull_layer(&registry, &store, "sparse/lying", tar)
        .await
        .expect_err("a lying sparse map must be refused");
    let message = err.to_string();
    assert!(
        message.contains("data/holes") && message.contains("sparse"),
        "{message}"
    );
}
