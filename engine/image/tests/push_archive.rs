//! Push to a real registry (blob checks, uploads within max-concurrent-uploads, cross-repo
//! mount) and save/load round trips through docker-archive and OCI layout tarballs.

mod common;

use berth_image::{
    load, pull, push, save, PullOptions, Reference, RegistryConfig, StorageDriver, Store,
};
use common::*;
use serde_json::json;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("root"), StorageDriver::Overlay2).expect("open store");
    (dir, store)
}

fn statuses_of(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<berth_image::ProgressEvent>,
) -> Vec<String> {
    statuses(rx)
}

#[tokio::test]
async fn push_then_pull_elsewhere_and_cross_mount() {
    let source = Registry::start();
    let image = TestImage::new(
        &[
            busybox_layer(),
            tar_layer(&[Entry::File("x".into(), b"x".to_vec(), 0o644)]),
        ],
        "amd64",
    );
    Uploader::new(&source.url())
        .image("library/src", "v1", &image)
        .await;
    let (_dir, store) = store();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let config = RegistryConfig::default();
    let pulled = Reference::parse(&format!("{}/library/src:v1", source.host())).unwrap();
    let id = pull(&store, &config, &pulled, &PullOptions::default(), &tx)
        .await
        .expect("pull");

    // Push to another registry under a new name: all blobs uploaded, same manifest digest.
    let target = Registry::start();
    let first = Reference::parse(&format!("{}/team/app:1", target.host())).unwrap();
    store.tag(&id, &first).unwrap();
    statuses_of(&mut rx);
    let digest = push(&store, &config, &first, None, &tx)
        .await
        .expect("push");
    assert_eq!(
        digest.to_string(),
        image.manifest_digest(),
        "stored manifest pushed byte-exact"
    );
    let seen = statuses_of(&mut rx);
    assert_eq!(
        seen.iter().filter(|s| *s == "Pushed").count(),
        2,
        "{seen:?}"
    );

    // Pushing again: every layer already exists.
    push(&store, &config, &first, None, &tx)
        .await
        .expect("push again");
    let seen = statuses_of(&mut rx);
    assert_eq!(
        seen.iter().filter(|s| *s == "Layer already exists").count(),
        2,
        "{seen:?}"
    );

    // Another repository on the same registry mounts the blobs instead of uploading.
    let second = Reference::parse(&format!("{}/other/app:2", target.host())).unwrap();
    store.tag(&id, &second).unwrap();
    push(&store, &config, &second, None, &tx)
        .await
        .expect("push with mount");
    let seen = statuses_of(&mut rx);
    assert_eq!(
        seen.iter()
            .filter(|s| s.starts_with("Mounted from team/app"))
            .count(),
        2,
        "{seen:?}"
    );

    // A fresh store pulls the pushed image and gets the same id.
    let (_dir2, fresh) = self::store();
    let again = pull(&fresh, &config, &second, &PullOptions::default(), &tx)
        .await
        .expect("pull pushed");
    assert_eq!(again, id);
}

#[tokio::test]
async fn save_load_round_trip_and_push_of_loaded_image() {
    let registry = Registry::start();
    let image = TestImage::new(
        &[
            busybox_layer(),
            tar_layer(&[Entry::File("etc/motd".into(), b"saved\n".to_vec(), 0o644)]),
        ],
        "amd64",
    );
    Uploader::new(&registry.url())
        .image("library/saveme", "latest", &image)
        .await;
    let (_dir, store) = store();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let config = RegistryConfig::default();
    let reference = Reference::parse(&format!("{}/library/saveme", registry.host())).unwrap();
    let id = pull(&store, &config, &reference, &PullOptions::default(), &tx)
        .await
        .expect("pull");

    let archive = save(&store, &[reference.to_string()], Vec::new())
        .await
        .expect("save");
    // The archive is a docker-archive: manifest.json names config and layer tars.
    let mut names = Vec::new();
    let mut tar = tar::Archive::new(archive.as_slice());
    for entry in tar.entries().unwrap() {
        names.push(entry.unwrap().path().unwrap().display().to_string());
    }
    assert!(
        names.contains(&"manifest.json".to_string()) && names.contains(&"repositories".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&format!("{}.json", id.hex())));
    assert_eq!(
        names.iter().filter(|n| n.ends_with("/layer.tar")).count(),
        2
    );

    let (_dir2, other) = self::store();
    let loaded = load(&other, std::io::Cursor::new(archive))
        .await
        .expect("load");
    assert_eq!(
        loaded,
        vec![format!("Loaded image: {}", reference.familiar())]
    );
    assert_eq!(other.resolve(&reference.to_string()).unwrap(), id);
    let record = other.image(&id).unwrap();
    assert_eq!(
        std::fs::read(other.layer_diff(&record.layers[1].diff_id).join("etc/motd")).unwrap(),
        b"saved\n"
    );

    // A loaded image (no registry manifest) pushes with a generated manifest and pulls back.
    let pushed = Reference::parse(&format!("{}/loaded/img:1", registry.host())).unwrap();
    other.tag(&id, &pushed).unwrap();
    push(&other, &config, &pushed, None, &tx)
        .await
        .expect("push loaded image");
    let (_dir3, third) = self::store();
    assert_eq!(
        pull(&third, &config, &pushed, &PullOptions::default(), &tx)
            .await
            .expect("pull back"),
        id
    );
}

#[tokio::test]
async fn load_oci_layout_and_refuse_tampered_archives() {
    let layer = tar_layer(&[Entry::File("hello".into(), b"oci\n".to_vec(), 0o644)]);
    let compressed = gzip(&layer);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]}}))
    .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(&compressed), "size": compressed.len()}]})).unwrap();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(&manifest), "size": manifest.len(),
            "annotations": {"io.containerd.image.name": "docker.io/library/oci-img:v2", "org.opencontainers.image.ref.name": "v2"}}]})).unwrap();
    let build = |blobs: &[&[u8]], corrupt: bool| {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |path: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            b.append_data(&mut h, path, data).unwrap();
        };
        add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        add("index.json", &index);
        for blob in blobs {
            let mut data = blob.to_vec();
            if corrupt && data.len() == compressed.len() {
                let last = data.len() - 9;
                data[last] ^= 1;
            }
            add(
                &format!("blobs/sha256/{}", sha(blob).trim_start_matches("sha256:")),
                &data,
            );
        }
        b.into_inner().unwrap()
    };
    let (_dir, store) = store();
    let good = build(&[&config, &manifest, &compressed], false);
    let loaded = load(&store, std::io::Cursor::new(good))
        .await
        .expect("load OCI layout");
    assert_eq!(loaded, vec!["Loaded image: oci-img:v2".to_string()]);
    let id = store.resolve("oci-img:v2").unwrap();
    assert_eq!(id.to_string(), sha(&config));

    let (_dir2, other) = self::store();
    let tampered = build(&[&config, &manifest, &compressed], true);
    let err = load(&other, std::io::Cursor::new(tampered))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("digest mismatch"), "{err}");
    assert!(other.images().unwrap().is_empty());
}

#[tokio::test]
async fn uploads_run_in_parallel_within_the_limit() {
    let source = Registry::start();
    let image =
        TestImage::with_compression(&distinct_layers(5, 256 << 10), "amd64", |t| t.to_vec());
    Uploader::new(&source.url())
        .image("library/par", "latest", &image)
        .await;
    let (_dir, store) = store();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let pulled = Reference::parse(&format!("{}/library/par", source.host())).unwrap();
    let id = pull_with_defaults(&store, &pulled, &tx)
        .await
        .expect("pull");

    for limit in [2usize, 5] {
        // A fresh registry each time, so every layer is uploaded; uploads are slowed down so
        // that ones allowed to run together do overlap.
        let target = Registry::start();
        let port = throttling_proxy_both_ways(
            target.port,
            32 * 1024,
            std::time::Duration::from_millis(10),
        )
        .await;
        let reference = Reference::parse(&format!("127.0.0.1:{port}/team/par:1")).unwrap();
        store.tag(&id, &reference).unwrap();
        statuses_of(&mut rx);
        let config = RegistryConfig::default()
            .with_max_concurrent_uploads(limit)
            .unwrap();
        let digest = push(&store, &config, &reference, None, &tx)
            .await
            .expect("push");
        assert_eq!(digest.to_string(), image.manifest_digest());

        // Replay the events: a layer uploads from its first Pushing to Pushed.
        let mut active = std::collections::BTreeSet::new();
        let (mut max_active, mut progress_events) = (0, 0);
        while let Ok(event) = rx.try_recv() {
            if let berth_image::ProgressEvent::Layer { id, status } = event {
                match status {
                    berth_image::LayerStatus::Pushing { .. } => {
                        progress_events += 1;
                        active.insert(id);
                    }
                    berth_image::LayerStatus::Pushed => {
                        active.remove(&id);
                    }
                    _ => {}
                }
                max_active = max_active.max(active.len());
            }
        }
        // Streamed from the store: progress arrives chunk by chunk, not once per layer.
        assert!(progress_events > 5 * 3, "{progress_events} Pushing events");
        if limit == 2 {
            assert_eq!(
                max_active, 2,
                "max-concurrent-uploads 2 not respected or not used"
            );
        } else {
            assert!(max_active > 2, "uploads did not overlap: {max_active}");
        }

        // What arrived is the image: pull it back from the target registry directly.
        let (_again_dir, again) = self::store();
        let direct = Reference::parse(&format!("{}/team/par:1", target.host())).unwrap();
        let pulled_back = pull_with_defaults(&again, &direct, &tx)
            .await
            .expect("pull back");
        assert_eq!(pulled_back, id);
    }
}
