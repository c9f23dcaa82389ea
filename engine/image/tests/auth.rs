//! Token auth: docker-registry configured for Bearer tokens signed by a key the test makes,
//! and a token endpoint served here that checks Basic credentials and records scopes.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};

use berth_image::{
    pull, push, Credentials, PullOptions, Reference, RegistryConfig, StorageDriver, Store,
};
use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn openssl(args: &[&str], dir: &std::path::Path) -> Vec<u8> {
    require_tool("openssl");
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A JWT (RS256, x5c) granting pull+push on `repos`.
fn make_token(dir: &std::path::Path, repos: &[&str]) -> String {
    let der = openssl(&["x509", "-in", "cert.pem", "-outform", "DER"], dir);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"alg": "RS256", "typ": "JWT", "x5c": [base64(&der)]});
    let claims = json!({
        "iss": "berth-test-issuer", "sub": "alice", "aud": "berth-test",
        "exp": now + 3600, "nbf": now - 60, "iat": now - 60, "jti": "berth-test-token",
        "access": repos.iter().map(|r| json!({"type": "repository", "name": r, "actions": ["pull", "push"]})).collect::<Vec<_>>(),
    });
    let signing_input = format!(
        "{}.{}",
        base64url(&serde_json::to_vec(&header).unwrap()),
        base64url(&serde_json::to_vec(&claims).unwrap())
    );
    std::fs::write(dir.join("input"), &signing_input).unwrap();
    let signature = openssl(&["dgst", "-sha256", "-sign", "key.pem", "input"], dir);
    format!("{signing_input}.{}", base64url(&signature))
}

/// Serves GET /token: 200 {"token"} for Basic alice:secret, 401 otherwise. Records queries.
async fn token_server(token: String, queries: Arc<Mutex<Vec<String>>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let good = format!("Basic {}", base64(b"alice:secret"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (token, queries, good) = (token.clone(), queries.clone(), good.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&buf).to_string();
                let target = request.split_whitespace().nth(1).unwrap_or("").to_string();
                queries.lock().unwrap().push(target);
                let authorized = request.lines().any(|l| {
                    l.to_ascii_lowercase().starts_with("authorization:") && l[14..].trim() == good
                });
                let (status, body) = if authorized {
                    ("200 OK", json!({"token": token}).to_string())
                } else {
                    (
                        "401 Unauthorized",
                        json!({"errors": [{"code": "UNAUTHORIZED"}]}).to_string(),
                    )
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn bearer_token_flow_for_push_and_pull() {
    let keys = tempfile::tempdir().unwrap();
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=berth-token",
        ],
        keys.path(),
    );
    let token = make_token(keys.path(), &["secure/app"]);
    let queries = Arc::new(Mutex::new(Vec::new()));
    let token_port = token_server(token, queries.clone()).await;
    let secure = Registry::start_with(&format!(
        "auth:\n  token:\n    realm: http://127.0.0.1:{token_port}/token\n    service: berth-test\n    issuer: berth-test-issuer\n    rootcertbundle: {}\n",
        keys.path().join("cert.pem").display()
    ));

    // Seed: pull from an open registry, push to the token-protected one with credentials.
    let open = Registry::start();
    let image = TestImage::new(
        &[tar_layer(&[Entry::File(
            "secret".into(),
            b"s3cr3t".to_vec(),
            0o600,
        )])],
        "amd64",
    );
    Uploader::new(&open.url())
        .image("library/seed", "latest", &image)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("root"), StorageDriver::Overlay2).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let config = RegistryConfig::default();
    let seed = Reference::parse(&format!("{}/library/seed", open.host())).unwrap();
    let id = pull(&store, &config, &seed, &PullOptions::default(), &tx)
        .await
        .unwrap();
    let target = Reference::parse(&format!("{}/secure/app:1", secure.host())).unwrap();
    store.tag(&id, &target).unwrap();
    let alice = Credentials {
        username: "alice".into(),
        password: "secret".into(),
    };

    // Without credentials the token endpoint refuses: a clear auth error.
    let err = push(&store, &config, &target, None, &tx)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("authentication failed") && err.contains("401"),
        "{err}"
    );

    push(&store, &config, &target, Some(&alice), &tx)
        .await
        .expect("push with token");
    assert!(
        queries
            .lock()
            .unwrap()
            .iter()
            .any(|q| q.contains("service=berth-test")
                && q.contains("scope=repository%3Asecure%2Fapp%3Apull%2Cpush")),
        "{:?}",
        queries.lock().unwrap()
    );

    let (_d2, fresh) = {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path().join("root"), StorageDriver::Overlay2).unwrap();
        (d, s)
    };
    let err = pull(&fresh, &config, &target, &PullOptions::default(), &tx)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("authentication failed"), "{err}");
    let options = PullOptions {
        credentials: Some(alice),
        ..PullOptions::default()
    };
    assert_eq!(
        pull(&fresh, &config, &target, &options, &tx)
            .await
            .expect("pull with token"),
        id
    );
    assert!(queries
        .lock()
        .unwrap()
        .iter()
        .any(|q| q.contains("scope=repository%3Asecure%2Fapp%3Apull") && !q.contains("push")));
}
