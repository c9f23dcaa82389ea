//! Crash safety: a pull killed with SIGKILL mid-way leaves no visible image; the next pull
//! completes it, reusing the layers already verified, and the store is consistent.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use berth_image::{pull_with_report, PullOptions, Reference, RegistryConfig, StorageDriver, Store};
use common::*;

const CHILD_ENV: &str = "BERTH_IMAGE_CRASH_CHILD";

/// Runs only as the child process the crash test spawns (and kills).
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (root, reference) = spec.split_once('|').expect("root|reference");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open(root, StorageDriver::Overlay2).unwrap();
        let config = RegistryConfig::default()
            .with_max_concurrent_downloads(1)
            .unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let reference = Reference::parse(reference).unwrap();
        pull_with_report(&store, &config, &reference, &PullOptions::default(), &tx)
            .await
            .unwrap();
    });
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_pull_then_pull_again() {
    let registry = Registry::start();
    let layers: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            tar_layer(&[Entry::File(
                format!("blob{i}"),
                pseudo_random(1 << 20, i + 1),
                0o644,
            )])
        })
        .collect();
    // Uncompressed layers: the registry serves them as-is.
    let image = TestImage::with_compression(&layers, "amd64", |t| t.to_vec());
    Uploader::new(&registry.url())
        .image("library/big", "latest", &image)
        .await;
    let proxy = throttling_proxy(registry.port, 64 * 1024, Duration::from_millis(20)).await;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let slow = format!("127.0.0.1:{proxy}/library/big");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{}|{slow}", root.display()))
        .spawn()
        .expect("spawn child");
    // Kill once at least one layer is committed but the image is not.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let layers_done = std::fs::read_dir(root.join("layers"))
            .map(|d| d.count())
            .unwrap_or(0);
        if layers_done >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "child made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "child exited before it was killed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "child was killed, not finished");

    // Nothing visible: no image record, no reference.
    let store = Store::open(&root, StorageDriver::Overlay2).expect("reopen after crash");
    assert!(
        store.images().unwrap().is_empty(),
        "a partial image is visible"
    );
    assert!(store.resolve(&slow).is_err());

    // Pull again (directly): completes, reusing what was verified.
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let reference = Reference::parse(&format!("{}/library/big", registry.host())).unwrap();
    let report = pull_with_report(
        &store,
        &RegistryConfig::default(),
        &reference,
        &PullOptions::default(),
        &tx,
    )
    .await
    .expect("pull after crash");
    assert_eq!(report.image_id.to_string(), image.id());
    assert!(
        report.layers_reused >= 1,
        "verified layers were not reused: {report:?}"
    );
    let record = store.image(&report.image_id).unwrap();
    for (i, l) in record.layers.iter().enumerate() {
        let content = std::fs::read(store.layer_diff(&l.diff_id).join(format!("blob{i}"))).unwrap();
        assert_eq!(
            content,
            pseudo_random(1 << 20, i as u64 + 1),
            "layer {i} content"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(root.join("tmp")).unwrap().collect();
    assert!(leftovers.is_empty(), "tmp not cleaned: {leftovers:?}");
}
