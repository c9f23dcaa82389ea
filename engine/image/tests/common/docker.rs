//! A private dockerd (its own data-root, exec-root, socket and pidfile in a temp dir), for
//! comparing berth's behaviour with Debian's docker.io.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Dockerd {
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Dockerd {
    pub fn start() -> Dockerd {
        super::require_tool("dockerd");
        super::require_tool("docker");
        // Short paths: containerd's socket path must fit in sun_path.
        let dir = tempfile::Builder::new()
            .prefix("bd")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let p = |name: &str| dir.path().join(name);
        let log = std::fs::File::create(p("log")).expect("log file");
        let child = Command::new("dockerd")
            .args(["--iptables=false", "--bridge=none", "--ip-masq=false"])
            .arg("--data-root")
            .arg(p("data"))
            .arg("--exec-root")
            .arg(p("x"))
            .arg("--pidfile")
            .arg(p("pid"))
            .arg("--host")
            .arg(format!("unix://{}", p("s").display()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn dockerd");
        let d = Dockerd { dir, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if d.docker(&["version"]).status.success() {
                return d;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "dockerd did not start: {}",
            std::fs::read_to_string(d.dir.path().join("log")).unwrap_or_default()
        );
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}", self.dir.path().join("s").display()))
            .args(args)
            .output()
            .expect("run docker")
    }

    /// Runs docker and returns stdout, failing the test with stderr otherwise.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Unmount anything dockerd left (its overlay mounts, netns) before the dir is removed.
        let _ = Command::new("umount")
            .args(["-R", "-l"])
            .arg(self.dir.path().join("data"))
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("umount")
            .args(["-R", "-l"])
            .arg(self.dir.path().join("x"))
            .stderr(Stdio::null())
            .status();
    }
}
