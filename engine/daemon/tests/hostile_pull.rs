//! berthd pulling from a hostile registry (the image crate's std-only test server): a pull
//! whose client hangs up is stopped and leaves no partial blob.

#[path = "../../image/tests/common/hostile.rs"]
mod hostile;
mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use hostile::{Body, Hostile};
use sha2::{Digest as _, Sha256};
use support::Daemon;

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Partial downloads left in the daemon's image tmp dir (the storage-driver probe aside).
fn partial_blobs(daemon: &Daemon) -> Vec<String> {
    std::fs::read_dir(daemon.dir.path().join("data/image/tmp"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("blob-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn pull_stops_when_its_client_disconnects() {
    let hostile = Hostile::start();
    let repo = "hostile/slow";
    // A layer said to be 1 GiB that arrives at 1 MiB/s: the pull is mid-download for minutes.
    let layer_digest = sha(b"a layer that never finishes");
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha(b"diff")]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": config.len(), "digest": sha(&config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 1u64 << 30, "digest": layer_digest}],
    }))
    .unwrap();
    hostile.manifest(
        repo,
        "latest",
        "application/vnd.docker.distribution.manifest.v2+json",
        Body::Exact(manifest),
    );
    hostile.blob(repo, &sha(&config), Body::Exact(config));
    hostile.blob(repo, &layer_digest, Body::Slow(1 << 20));
    let blob_path = format!("/v2/{repo}/blobs/{layer_digest}");

    let daemon = Daemon::start("{}", &[]);
    let mut client = UnixStream::connect(&daemon.socket).expect("connect to berthd");
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        client,
        "POST /images/create?fromImage={}/{repo}&tag=latest HTTP/1.1\r\nHost: berthd\r\nContent-Length: 0\r\n\r\n",
        hostile.host()
    )
    .unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains("Downloading") {
        assert!(
            Instant::now() < deadline,
            "no Downloading progress: {}",
            String::from_utf8_lossy(&seen)
        );
        let mut buf = [0u8; 4096];
        let n = client.read(&mut buf).expect("read progress");
        assert!(
            n > 0,
            "berthd ended the stream: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(
        hostile.wait_sent(&blob_path, 256 << 10, Duration::from_secs(20)),
        "the layer download did not start"
    );
    assert!(
        !partial_blobs(&daemon).is_empty(),
        "no partial blob while downloading"
    );

    drop(client);
    assert!(
        hostile.wait_hang_up(&blob_path, Duration::from_secs(20)),
        "berthd kept downloading after its client went away: {} bytes sent",
        hostile.sent(&blob_path)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !partial_blobs(&daemon).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(partial_blobs(&daemon), Vec::<String>::new());
    let ping = daemon.request("GET", "/_ping", None);
    assert_eq!(ping.status, 200, "berthd stopped answering");
}

/// A plain tar of one 1 MiB file of hard-to-compress bytes, made by GNU tar.
fn megabyte_layer() -> Vec<u8> {
    support::require_tool("tar");
    let work = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(work.path().join("payload"), data).unwrap();
    let output = std::process::Command::new("tar")
        .args(["--owner=0", "--group=0", "-cf", "-", "-C"])
        .arg(work.path())
        .arg("payload")
        .output()
        .expect("run tar");
    assert!(output.status.success());
    output.stdout
}

#[test]
fn system_df_counts_the_blobs_a_failed_pull_left() {
    let hostile = Hostile::start();
    let repo = "hostile/half";
    // The first layer arrives whole; the second trickles for 2 s and then ends short, so the
    // pull fails after the first layer's blob and extracted layer are stored.
    let first = megabyte_layer();
    let second_digest = sha(b"a second layer that ends short");
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha(&first), sha(b"diff")]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": config.len(), "digest": sha(&config)},
        "layers": [
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar",
             "size": first.len(), "digest": sha(&first)},
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar",
             "size": 1024, "digest": second_digest},
        ],
    }))
    .unwrap();
    hostile.manifest(
        repo,
        "latest",
        "application/vnd.docker.distribution.manifest.v2+json",
        Body::Exact(manifest),
    );
    hostile.blob(repo, &sha(&config), Body::Exact(config));
    hostile.blob(repo, &sha(&first), Body::Exact(first.clone()));
    hostile.blob(
        repo,
        &second_digest,
        Body::Trickle(vec![0; 50], Duration::from_millis(40)),
    );

    let daemon = Daemon::start(r#"{"max-download-attempts": 1}"#, &[]);
    let before = daemon.request("GET", "/system/df", None).json()["LayersSize"]
        .as_i64()
        .unwrap();
    assert_eq!(before, 0);
    let pulled = daemon.request(
        "POST",
        &format!(
            "/images/create?fromImage={}/{repo}&tag=latest",
            hostile.host()
        ),
        None,
    );
    assert!(
        pulled.text().contains("ended after 50 of 1024"),
        "the pull did not fail as arranged: {}",
        pulled.text()
    );
    let df = daemon.request("GET", "/system/df", None).json();
    assert_eq!(df["Images"].as_array().map(Vec::len), Some(0), "{df}");
    let layers_size = df["LayersSize"].as_i64().unwrap();
    assert!(
        layers_size >= first.len() as i64 + (1 << 20),
        "system df does not count the {} byte blob and the 1 MiB layer left by the failed pull: LayersSize {layers_size}",
        first.len()
    );
    assert_eq!(partial_blobs(&daemon), Vec::<String>::new());
}
