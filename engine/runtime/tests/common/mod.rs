//! Shared helpers for the root integration tests: a busybox bundle built in a temp dir from
//! Debian's busybox-static, unique ids, and the paths of the binaries under test.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use berth_runtime::oci_spec::runtime::{ProcessBuilder, RootBuilder, Spec};
use berth_runtime::{Bundle, Runtime};
use tempfile::TempDir;

pub const BUSYBOX: &str = "/bin/busybox";

/// The berth-runtime binary built for these tests.
pub fn runtime_binary() -> &'static str {
    env!("CARGO_BIN_EXE_berth-runtime")
}

/// A unique container id for this test process.
pub fn unique_id(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A busybox bundle in a temp dir: `rootfs/` with busybox and its applet links, /etc/passwd
/// and /etc/group, and a spec running `args`.
pub struct TestBundle {
    pub dir: TempDir,
    pub spec: Spec,
}

impl TestBundle {
    pub fn new(args: &[&str]) -> TestBundle {
        assert!(
            Path::new(BUSYBOX).exists(),
            "{BUSYBOX} is missing: run `cargo xtask test`, which installs busybox-static"
        );
        let dir = tempfile::Builder::new()
            .prefix("berth-rt-")
            .tempdir()
            .unwrap();
        let rootfs = dir.path().join("rootfs");
        for sub in [
            "bin",
            "proc",
            "sys",
            "dev",
            "tmp",
            "etc",
            "root",
            "home/user",
        ] {
            fs::create_dir_all(rootfs.join(sub)).unwrap();
        }
        fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
        let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                let _ = symlink("busybox", rootfs.join("bin").join(applet));
            }
        }
        fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
        )
        .unwrap();
        fs::write(rootfs.join("etc/group"), "root:x:0:\nuser:x:1000:\n").unwrap();

        let mut spec = berth_runtime::default_spec();
        spec.set_root(Some(
            RootBuilder::default()
                .path("rootfs")
                .readonly(true)
                .build()
                .unwrap(),
        ));
        let mut process = ProcessBuilder::default()
            .args(args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
            .env(vec!["PATH=/bin".to_owned(), "TERM=xterm".to_owned()])
            .cwd("/")
            .terminal(false)
            .no_new_privileges(true)
            .build()
            .unwrap();
        process.set_capabilities(spec.process().as_ref().unwrap().capabilities().clone());
        spec.set_process(Some(process));
        TestBundle { dir, spec }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// The bundle for the library API.
    pub fn bundle(&self) -> Bundle {
        Bundle::new(self.path(), self.spec.clone()).unwrap()
    }

    /// Writes config.json for the CLI.
    pub fn write_config(&self) {
        fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(&self.spec).unwrap(),
        )
        .unwrap();
    }

    pub fn linux_mut(&mut self) -> &mut berth_runtime::oci_spec::runtime::Linux {
        self.spec.linux_mut().as_mut().unwrap()
    }

    pub fn process_mut(&mut self) -> &mut berth_runtime::oci_spec::runtime::Process {
        self.spec.process_mut().as_mut().unwrap()
    }
}

/// A runtime with its state root in a temp dir and berth-runtime as init.
pub fn test_runtime() -> (TempDir, Runtime) {
    let root = tempfile::Builder::new()
        .prefix("berth-state-")
        .tempdir()
        .unwrap();
    let runtime = Runtime::new(root.path()).with_init_binary(runtime_binary());
    (root, runtime)
}

/// A pipe: (read end as a File, write end as an OwnedFd for CreateOptions).
pub fn pipe() -> (fs::File, std::os::fd::OwnedFd) {
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    (fs::File::from(read), write)
}

/// Runs a bundle through the library with stdout and stderr captured.
pub fn run_captured(bundle: &TestBundle) -> (i32, String, String) {
    use std::io::Read;
    let (_root, runtime) = test_runtime();
    let (mut out_read, out_write) = pipe();
    let (mut err_read, err_write) = pipe();
    let id = unique_id("run");
    let options = berth_runtime::CreateOptions {
        stdout: Some(out_write),
        stderr: Some(err_write),
        ..Default::default()
    };
    let status = runtime.run(&id, &bundle.bundle(), options).unwrap();
    let mut stdout = String::new();
    let mut stderr = String::new();
    out_read.read_to_string(&mut stdout).unwrap();
    err_read.read_to_string(&mut stderr).unwrap();
    (status.code(), stdout, stderr)
}

/// Runs the berth-runtime CLI with `--root root`. Output goes through files, not pipes: a
/// created container keeps the stdio of `create` open.
pub fn cli(root: &Path, args: &[&str]) -> std::process::Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let status = Command::new(runtime_binary())
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .status()
        .unwrap();
    std::process::Output {
        status,
        stdout: read_from_start(out),
        stderr: read_from_start(err),
    }
}

fn read_from_start(mut file: fs::File) -> Vec<u8> {
    use std::io::{Read, Seek};
    let mut data = Vec::new();
    file.rewind().unwrap();
    file.read_to_end(&mut data).unwrap();
    data
}

/// stdout of an Output as a String.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr of an Output as a String.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The cgroup directories a container with this id would have on a v1 or v2 host.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut dirs = vec![Path::new("/sys/fs/cgroup").join(id)];
    if let Ok(entries) = fs::read_dir("/sys/fs/cgroup") {
        for entry in entries.flatten() {
            dirs.push(entry.path().join(id));
        }
    }
    dirs
}

/// A tmpfs mount for a spec.
pub fn tmpfs_mount(destination: &str) -> berth_runtime::oci_spec::runtime::Mount {
    berth_runtime::oci_spec::runtime::MountBuilder::default()
        .destination(destination)
        .typ("tmpfs")
        .source("tmpfs")
        .options(vec!["nosuid".to_owned(), "size=4m".to_owned()])
        .build()
        .unwrap()
}
