//! Pulls from a real docker-registry: by tag, by digest, multi-arch index, mirrors, corrupted
//! blobs, and the rootfs the daemon mounts from the result.

mod common;

use berth_image::{pull, PullOptions, Reference, RegistryConfig, StorageDriver, Store};
use common::*;
use serde_json::json;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("root"), StorageDriver::Overlay2).expect("open store");
    (dir, store)
}

fn channel() -> (
    berth_image::ProgressSender,
    tokio::sync::mpsc::UnboundedReceiver<berth_image::ProgressEvent>,
) {
    tokio::sync::mpsc::unbounded_channel()
}

#[tokio::test]
async fn pull_by_tag_then_digest_and_run_from_overlay() {
    let registry = Registry::start();
    let image = TestImage::new(
        &[
            busybox_layer(),
            tar_layer(&[Entry::File(
                "etc/motd".into(),
                b"hello from berth\n".to_vec(),
                0o644,
            )]),
        ],
        "amd64",
    );
    Uploader::new(&registry.url())
        .image("library/bb", "1.0", &image)
        .await;
    let (_dir, store) = store();
    let config = RegistryConfig::default();
    let reference = Reference::parse(&format!("{}/library/bb:1.0", registry.host())).unwrap();
    let (tx, mut rx) = channel();
    let id = pull(&store, &config, &reference, &PullOptions::default(), &tx)
        .await
        .expect("pull by tag");
    assert_eq!(id.to_string(), image.id());
    let seen = statuses(&mut rx);
    for expected in [
        "Pulling from library/bb",
        "Pulling fs layer",
        "Downloading",
        "Verifying Checksum",
        "Download complete",
        "Extracting",
        "Pull complete",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "missing {expected:?} in {seen:?}"
        );
    }
    assert_eq!(
        seen[seen.len() - 2],
        format!("Digest: {}", image.manifest_digest())
    );
    assert_eq!(
        seen[seen.len() - 1],
        format!(
            "Status: Downloaded newer image for {}",
            reference.familiar()
        )
    );

    let images = store.images().unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(
        images[0].repo_tags,
        vec![format!("{}/library/bb:1.0", registry.host())]
    );
    assert_eq!(
        images[0].repo_digests,
        vec![format!(
            "{}/library/bb@{}",
            registry.host(),
            image.manifest_digest()
        )]
    );
    assert_eq!(
        store.image_config(&id).unwrap().architecture().to_string(),
        "amd64"
    );

    // Pull again by digest: nothing downloaded, up to date.
    let by_digest = Reference::parse(&format!(
        "{}/library/bb@{}",
        registry.host(),
        image.manifest_digest()
    ))
    .unwrap();
    let again = pull(&store, &config, &by_digest, &PullOptions::default(), &tx)
        .await
        .expect("pull by digest");
    assert_eq!(again, id);
    let seen = statuses(&mut rx);
    assert!(
        seen.last()
            .unwrap()
            .starts_with("Status: Image is up to date"),
        "{seen:?}"
    );

    // The rootfs the daemon mounts shows both layers.
    let rootfs = store
        .prepare_rootfs(&id, "pull-test-1")
        .await
        .expect("prepare rootfs");
    rootfs.mount().expect("mount overlay");
    let motd = std::fs::read_to_string(rootfs.path().join("etc/motd"));
    let has_busybox = rootfs.path().join("bin/busybox").is_file();
    let output = std::process::Command::new("chroot")
        .arg(rootfs.path())
        .args(["/bin/sh", "-c", "cat /etc/motd"])
        .output();
    rootfs.unmount().expect("unmount");
    store
        .remove_rootfs("pull-test-1")
        .await
        .expect("remove rootfs");
    assert_eq!(motd.expect("motd"), "hello from berth\n");
    assert!(has_busybox);
    assert_eq!(
        String::from_utf8_lossy(&output.expect("chroot").stdout),
        "hello from berth\n"
    );

    // rmi removes the image, its layers and blobs.
    let removal = store
        .remove_image(&reference.to_string(), false)
        .await
        .expect("rmi");
    assert!(
        removal
            .actions
            .contains(&berth_image::RemoveAction::Deleted(id.clone())),
        "{removal:?}"
    );
    // The busybox binary was in the only layer: at least its bytes were freed.
    let busybox = std::fs::metadata("/bin/busybox").unwrap().len();
    assert!(
        removal.space_reclaimed >= busybox,
        "reclaimed {} bytes, busybox alone is {busybox}",
        removal.space_reclaimed
    );
    assert!(store.images().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(store.root().join("layers"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(store.root().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn multi_arch_index_picks_linux_amd64_and_skips_attestations() {
    let registry = Registry::start();
    let uploader = Uploader::new(&registry.url());
    let amd64 = TestImage::new(
        &[tar_layer(&[Entry::File(
            "arch".into(),
            b"amd64".to_vec(),
            0o644,
        )])],
        "amd64",
    );
    let arm64 = TestImage::new(
        &[tar_layer(&[Entry::File(
            "arch".into(),
            b"arm64".to_vec(),
            0o644,
        )])],
        "arm64",
    );
    let mut index_entries = Vec::new();
    for (img, arch) in [(&arm64, "arm64"), (&amd64, "amd64")] {
        uploader.image("multi/app", arch, img).await;
        index_entries.push(json!({
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "digest": img.manifest_digest(), "size": img.manifest.len(),
            "platform": {"os": "linux", "architecture": arch}}));
    }
    // An attestation entry claiming amd64 must be skipped (it points at the arm64 manifest).
    index_entries.insert(
        0,
        json!({
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "digest": arm64.manifest_digest(), "size": arm64.manifest.len(),
        "platform": {"os": "linux", "architecture": "amd64"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}),
    );
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": index_entries}))
    .unwrap();
    uploader
        .manifest(
            "multi/app",
            "latest",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            &index,
        )
        .await;
    let (_dir, store) = store();
    let (tx, _rx) = channel();
    let reference = Reference::parse(&format!("{}/multi/app", registry.host())).unwrap();
    let id = pull_with_defaults(&store, &reference, &tx)
        .await
        .expect("pull index");
    assert_eq!(id.to_string(), amd64.id());
    let summary = &store.images().unwrap()[0];
    assert_eq!(
        summary.repo_digests,
        vec![format!("{}/multi/app@{}", registry.host(), sha(&index))]
    );
    let record = store.image(&id).unwrap();
    let diff = store.layer_diff(&record.layers[0].diff_id);
    assert_eq!(std::fs::read(diff.join("arch")).unwrap(), b"amd64");
}

#[tokio::test]
async fn corrupted_blob_fails_with_digest_error_and_stores_nothing() {
    let registry = Registry::start();
    let image = TestImage::new(
        &[tar_layer(&[Entry::File("a".into(), vec![7; 4096], 0o644)])],
        "amd64",
    );
    Uploader::new(&registry.url())
        .image("library/bad", "latest", &image)
        .await;
    let blob = registry.blob_data_path(&sha(&image.layers[0]));
    let mut data = std::fs::read(&blob).unwrap();
    let last = data.len() - 10;
    data[last] ^= 0xff;
    std::fs::write(&blob, &data).unwrap();

    let (_dir, store) = store();
    let (tx, _rx) = channel();
    let config = RegistryConfig::default()
        .with_max_download_attempts(1)
        .unwrap();
    let reference = Reference::parse(&format!("{}/library/bad", registry.host())).unwrap();
    let err = pull(&store, &config, &reference, &PullOptions::default(), &tx)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("digest mismatch") && message.contains(&sha(&image.layers[0])),
        "{message}"
    );
    assert!(store.images().unwrap().is_empty());
    assert!(!store.has_blob(&berth_image::Digest::parse(&sha(&image.layers[0])).unwrap()));
    assert_eq!(
        std::fs::read_dir(store.root().join("layers"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(store.root().join("tmp"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .map(|e| !e.file_name().to_string_lossy().starts_with("overlay-check"))
                    .unwrap_or(true)
            })
            .count(),
        0
    );
}

#[tokio::test]
async fn mirrors_fall_through_and_name_every_endpoint() {
    let registry = Registry::start();
    let image = TestImage::new(
        &[tar_layer(&[Entry::File(
            "m".into(),
            b"mirror".to_vec(),
            0o644,
        )])],
        "amd64",
    );
    Uploader::new(&registry.url())
        .image("library/mirrored", "latest", &image)
        .await;
    let reference = Reference::parse("mirrored").unwrap();
    assert!(reference.is_docker_hub());

    // First mirror down, second serves; the "official" endpoint is dead and never needed.
    let dead_mirror = dead_endpoint();
    let dead_official = dead_endpoint();
    let mut config = RegistryConfig::new(&[dead_mirror.clone(), registry.url()], &[]).unwrap();
    config.official_endpoint = reqwest::Url::parse(&dead_official).unwrap();
    let (_dir, store) = store();
    let (tx, _rx) = channel();
    let id = pull(&store, &config, &reference, &PullOptions::default(), &tx)
        .await
        .expect("pull via second mirror");
    assert_eq!(id.to_string(), image.id());
    assert_eq!(
        store.images().unwrap()[0].repo_tags,
        vec!["mirrored:latest".to_string()]
    );

    // Every endpoint down: the error names each one.
    let other_dead = dead_endpoint();
    let mut config = RegistryConfig::new(&[dead_mirror.clone(), other_dead.clone()], &[]).unwrap();
    config.official_endpoint = reqwest::Url::parse(&dead_official).unwrap();
    let (_dir2, store2) = self::store();
    let message = pull(&store2, &config, &reference, &PullOptions::default(), &tx)
        .await
        .unwrap_err()
        .to_string();
    for endpoint in [&dead_mirror, &other_dead, &dead_official] {
        assert!(
            message.contains(&format!("{endpoint}/")),
            "{endpoint} not named in: {message}"
        );
    }

    // A non-docker.io name never goes to a mirror: the mirror serves the repo, but the
    // name's own registry is down, so the pull must fail without touching the mirror.
    let config = RegistryConfig::new(&[registry.url()], &[]).unwrap();
    let elsewhere = Reference::parse(&format!(
        "{}/library/mirrored",
        dead_endpoint().trim_start_matches("http://")
    ))
    .unwrap();
    let (_dir3, store3) = self::store();
    let message = pull(&store3, &config, &elsewhere, &PullOptions::default(), &tx)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        !message.contains(&registry.url()),
        "mirror was used: {message}"
    );
    assert!(store3.images().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_download_is_retried_with_range() {
    let registry = Registry::start();
    let data: Vec<u8> = (0..(2u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let layer = tar_layer(&[Entry::File("big".into(), data.clone(), 0o644)]);
    let image = TestImage::with_compression(&[layer], "amd64", |t| t.to_vec());
    Uploader::new(&registry.url())
        .image("library/flaky", "latest", &image)
        .await;

    // One attempt only: the cut connection fails the pull, and nothing is stored.
    let (port, _) = flaky_proxy(registry.port, 1 << 20).await;
    let reference = Reference::parse(&format!("127.0.0.1:{port}/library/flaky")).unwrap();
    let (_dir, store) = store();
    let (tx, mut rx) = channel();
    let one_try = RegistryConfig::default()
        .with_max_download_attempts(1)
        .unwrap();
    assert!(
        pull(&store, &one_try, &reference, &PullOptions::default(), &tx)
            .await
            .is_err()
    );
    assert!(store.images().unwrap().is_empty());

    // With retries the download resumes with a Range request and completes.
    let (port, saw_range) = flaky_proxy(registry.port, 1 << 20).await;
    let reference = Reference::parse(&format!("127.0.0.1:{port}/library/flaky")).unwrap();
    statuses(&mut rx);
    let id = pull_with_defaults(&store, &reference, &tx)
        .await
        .expect("pull with retry");
    assert_eq!(id.to_string(), image.id());
    assert!(
        saw_range.load(std::sync::atomic::Ordering::SeqCst),
        "no Range request on retry"
    );
    let seen = statuses(&mut rx);
    assert!(
        seen.iter().any(|s| s.starts_with("Retrying in")),
        "{seen:?}"
    );
    let record = store.image(&id).unwrap();
    assert_eq!(
        std::fs::read(store.layer_diff(&record.layers[0].diff_id).join("big")).unwrap(),
        data
    );
}

#[test]
fn storage_driver_errors_are_clear() {
    let err = StorageDriver::parse("aufs").unwrap_err().to_string();
    assert!(
        err.contains("storage-driver") && err.contains("aufs"),
        "{err}"
    );
    // overlay2 cannot use an overlay mount as its data-root (no upper on overlayfs); vfs can.
    let dir = tempfile::tempdir().unwrap();
    for d in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
    }
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        dir.path().join("lower").display(),
        dir.path().join("upper").display(),
        dir.path().join("work").display()
    );
    nix::mount::mount(
        Some("overlay"),
        &dir.path().join("merged"),
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(data.as_str()),
    )
    .expect("mount test overlay");
    let root = dir.path().join("merged/root");
    let overlay = Store::open(&root, StorageDriver::Overlay2)
        .err()
        .map(|e| e.to_string());
    let vfs = Store::open(dir.path().join("merged/vfs-root"), StorageDriver::Vfs).map(|_| ());
    let _ = nix::mount::umount2(&dir.path().join("merged"), nix::mount::MntFlags::MNT_DETACH);
    let overlay = overlay.expect("overlay2 on overlayfs must fail");
    assert!(
        overlay.contains("storage-driver overlay2 cannot work on"),
        "{overlay}"
    );
    vfs.expect("vfs works anywhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_run_in_parallel_within_the_limit() {
    let registry = Registry::start();
    let image =
        TestImage::with_compression(&distinct_layers(5, 256 << 10), "amd64", |t| t.to_vec());
    Uploader::new(&registry.url())
        .image("library/par", "latest", &image)
        .await;
    for limit in [2usize, 5] {
        let port = throttling_proxy(
            registry.port,
            32 * 1024,
            std::time::Duration::from_millis(10),
        )
        .await;
        let reference = Reference::parse(&format!("127.0.0.1:{port}/library/par")).unwrap();
        let (_dir, store) = store();
        let (tx, mut rx) = channel();
        let config = RegistryConfig::default()
            .with_max_concurrent_downloads(limit)
            .unwrap();
        pull(&store, &config, &reference, &PullOptions::default(), &tx)
            .await
            .expect("pull");
        // Replay the events: a layer downloads from its first Downloading to Download complete.
        let mut active = std::collections::BTreeSet::new();
        let mut max_active = 0;
        let mut waiting = 0;
        while let Ok(event) = rx.try_recv() {
            if let berth_image::ProgressEvent::Layer { id, status } = event {
                match status {
                    berth_image::LayerStatus::Downloading { .. } => {
                        active.insert(id);
                    }
                    berth_image::LayerStatus::DownloadComplete => {
                        active.remove(&id);
                    }
                    berth_image::LayerStatus::Waiting => waiting += 1,
                    _ => {}
                }
                max_active = max_active.max(active.len());
            }
        }
        if limit == 2 {
            assert_eq!(
                max_active, 2,
                "max-concurrent-downloads 2 not respected or not used"
            );
            assert_eq!(waiting, 3);
        } else {
            assert!(max_active > 2, "downloads did not overlap: {max_active}");
            assert_eq!(waiting, 0);
        }
    }
}

#[tokio::test]
async fn zstd_and_uncompressed_oci_layers_pull_through_the_registry() {
    let registry = Registry::start();
    let zstd_tar = tar_layer(&[Entry::File(
        "etc/zstd".into(),
        b"from a zstd layer\n".to_vec(),
        0o644,
    )]);
    let plain_tar = tar_layer(&[Entry::File(
        "etc/plain".into(),
        b"from a plain layer\n".to_vec(),
        0o600,
    )]);
    let zstd_blob = zstd::encode_all(zstd_tar.as_slice(), 3).unwrap();
    let image = TestImage::oci(
        &[
            (
                zstd_tar.clone(),
                zstd_blob,
                "application/vnd.oci.image.layer.v1.tar+zstd",
            ),
            (
                plain_tar.clone(),
                plain_tar.clone(),
                "application/vnd.oci.image.layer.v1.tar",
            ),
        ],
        "amd64",
    );
    Uploader::new(&registry.url())
        .image("library/zstd", "1", &image)
        .await;
    let (_dir, store) = store();
    let reference = Reference::parse(&format!("{}/library/zstd:1", registry.host())).unwrap();
    let (tx, _rx) = channel();
    let id = pull_with_defaults(&store, &reference, &tx)
        .await
        .expect("pull");
    assert_eq!(id.to_string(), image.id());
    for (tar, file, text) in [
        (&zstd_tar, "etc/zstd", "from a zstd layer\n"),
        (&plain_tar, "etc/plain", "from a plain layer\n"),
    ] {
        let diff_id = berth_image::Digest::parse(&sha(tar)).unwrap();
        let extracted = store.layer_diff(&diff_id).join(file);
        assert_eq!(std::fs::read_to_string(&extracted).unwrap(), text);
    }
}
