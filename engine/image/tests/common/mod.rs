//! Test fixtures: a real Debian `docker-registry` on a free loopback port, images built
//! in-process from tar layers, and a raw registry uploader independent of berth's push.
#![allow(dead_code)]

pub mod docker;
pub mod hostile;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use serde_json::json;
use sha2::{Digest as _, Sha256};

pub fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Fails (never skips) when a test tool is missing.
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: run `cargo xtask test` to install the test tools"
    );
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A port nothing listens on (bound then released).
pub fn dead_endpoint() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// A running docker-registry, killed on drop.
pub struct Registry {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl Registry {
    pub fn start() -> Registry {
        Self::start_with("")
    }

    /// Starts the registry with extra YAML appended to its config (e.g. an `auth:` section).
    pub fn start_with(extra_yaml: &str) -> Registry {
        require_tool("docker-registry");
        let dir = tempfile::tempdir().expect("tempdir");
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{extra_yaml}",
                    dir.path().join("data").display()
                ),
            )
            .expect("write registry config");
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn docker-registry");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Registry { dir, port, child };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken; try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The file holding a blob in the registry's filesystem storage.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One file system entry of a test layer.
pub enum Entry {
    Dir(&'static str, u32),
    File(String, Vec<u8>, u32),
    Symlink(String, String),
    Hardlink(String, String),
}

/// A tar layer from entries (paths used verbatim, even hostile ones).
pub fn tar_layer(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(1_600_000_000);
        header.set_uid(0);
        header.set_gid(0);
        match entry {
            Entry::Dir(path, mode) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                set_raw_path(&mut header, path);
                header.set_cksum();
                builder.append(&header, std::io::empty()).expect("append");
            }
            Entry::File(path, data, mode) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                set_raw_path(&mut header, path);
                header.set_cksum();
                builder.append(&header, data.as_slice()).expect("append");
            }
            Entry::Symlink(path, target) | Entry::Hardlink(path, target) => {
                header.set_entry_type(if matches!(entry, Entry::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                header.set_mode(0o777);
                header.set_size(0);
                set_raw_path(&mut header, path);
                let raw = header.as_old_mut();
                raw.linkname = [0; 100];
                raw.linkname[..target.len()].copy_from_slice(target.as_bytes());
                header.set_cksum();
                builder.append(&header, std::io::empty()).expect("append");
            }
        }
    }
    builder.into_inner().expect("finish tar")
}

/// Writes the name bytes directly so tests can craft `../x` or `/etc/x`, which the tar
/// crate's setters refuse.
fn set_raw_path(header: &mut tar::Header, path: &str) {
    let raw = header.as_old_mut();
    raw.name = [0; 100];
    raw.name[..path.len()].copy_from_slice(path.as_bytes());
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

/// A layer tar with busybox-static and a few applet symlinks.
pub fn busybox_layer() -> Vec<u8> {
    require_tool("busybox");
    let busybox = std::fs::read("/bin/busybox").expect("read /bin/busybox");
    let mut entries = vec![
        Entry::Dir("bin/", 0o755),
        Entry::File("bin/busybox".into(), busybox, 0o755),
        Entry::Dir("etc/", 0o755),
        Entry::File("etc/hostname".into(), b"test\n".to_vec(), 0o644),
    ];
    for applet in ["sh", "ls", "cat", "echo", "true"] {
        entries.push(Entry::Symlink(format!("bin/{applet}"), "busybox".into()));
    }
    tar_layer(&entries)
}

/// An image assembled in memory: config, layers (as uploaded) and manifest.
/// Pulls `reference` into `store` with the default registry configuration and options.
pub async fn pull_with_defaults(
    store: &berth_image::Store,
    reference: &berth_image::Reference,
    progress: &berth_image::ProgressSender,
) -> berth_image::Result<berth_image::Digest> {
    berth_image::pull(
        store,
        &berth_image::RegistryConfig::default(),
        reference,
        &berth_image::PullOptions::default(),
        progress,
    )
    .await
}

/// `count` uncompressed layers, each one file of `bytes` hard-to-compress, distinct bytes.
pub fn distinct_layers(count: u32, bytes: u32) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let data: Vec<u8> = (0..bytes)
                .map(|j| (j.wrapping_mul(2654435761).wrapping_add(i) >> 11) as u8)
                .collect();
            tar_layer(&[Entry::File(format!("l{i}"), data, 0o644)])
        })
        .collect()
}

pub struct TestImage {
    pub config: Vec<u8>,
    pub layers: Vec<Vec<u8>>,
    pub manifest: Vec<u8>,
    pub manifest_media_type: &'static str,
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

impl TestImage {
    /// Builds a Docker schema2 image; each layer tar is gzip-compressed unless `raw`.
    pub fn new(layer_tars: &[Vec<u8>], architecture: &str) -> TestImage {
        Self::with_compression(layer_tars, architecture, gzip)
    }

    pub fn with_compression(
        layer_tars: &[Vec<u8>],
        architecture: &str,
        compress: impl Fn(&[u8]) -> Vec<u8>,
    ) -> TestImage {
        let config = Self::config(layer_tars, architecture);
        let layers: Vec<Vec<u8>> = layer_tars.iter().map(|t| compress(t)).collect();
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": sha(&config)},
            "layers": layers.iter().map(|l| json!({
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": l.len(), "digest": sha(l)})).collect::<Vec<_>>(),
        }))
        .expect("manifest json");
        TestImage {
            config,
            layers,
            manifest,
            manifest_media_type: DOCKER_MANIFEST,
        }
    }

    /// An OCI image whose layers are given compressed, each with its layer media type.
    pub fn oci(layer_tars: &[(Vec<u8>, Vec<u8>, &str)], architecture: &str) -> TestImage {
        let tars: Vec<Vec<u8>> = layer_tars.iter().map(|(tar, _, _)| tar.clone()).collect();
        let config = Self::config(&tars, architecture);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": sha(&config)},
            "layers": layer_tars.iter().map(|(_, blob, media_type)| json!({
                "mediaType": media_type, "size": blob.len(), "digest": sha(blob)})).collect::<Vec<_>>(),
        }))
        .expect("manifest json");
        TestImage {
            config,
            layers: layer_tars.iter().map(|(_, blob, _)| blob.clone()).collect(),
            manifest,
            manifest_media_type: OCI_MANIFEST,
        }
    }

    fn config(layer_tars: &[Vec<u8>], architecture: &str) -> Vec<u8> {
        let diff_ids: Vec<String> = layer_tars.iter().map(|t| sha(t)).collect();
        serde_json::to_vec(&json!({
            "architecture": architecture,
            "os": "linux",
            "created": "2024-01-02T03:04:05Z",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .expect("config json")
    }

    pub fn id(&self) -> String {
        sha(&self.config)
    }

    pub fn manifest_digest(&self) -> String {
        sha(&self.manifest)
    }
}

/// Uploads blobs and manifests with plain HTTP calls (no berth code involved).
pub struct Uploader {
    pub base: String,
    http: reqwest::Client,
}

impl Uploader {
    pub fn new(base: &str) -> Uploader {
        berth_image::registry::install_crypto_provider();
        Uploader {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn blob(&self, repo: &str, data: &[u8]) {
        let start = self
            .http
            .post(format!("{}/v2/{repo}/blobs/uploads/", self.base))
            .send()
            .await
            .expect("start upload");
        assert_eq!(start.status(), 202, "start upload");
        let location = start.headers()["location"]
            .to_str()
            .expect("location")
            .to_string();
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = self
            .http
            .put(format!("{location}{sep}digest={}", sha(data)))
            .header("content-type", "application/octet-stream")
            .body(data.to_vec())
            .send()
            .await
            .expect("put blob");
        assert_eq!(put.status(), 201, "put blob");
    }

    pub async fn manifest(&self, repo: &str, reference: &str, media_type: &str, data: &[u8]) {
        let put = self
            .http
            .put(format!("{}/v2/{repo}/manifests/{reference}", self.base))
            .header("content-type", media_type)
            .body(data.to_vec())
            .send()
            .await
            .expect("put manifest");
        assert_eq!(
            put.status(),
            201,
            "put manifest: {}",
            put.text().await.unwrap_or_default()
        );
    }

    pub async fn image(&self, repo: &str, tag: &str, image: &TestImage) {
        for layer in &image.layers {
            self.blob(repo, layer).await;
        }
        self.blob(repo, &image.config).await;
        self.manifest(repo, tag, image.manifest_media_type, &image.manifest)
            .await;
    }
}

/// Drains a progress channel into its docker JSON "status" strings.
pub fn statuses(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<berth_image::ProgressEvent>,
) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(event) = rx.try_recv() {
        out.push(
            event.to_docker_json()["status"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
    }
    out
}

/// A snapshot of a directory tree (path → kind/size/mode) to prove it unchanged.
pub fn tree_snapshot(root: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            out.push(format!(
                "{} {:o} {} {}",
                path.display(),
                meta.mode(),
                meta.len(),
                meta.mtime()
            ));
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Reads an xattr without following symlinks.
pub fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let c_name = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid NUL-terminated strings and a live buffer of the given length.
    let n = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// base64url without padding, as JWTs use.
pub fn base64url(data: &[u8]) -> String {
    base64(data)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// A TCP proxy to `target` that slows responses down (sleeps `pause` every `chunk` bytes).
pub async fn throttling_proxy(target: u16, chunk: usize, pause: Duration) -> u16 {
    proxy(target, chunk, pause, false).await
}

/// Like [`throttling_proxy`], but request bodies (uploads) are slowed down too.
pub async fn throttling_proxy_both_ways(target: u16, chunk: usize, pause: Duration) -> u16 {
    proxy(target, chunk, pause, true).await
}

async fn proxy(target: u16, chunk: usize, pause: Duration, uploads_too: bool) -> u16 {
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    async fn pump(
        mut from: impl AsyncRead + Unpin,
        mut to: impl AsyncWrite + Unpin,
        chunk: usize,
        pause: Option<Duration>,
    ) {
        let mut buf = vec![0u8; chunk];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    if let Some(pause) = pause {
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        }
        let _ = to.shutdown().await;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
                    return;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let upload_pause = uploads_too.then_some(pause);
                tokio::spawn(pump(cr, sw, chunk, upload_pause));
                pump(sr, cw, chunk, Some(pause)).await;
            });
        }
    });
    port
}

/// A TCP proxy to `target` that drops the connection carrying the `cut_after`-th response
/// byte (once) and notes whether any request asked for a byte Range.
pub async fn flaky_proxy(
    target: u16,
    cut_after: usize,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    let saw_range = Arc::new(AtomicBool::new(false));
    let forwarded = Arc::new(AtomicUsize::new(0));
    let cut_done = Arc::new(AtomicBool::new(false));
    let flag = saw_range.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (flag, forwarded, cut_done) = (flag.clone(), forwarded.clone(), cut_done.clone());
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16384];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if String::from_utf8_lossy(&buf[..n])
                            .to_ascii_lowercase()
                            .contains("\r\nrange: bytes=")
                        {
                            flag.store(true, Ordering::SeqCst);
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                let mut buf = vec![0u8; 16384];
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let total = forwarded.fetch_add(n, Ordering::SeqCst) + n;
                    if total > cut_after && !cut_done.swap(true, Ordering::SeqCst) {
                        return; // drop both halves mid-response
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, saw_range)
}
