//! Pulls from a hostile registry (tests/common/hostile.rs) serving a real busybox image that
//! misbehaves on demand: endless or oversized bodies, sizes that lie, trickles and stalls.
//! Every pull must fail fast with an error naming the blob, never write or hold more than
//! was declared, and leave no partial blob behind.

mod common;

use std::time::Duration;

use berth_image::{pull, PullOptions, Reference, RegistryConfig, StorageDriver, Store, Timeouts};
use common::hostile::{Body, Hostile};
use common::*;

const REPO: &str = "hostile/busybox";
/// Every pull here must end within this, or the test fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(40);

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("root"), StorageDriver::Overlay2).expect("open store");
    (dir, store)
}

/// A real image: busybox-static and a file, gzip layers, Docker schema2.
fn image() -> TestImage {
    TestImage::new(
        &[
            busybox_layer(),
            tar_layer(&[Entry::File("etc/motd".into(), b"hi\n".to_vec(), 0o644)]),
        ],
        "amd64",
    )
}

/// The image's manifest with `edit` applied to its JSON.
fn edited_manifest(image: &TestImage, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut manifest: serde_json::Value = serde_json::from_slice(&image.manifest).unwrap();
    edit(&mut manifest);
    serde_json::to_vec(&manifest).unwrap()
}

/// Serves `image` honestly under `REPO:latest`, with `manifest` as its manifest.
fn serve(hostile: &Hostile, image: &TestImage, manifest: Vec<u8>) {
    hostile.manifest(
        REPO,
        "latest",
        image.manifest_media_type,
        Body::Exact(manifest),
    );
    hostile.blob(REPO, &image.id(), Body::Exact(image.config.clone()));
    for layer in &image.layers {
        hostile.blob(REPO, &sha(layer), Body::Exact(layer.clone()));
    }
}

fn reference(hostile: &Hostile) -> Reference {
    Reference::parse(&format!("{}/{REPO}:latest", hostile.host())).unwrap()
}

/// Pulls within [`DEADLINE`]; a pull still running then fails the test.
async fn pull_bounded(
    store: &Store,
    config: &RegistryConfig,
    reference: &Reference,
) -> berth_image::Result<berth_image::Digest> {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::time::timeout(
        DEADLINE,
        pull(store, config, reference, &PullOptions::default(), &tx),
    )
    .await
    .expect("the pull did not end within the deadline")
}

/// Files under the store's tmp dir other than the storage-driver probe: partial downloads.
/// Waits up to 10 s for them to go: an extraction already running in a blocking thread when
/// the pull failed ends (commits or removes its dir) on its own.
fn leftovers(store: &Store) -> Vec<String> {
    let list = || -> Vec<String> {
        std::fs::read_dir(store.root().join("tmp"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.starts_with("overlay-check"))
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !list().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    list()
}

fn one_attempt() -> RegistryConfig {
    RegistryConfig::default()
        .with_max_download_attempts(1)
        .unwrap()
}

#[tokio::test]
async fn hostile_server_serves_a_pullable_image_when_honest() {
    let hostile = Hostile::start();
    let image = image();
    serve(&hostile, &image, image.manifest.clone());
    let (_dir, store) = store();
    let id = pull_bounded(&store, &RegistryConfig::default(), &reference(&hostile))
        .await
        .expect("honest pull");
    assert_eq!(id.to_string(), image.id());
}

#[tokio::test]
async fn layer_declared_size_zero_with_endless_body_is_refused() {
    let hostile = Hostile::start();
    let image = image();
    let layer = sha(&image.layers[0]);
    serve(
        &hostile,
        &image,
        edited_manifest(&image, |m| m["layers"][0]["size"] = 0.into()),
    );
    hostile.blob(REPO, &layer, Body::Endless(image.layers[0].clone()));
    let (_dir, store) = store();
    let err = pull_bounded(&store, &RegistryConfig::default(), &reference(&hostile))
        .await
        .expect_err("a layer of size 0 must be refused");
    let message = err.to_string();
    assert!(
        message.contains(&layer) && message.contains("size"),
        "{message}"
    );
    assert_eq!(
        hostile.blob_sent(REPO, &layer),
        0,
        "the blob was downloaded"
    );
    let left = leftovers(&store);
    assert!(left.is_empty(), "{left:?}");
    assert!(store.images().unwrap().is_empty());
}

#[tokio::test]
async fn layer_body_longer_than_declared_is_refused_and_removed() {
    let hostile = Hostile::start();
    let image = image();
    let layer = sha(&image.layers[0]);
    serve(&hostile, &image, image.manifest.clone());
    hostile.blob(REPO, &layer, Body::Endless(image.layers[0].clone()));
    let (_dir, store) = store();
    let err = pull_bounded(&store, &one_attempt(), &reference(&hostile))
        .await
        .expect_err("a body longer than declared must be refused");
    let message = err.to_string();
    assert!(
        message.contains(&layer) && message.contains("larger"),
        "{message}"
    );
    // Reading stops at the declared size (plus what was in flight), never near the cap, and
    // the store holds no more than the image's own bytes.
    let sent = hostile.blob_sent(REPO, &layer);
    assert!(
        sent < image.layers[0].len() as u64 + (32 << 20),
        "sent {sent}"
    );
    let stored = berth_image::apparent_size(store.root());
    let honest: usize = image.layers.iter().map(Vec::len).sum::<usize>() * 4;
    assert!(stored < honest as u64, "the store grew to {stored} bytes");
    let left = leftovers(&store);
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn layer_body_shorter_than_declared_is_refused_and_removed() {
    let hostile = Hostile::start();
    let image = image();
    let layer = sha(&image.layers[0]);
    serve(&hostile, &image, image.manifest.clone());
    let half = image.layers[0][..image.layers[0].len() / 2].to_vec();
    hostile.blob(REPO, &layer, Body::Exact(half));
    let (_dir, store) = store();
    let err = pull_bounded(&store, &one_attempt(), &reference(&hostile))
        .await
        .expect_err("a short body must be refused");
    let message = err.to_string();
    assert!(
        message.contains(&layer) && message.contains("ended after"),
        "{message}"
    );
    let left = leftovers(&store);
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn config_declared_larger_than_the_cap_is_refused_before_download() {
    let hostile = Hostile::start();
    let image = image();
    let config = image.id();
    serve(
        &hostile,
        &image,
        edited_manifest(&image, |m| m["config"]["size"] = (3u64 << 30).into()),
    );
    hostile.blob(REPO, &config, Body::Endless(image.config.clone()));
    let (_dir, store) = store();
    let err = pull_bounded(&store, &RegistryConfig::default(), &reference(&hostile))
        .await
        .expect_err("a 3 GiB config must be refused");
    let message = err.to_string();
    assert!(
        message.contains(&config) && message.contains("larger than"),
        "{message}"
    );
    assert_eq!(
        hostile.blob_sent(REPO, &config),
        0,
        "the config was fetched"
    );
}

#[tokio::test]
async fn config_body_longer_than_declared_is_cut_at_the_declared_size() {
    let hostile = Hostile::start();
    let image = image();
    let config = image.id();
    serve(&hostile, &image, image.manifest.clone());
    hostile.blob(REPO, &config, Body::Endless(image.config.clone()));
    let (_dir, store) = store();
    let err = pull_bounded(&store, &RegistryConfig::default(), &reference(&hostile))
        .await
        .expect_err("an endless config must be refused");
    let message = err.to_string();
    assert!(
        message.contains(&config) && message.contains("larger"),
        "{message}"
    );
    let sent = hostile.blob_sent(REPO, &config);
    assert!(sent < 32 << 20, "sent {sent}");
}

#[tokio::test]
async fn endless_manifest_is_cut_at_4_mib() {
    let hostile = Hostile::start();
    let image = image();
    serve(&hostile, &image, image.manifest.clone());
    hostile.manifest(
        REPO,
        "latest",
        image.manifest_media_type,
        Body::Endless(image.manifest.clone()),
    );
    let (_dir, store) = store();
    let err = pull_bounded(&store, &RegistryConfig::default(), &reference(&hostile))
        .await
        .expect_err("an endless manifest must be refused");
    let message = err.to_string();
    assert!(message.contains("larger than"), "{message}");
    let sent = hostile.sent(&format!("/v2/{REPO}/manifests/latest"));
    assert!(sent < 32 << 20, "sent {sent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_pull_stops_downloading_and_removes_its_partial_blob() {
    let hostile = Hostile::start();
    let image = image();
    let layer = sha(&image.layers[0]);
    serve(
        &hostile,
        &image,
        edited_manifest(&image, |m| m["layers"][0]["size"] = (1u64 << 30).into()),
    );
    hostile.blob(REPO, &layer, Body::Slow(1 << 20));
    let (_dir, store) = store();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let pulling = {
        let (store, reference) = (store.clone(), reference(&hostile));
        tokio::spawn(async move {
            pull(
                &store,
                &RegistryConfig::default(),
                &reference,
                &PullOptions::default(),
                &tx,
            )
            .await
        })
    };
    let path = format!("/v2/{REPO}/blobs/{layer}");
    let started = tokio::task::block_in_place(|| {
        hostile.wait_sent(&path, 256 << 10, Duration::from_secs(20))
    });
    assert!(started, "the layer download did not start");
    pulling.abort();
    let _ = pulling.await;
    let hung_up =
        tokio::task::block_in_place(|| hostile.wait_hang_up(&path, Duration::from_secs(20)));
    assert!(hung_up, "the download went on after the pull was dropped");
    let left = tokio::task::block_in_place(|| leftovers(&store));
    assert!(left.is_empty(), "{left:?}");
}

/// Short limits for the timeout tests (production keeps dockerd-like defaults).
fn impatient() -> RegistryConfig {
    one_attempt().with_timeouts(Timeouts {
        connect: Duration::from_secs(5),
        idle: Duration::from_secs(1),
        document: Duration::from_secs(2),
    })
}

#[tokio::test]
async fn trickled_manifest_times_out() {
    let hostile = Hostile::start();
    let image = image();
    serve(&hostile, &image, image.manifest.clone());
    // One byte every 300 ms: never idle for a second, but the whole takes minutes.
    hostile.manifest(
        REPO,
        "latest",
        image.manifest_media_type,
        Body::Trickle(image.manifest.clone(), Duration::from_millis(300)),
    );
    let (_dir, store) = store();
    let err = pull_bounded(&store, &impatient(), &reference(&hostile))
        .await
        .expect_err("a trickled manifest must time out");
    let message = err.to_string();
    assert!(
        message.contains("manifest") && message.contains("did not arrive within"),
        "{message}"
    );
}

#[tokio::test]
async fn trickled_response_headers_time_out() {
    let hostile = Hostile::start();
    let image = image();
    serve(&hostile, &image, image.manifest.clone());
    let layer = sha(&image.layers[0]);
    // A header line every 300 ms and no end to the headers: the wait for a response's
    // headers is bounded by the idle limit as a whole (reqwest's read timeout), not per line.
    hostile.blob(
        REPO,
        &layer,
        Body::TrickledHeaders(Duration::from_millis(300)),
    );
    let (_dir, store) = store();
    let err = pull_bounded(&store, &impatient(), &reference(&hostile))
        .await
        .expect_err("trickled headers must time out");
    let message = err.to_string();
    assert!(
        message.contains(&layer) && message.contains("timed out"),
        "{message}"
    );
}

#[tokio::test]
async fn stalled_layer_download_times_out_and_its_partial_blob_is_removed() {
    let hostile = Hostile::start();
    let image = image();
    let layer = sha(&image.layers[0]);
    serve(&hostile, &image, image.manifest.clone());
    let half = image.layers[0][..image.layers[0].len() / 2].to_vec();
    hostile.blob(
        REPO,
        &layer,
        Body::Stall(half, image.layers[0].len() as u64),
    );
    let (_dir, store) = store();
    let err = pull_bounded(&store, &impatient(), &reference(&hostile))
        .await
        .expect_err("a stalled download must time out");
    let message = err.to_string();
    assert!(message.contains(&layer), "{message}");
    assert!(
        hostile.wait_hang_up(
            &format!("/v2/{REPO}/blobs/{layer}"),
            Duration::from_secs(10)
        ),
        "the stalled connection was kept open"
    );
    let left = leftovers(&store);
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn index_entry_without_size_is_refused() {
    let hostile = Hostile::start();
    let image = image();
    serve(&hostile, &image, image.manifest.clone());
    let entry = sha(&image.manifest);
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": image.manifest_media_type, "digest": entry, "size": 0,
            "platform": {"os": "linux", "architecture": "amd64"},
        }],
    }))
    .unwrap();
    hostile.manifest(
        REPO,
        "latest",
        "application/vnd.oci.image.index.v1+json",
        Body::Exact(index),
    );
    hostile.manifest(
        REPO,
        &entry,
        image.manifest_media_type,
        Body::Endless(image.manifest.clone()),
    );
    let (_dir, store) = store();
    let err = pull_bounded(&store, &RegistryConfig::default(), &reference(&hostile))
        .await
        .expect_err("an index entry of size 0 must be refused");
    let message = err.to_string();
    assert!(
        message.contains(&entry) && message.contains("size"),
        "{message}"
    );
    assert_eq!(hostile.sent(&format!("/v2/{REPO}/manifests/{entry}")), 0);
}
