//! A real Debian `docker-registry` on a free loopback port holding `library/hello-world`,
//! built here from busybox-static and a `/hello` script, pushed with skopeo from an OCI
//! layout.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::require_tool;

/// What `/hello` prints.
pub const HELLO_MESSAGE: &str = "Hello from Docker!";

/// A running registry, killed on drop.
pub struct Registry {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl Registry {
    /// Starts a registry and pushes hello-world into it.
    pub fn with_hello_world() -> Registry {
        let registry = Registry::start();
        registry.push_hello_world();
        registry
    }

    /// Starts an empty registry.
    pub fn start() -> Registry {
        require_tool("docker-registry");
        let dir = tempfile::tempdir().expect("temp dir");
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .map(|address| address.port())
                .expect("free port");
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                    dir.path().join("data").display()
                ),
            )
            .expect("registry config");
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
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A daemon.json that pulls through this registry.
    pub fn mirror_config(&self) -> String {
        format!(r#"{{"registry-mirrors": ["{}"]}}"#, self.url())
    }

    fn push_hello_world(&self) {
        self.push_hello_world_variant(serde_json::json!({}));
    }

    /// Pushes `library/hello-world:latest` again with these image labels: another image (its
    /// config differs) on the same layer, so a daemon that pulls it leaves the old one dangling.
    pub fn push_hello_world_variant(&self, labels: serde_json::Value) {
        self.push_image(
            "library/hello-world",
            |_| {},
            serde_json::json!({"Cmd": ["/hello"], "Labels": labels}),
        );
    }

    /// Pushes `REPOSITORY:latest`: hello-world's files plus what `add` puts into its rootfs
    /// directory (a hostile image's symlinks, say), with `config` as the image's config (PATH
    /// is added to its Env).
    pub fn push_image(&self, repository: &str, add: impl FnOnce(&Path), config: serde_json::Value) {
        require_tool("skopeo");
        require_tool("busybox");
        let work = tempfile::tempdir().expect("temp dir");
        let layout = work.path().join("layout");
        let layer = hello_layer(work.path(), add);
        let layer_digest = write_blob(&layout, &layer);
        let mut config = config;
        config["Env"] = serde_json::json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        ]);
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [layer_digest.clone()]},
        });
        let config = serde_json::to_vec(&config).expect("config json");
        let config_digest = write_blob(&layout, &config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
        });
        let manifest = serde_json::to_vec(&manifest).expect("manifest json");
        let manifest_digest = write_blob(&layout, &manifest);
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest.len(),
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }],
        });
        std::fs::write(layout.join("index.json"), index.to_string()).expect("index.json");
        std::fs::write(
            layout.join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .expect("oci-layout");
        let output = Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false", "--quiet"])
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!(
                "docker://127.0.0.1:{}/{repository}:latest",
                self.port
            ))
            .output()
            .expect("run skopeo");
        assert!(
            output.status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tar layer: busybox-static as /bin/busybox and /bin/sh, the /hello script, and what `add`
/// puts into the rootfs directory.
fn hello_layer(work: &Path, add: impl FnOnce(&Path)) -> Vec<u8> {
    let root = work.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir rootfs/bin");
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy busybox");
    for applet in [
        "sh", "echo", "sleep", "cat", "ls", "env", "id", "pwd", "true",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).expect("symlink");
    }
    let script = format!(
        "#!/bin/sh\necho\necho \"{HELLO_MESSAGE}\"\necho \"This message shows that your installation appears to be working correctly.\"\n"
    );
    std::fs::write(root.join("hello"), script).expect("write /hello");
    let status = Command::new("chmod")
        .args(["0755"])
        .arg(root.join("hello"))
        .status()
        .expect("chmod");
    assert!(status.success());
    add(&root);
    let tar = work.join("layer.tar");
    let status = Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(status.success(), "tar failed");
    std::fs::read(tar).expect("read layer")
}

/// Stores a blob in an OCI layout and returns its digest.
fn write_blob(layout: &Path, data: &[u8]) -> String {
    let hex = hex::encode(Sha256::digest(data));
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).expect("blobs dir");
    std::fs::write(dir.join(&hex), data).expect("write blob");
    format!("sha256:{hex}")
}
