//! berth against real docker (Debian docker.io, a private dockerd): whiteout and opaque-dir
//! semantics across three layers, and save/load in both directions.

mod common;

use std::path::Path;

use berth_image::{load, save, Reference, StorageDriver, Store};
use common::docker::Dockerd;
use common::*;

/// Three layers exercising whiteouts, opaque dirs (marker before and after content), a file
/// replaced by a directory, and a directory whited out then recreated.
fn whiteout_image() -> TestImage {
    let f = |p: &str| Entry::File(p.to_string(), p.as_bytes().to_vec(), 0o644);
    let l1 = {
        let mut tar = tar::Builder::new(Vec::new());
        let base = busybox_layer();
        let mut a = tar::Archive::new(base.as_slice());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let h = e.header().clone();
            tar.append(&h, &mut e).unwrap();
        }
        let extra = tar_layer(&[
            Entry::Dir("data/", 0o755),
            f("data/a/1"),
            f("data/a/2"),
            f("data/b/x"),
            f("data/b/sub/y"),
            f("data/c/keep"),
            f("data/d"),
            f("data/e/f"),
        ]);
        let mut a = tar::Archive::new(extra.as_slice());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let h = e.header().clone();
            tar.append(&h, &mut e).unwrap();
        }
        tar.into_inner().unwrap()
    };
    let l2 = tar_layer(&[
        f("data/a/.wh.1"),
        f("data/b/new"),
        f("data/b/.wh..wh..opq"),
        Entry::Dir("data/d/", 0o755),
        f("data/d/inner"),
        f("data/.wh.e"),
    ]);
    let l3 = tar_layer(&[
        f("data/c/.wh..wh..opq"),
        f("data/c/fresh"),
        f("data/a/.wh.2"),
        f("data/a/3"),
        f("data/e/g"),
    ]);
    TestImage::new(&[l1, l2, l3], "amd64")
}

fn listing(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let kind = if entry.file_type().unwrap().is_dir() {
                "d"
            } else {
                "f"
            };
            out.push(format!(
                "{kind} /{}",
                path.strip_prefix(root).unwrap().display()
            ));
            if kind == "d" {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &root.join("data"), &mut out);
    out.sort();
    out
}

async fn berth_listing(registry: &Registry, driver: StorageDriver) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("root"), driver).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let reference = Reference::parse(&format!("{}/library/wh", registry.host())).unwrap();
    let id = pull_with_defaults(&store, &reference, &tx).await.unwrap();
    let container = format!("wh-{}", driver.name());
    let rootfs = store.prepare_rootfs(&id, &container).await.unwrap();
    rootfs.mount().unwrap();
    let result = listing(rootfs.path());
    rootfs.unmount().unwrap();
    store.remove_rootfs(&container).await.unwrap();
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whiteout_semantics_match_docker() {
    let registry = Registry::start();
    let image = whiteout_image();
    Uploader::new(&registry.url())
        .image("library/wh", "latest", &image)
        .await;
    let expected: Vec<String> = [
        "d /data/a",
        "f /data/a/3",
        "d /data/b",
        "f /data/b/new",
        "d /data/c",
        "f /data/c/fresh",
        "d /data/d",
        "f /data/d/inner",
        "d /data/e",
        "f /data/e/g",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut expected = expected;
    expected.sort();
    assert_eq!(
        berth_listing(&registry, StorageDriver::Overlay2).await,
        expected,
        "overlay2"
    );
    assert_eq!(
        berth_listing(&registry, StorageDriver::Vfs).await,
        expected,
        "vfs"
    );

    let dockerd = Dockerd::start();
    let name = format!("{}/library/wh", registry.host());
    dockerd.ok(&["pull", &name]);
    let dirs = dockerd.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &name,
        "/bin/busybox",
        "find",
        "/data",
        "-mindepth",
        "1",
        "-type",
        "d",
    ]);
    let files = dockerd.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &name,
        "/bin/busybox",
        "find",
        "/data",
        "-type",
        "f",
    ]);
    let mut docker_view: Vec<String> = dirs
        .lines()
        .map(|l| format!("d {l}"))
        .chain(files.lines().map(|l| format!("f {l}")))
        .collect();
    docker_view.sort();
    assert_eq!(docker_view, expected, "docker's view");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_and_load_with_real_docker_both_ways() {
    let registry = Registry::start();
    let image = TestImage::new(
        &[
            busybox_layer(),
            tar_layer(&[Entry::File(
                "etc/motd".into(),
                b"from berth\n".to_vec(),
                0o644,
            )]),
        ],
        "amd64",
    );
    Uploader::new(&registry.url())
        .image("library/roundtrip", "latest", &image)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("root"), StorageDriver::Overlay2).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let reference = Reference::parse(&format!("{}/library/roundtrip", registry.host())).unwrap();
    let id = pull_with_defaults(&store, &reference, &tx).await.unwrap();
    let local = Reference::parse("berth-saved:1").unwrap();
    store.tag(&id, &local).unwrap();

    // berth save -> docker load -> docker run
    let archive_path = dir.path().join("berth.tar");
    let file = std::fs::File::create(&archive_path).unwrap();
    save(&store, &["berth-saved:1".to_string()], file)
        .await
        .expect("save");
    let dockerd = Dockerd::start();
    let loaded = dockerd.ok(&["load", "-i", archive_path.to_str().unwrap()]);
    assert!(loaded.contains("Loaded image: berth-saved:1"), "{loaded}");
    assert_eq!(
        dockerd
            .ok(&["inspect", "--format", "{{.Id}}", "berth-saved:1"])
            .trim(),
        id.to_string()
    );
    let motd = dockerd.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "berth-saved:1",
        "/bin/cat",
        "/etc/motd",
    ]);
    assert_eq!(motd, "from berth\n");

    // docker tag + save -> berth load into a fresh store
    dockerd.ok(&["tag", "berth-saved:1", "from-docker:2"]);
    let docker_archive = dir.path().join("docker.tar");
    dockerd.ok(&[
        "save",
        "-o",
        docker_archive.to_str().unwrap(),
        "from-docker:2",
    ]);
    let dir2 = tempfile::tempdir().unwrap();
    let other = Store::open(dir2.path().join("root"), StorageDriver::Overlay2).unwrap();
    let loaded = load(&other, std::fs::File::open(&docker_archive).unwrap())
        .await
        .expect("load docker save");
    assert_eq!(loaded, vec!["Loaded image: from-docker:2".to_string()]);
    let loaded_id = other.resolve("from-docker:2").unwrap();
    assert_eq!(loaded_id, id);
    let record = other.image(&loaded_id).unwrap();
    let motd = std::fs::read(other.layer_diff(&record.layers[1].diff_id).join("etc/motd")).unwrap();
    assert_eq!(motd, b"from berth\n");
}
