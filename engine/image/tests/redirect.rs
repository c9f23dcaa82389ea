//! Blob redirects: a front that demands Basic auth and redirects blob GETs to another origin
//! (as registries do to object storage). The Authorization header must not follow.

mod common;

use std::sync::{Arc, Mutex};

use berth_image::{
    pull, Credentials, PullOptions, Reference, RegistryConfig, StorageDriver, Store,
};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn read_head(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match socket.read(&mut byte).await {
            // A TLS ClientHello (the https attempt): close, as a plain-http server would.
            Ok(1) if buf.is_empty() && byte[0] == 0x16 => return None,
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Forwards one request head (GET/HEAD, no body) to the registry and relays the response.
async fn forward(mut socket: tokio::net::TcpStream, head: &str, registry: u16) {
    let Ok(mut upstream) = tokio::net::TcpStream::connect(("127.0.0.1", registry)).await else {
        return;
    };
    let head = head.replacen("\r\n", "\r\nConnection: close\r\n", 1);
    if upstream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let _ = tokio::io::copy(&mut upstream, &mut socket).await;
    let _ = socket.shutdown().await;
}

/// Serves on a fresh port; each request head is recorded, then `handle` decides.
async fn serve(
    heads: Arc<Mutex<Vec<String>>>,
    handle: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    registry: u16,
) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (heads, handle) = (heads.clone(), handle.clone());
            tokio::spawn(async move {
                let Some(head) = read_head(&mut socket).await else {
                    return;
                };
                heads.lock().unwrap().push(head.clone());
                match handle(&head) {
                    Some(response) => {
                        let _ = socket.write_all(response.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    }
                    None => forward(socket, &head, registry).await,
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirected_blobs_do_not_get_the_authorization_header() {
    let registry = Registry::start();
    let image = TestImage::new(
        &[tar_layer(&[Entry::File(
            "r".into(),
            b"redirected".to_vec(),
            0o644,
        )])],
        "amd64",
    );
    Uploader::new(&registry.url())
        .image("library/redir", "latest", &image)
        .await;

    let storage_heads = Arc::new(Mutex::new(Vec::new()));
    let storage = serve(storage_heads.clone(), |_| None, registry.port).await;
    let front_heads = Arc::new(Mutex::new(Vec::new()));
    let front = serve(
        front_heads.clone(),
        move |head: &str| {
            let lower = head.to_ascii_lowercase();
            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
            if !lower.contains("\r\nauthorization: basic ") {
                return Some("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into());
            }
            if head.starts_with("GET ") && path.contains("/blobs/sha256:") {
                return Some(format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{storage}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                ));
            }
            None
        },
        registry.port,
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("root"), StorageDriver::Overlay2).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let reference = Reference::parse(&format!("127.0.0.1:{front}/library/redir")).unwrap();
    let options = PullOptions {
        credentials: Some(Credentials {
            username: "u".into(),
            password: "p".into(),
        }),
        ..PullOptions::default()
    };
    let id = pull(
        &store,
        &RegistryConfig::default(),
        &reference,
        &options,
        &tx,
    )
    .await
    .expect("pull through redirects");
    assert_eq!(id.to_string(), image.id());

    let storage_heads = storage_heads.lock().unwrap();
    assert!(
        storage_heads.len() >= 2,
        "config and layer fetched from storage: {storage_heads:?}"
    );
    for head in storage_heads.iter() {
        assert!(
            !head.to_ascii_lowercase().contains("authorization"),
            "credentials leaked: {head}"
        );
    }
    assert!(front_heads
        .lock()
        .unwrap()
        .iter()
        .any(|h| h.to_ascii_lowercase().contains("authorization: basic")));
}
