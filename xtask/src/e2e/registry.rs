//! The registry mirror of the e2e test: Debian's docker-registry on 127.0.0.1:<free port>,
//! holding `library/hello-world`, an image the harness builds from busybox-static with umoci and
//! pushes with skopeo.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use super::check;
use super::scratch::{free_port, spawn_tied_to_us, stop_child, ScratchDir};

/// What the hello-world image prints; `berth run --rm hello-world` must show it.
pub const HELLO_MESSAGE: &str = "Hello from berth!";

const HELLO_TEXT: &str = "\nHello from berth!\n\
This message shows that your installation appears to be working correctly:\n\
the engine pulled library/hello-world from the registry mirror in daemon.json,\n\
unpacked it and ran this busybox in a container.\n\n";

pub struct HelloRegistry {
    port: u16,
    child: Child,
    log: PathBuf,
    _dir: ScratchDir,
}

impl HelloRegistry {
    /// Starts the registry and pushes library/hello-world:latest to it.
    pub fn start(sh: &Shell) -> Result<Self> {
        for tool in ["docker-registry", "skopeo", "umoci", "busybox"] {
            if cmd!(sh, "which {tool}")
                .quiet()
                .ignore_stdout()
                .run()
                .is_err()
            {
                bail!("{tool} is missing: run `cargo xtask test --tools-only`");
            }
        }
        let dir = ScratchDir::new(&std::env::temp_dir(), "berth-e2e-registry")?;
        let (port, child) = start_registry(dir.path())?;
        let registry = HelloRegistry {
            port,
            child,
            log: dir.path().join("registry.log"),
            _dir: dir,
        };
        registry.push_hello_world(sh)?;
        Ok(registry)
    }

    /// The mirror URL to put in daemon.json's registry-mirrors.
    pub fn mirror_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many times a client asked for the hello-world manifest (proof the mirror was used).
    pub fn manifest_fetches(&self) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter(|line| {
                line.contains("/v2/library/hello-world/manifests/") && !line.contains("\"PUT ")
            })
            .filter(|line| line.contains("\"GET ") || line.contains("\"HEAD "))
            .count()
    }

    fn push_hello_world(&self, sh: &Shell) -> Result<()> {
        let (image, bundle) = empty_umoci_image(sh, self._dir.path())?;
        let rootfs = bundle.join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin"))?;
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
            .context("copying /bin/busybox (busybox-static)")?;
        std::fs::write(rootfs.join("hello.txt"), HELLO_TEXT)?;
        cmd!(sh, "umoci repack --image {image} {bundle}")
            .quiet()
            .ignore_stdout()
            .run()?;
        cmd!(sh, "umoci config --image {image} --os linux --architecture amd64 --config.cmd /bin/busybox --config.cmd cat --config.cmd /hello.txt")
            .quiet()
            .ignore_stdout()
            .run()?;
        let destination = format!(
            "docker://127.0.0.1:{}/library/hello-world:latest",
            self.port
        );
        let source = format!("oci:{image}");
        cmd!(sh, "skopeo --insecure-policy copy --quiet --dest-tls-verify=false --format v2s2 {source} {destination}")
            .quiet()
            .run()
            .context("pushing hello-world with skopeo")?;
        check("the registry lists library/hello-world:latest");
        let (status, body) = http_get(self.port, "/v2/library/hello-world/tags/list")?;
        if status != 200 || !body.contains("latest") {
            bail!(
                "the registry does not list hello-world:latest after the push ({status}): {body}"
            );
        }
        println!(
            "e2e: library/hello-world:latest is on {}",
            self.mirror_url()
        );
        Ok(())
    }
}

impl Drop for HelloRegistry {
    fn drop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(5));
    }
}

/// Starts docker-registry on a free port, retrying if another process took the port first.
fn start_registry(dir: &std::path::Path) -> Result<(u16, Child)> {
    let storage = dir.join("storage");
    for _attempt in 0..3 {
        let port = free_port()?;
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.display()
            ),
        )?;
        let log = std::fs::File::create(dir.join("registry.log"))?;
        let mut command = Command::new("docker-registry");
        command
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let mut child = spawn_tied_to_us(&mut command, true)?;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if child.try_wait()?.is_some() {
                break;
            }
            if matches!(http_get(port, "/v2/"), Ok((200, _))) {
                println!("e2e: docker-registry answers on 127.0.0.1:{port}");
                return Ok((port, child));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        stop_child(&mut child, Duration::from_secs(5));
        let log = std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
        println!("e2e: docker-registry did not come up on port {port}:\n{log}");
    }
    bail!("docker-registry did not start (see its log above)")
}

/// A plain HTTP/1.0 GET on 127.0.0.1: (status, body).
fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no HTTP status in the answer to GET {path}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// An empty image in an OCI layout under `dir`, unpacked for editing with umoci: returns the
/// image (`LAYOUT:latest`, for `umoci repack --image`) and the bundle whose rootfs/ to fill.
pub(crate) fn empty_umoci_image(sh: &Shell, dir: &Path) -> Result<(String, PathBuf)> {
    let layout = dir.join("oci");
    let bundle = dir.join("bundle");
    let image = format!("{}:latest", layout.display());
    cmd!(sh, "umoci init --layout {layout}").quiet().run()?;
    cmd!(sh, "umoci new --image {image}").quiet().run()?;
    cmd!(sh, "umoci unpack --image {image} {bundle}")
        .quiet()
        .ignore_stdout()
        .run()?;
    Ok((image, bundle))
}
