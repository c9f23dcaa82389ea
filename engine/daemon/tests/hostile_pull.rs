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
