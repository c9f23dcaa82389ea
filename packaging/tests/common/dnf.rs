//! dnf --installroot against generated repositories: the "base provides" fixture RPM, a .repo
//! file with gpgcheck and repo_gpgcheck, a loopback HTTP server and the dnf runner.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_packaging::signing::SigningKey;

/// File in the install root where the stub groupadd and systemctl record their calls.
pub const CALL_LOG: &str = "var/log/berth-test-calls";

/// The "base provides" RPM a Debian host lacks: busybox as /bin/sh (scriptlets run chrooted in
/// the install root), stub /usr/sbin/groupadd and /usr/bin/systemctl that do their job on the
/// root's files and log the call, and `Provides: systemd`.
pub fn base_provides_rpm(out: &Path, key: &SigningKey) -> PathBuf {
    let log = format!("/{CALL_LOG}");
    let groupadd = format!(
        "#!/bin/sh\n[ \"$1\" = --system ] && shift\necho \"$1:x:990:\" >> /etc/group\necho \"groupadd --system $1\" >> {log}\n"
    );
    let systemctl = format!("#!/bin/sh\necho \"systemctl $*\" >> {log}\n");
    let busybox = std::fs::read("/bin/busybox")
        .expect("/bin/busybox (busybox-static) is needed: run `cargo xtask test`");
    let mut builder = rpm::PackageBuilder::new(
        "berth-test-base",
        "1.0",
        "GPL-2.0-only",
        "x86_64",
        "Test base system",
    );
    builder
        .using_config(rpm::BuildConfig::v4().compression(rpm::CompressionWithLevel::Gzip(1)))
        .release("1")
        .provides(rpm::Dependency::any("systemd"));
    let file = |path: &str, mode: u16| rpm::FileOptions::new(path).permissions(mode);
    builder
        .with_file_contents(busybox, file("/bin/busybox", 0o755))
        .unwrap()
        .with_file_contents(groupadd, file("/usr/sbin/groupadd", 0o755))
        .unwrap()
        .with_file_contents(systemctl, file("/usr/bin/systemctl", 0o755))
        .unwrap()
        .with_file_contents(
            "root:x:0:\n",
            file("/etc/group", 0o644).config().noreplace(),
        )
        .unwrap();
    for link in ["/bin/sh", "/bin/grep", "/bin/cat"] {
        builder
            .with_symlink(rpm::FileOptions::symlink(link, "busybox"))
            .unwrap();
    }
    for dir in ["/dev", "/var/log", "/etc", "/bin", "/usr/bin", "/usr/sbin"] {
        builder
            .with_dir_entry(rpm::FileOptions::dir(dir).permissions(0o755))
            .unwrap();
    }
    let pkg = builder.build_and_sign(key.rpm_signer().unwrap()).unwrap();
    berth_packaging::builder::write_package(&pkg, out).unwrap()
}

/// A dnf setup: an install root, a cache dir and a reposdir with one berth-test.repo file.
pub struct Dnf {
    pub root: PathBuf,
    cache: PathBuf,
    reposdir: PathBuf,
    config: PathBuf,
    /// The `$releasever` dnf expands (`--releasever`).
    pub releasever: String,
}

impl Dnf {
    /// A fresh root under `dir` whose only repository is `baseurl`, checked with `gpgkey`
    /// (gpgcheck=1, repo_gpgcheck=1) when given; the key is imported into the root's rpmdb.
    pub fn new(dir: &Path, name: &str, baseurl: &str, key: Option<&Path>) -> Dnf {
        let check = if key.is_some() { "1" } else { "0" };
        let mut repo = format!(
            "[berth-test]\nname=berth test\nbaseurl={baseurl}\nenabled=1\ngpgcheck={check}\nrepo_gpgcheck={check}\nmetadata_expire=0\n"
        );
        if let Some(key) = key {
            repo.push_str(&format!("gpgkey=file://{}\n", key.display()));
        }
        Dnf::with_repo_file(dir, name, &repo, key)
    }

    /// A fresh root under `dir` whose repositories are the sections of `repo_file` (a .repo
    /// file's text); `key`, when given, is imported into the root's rpmdb.
    pub fn with_repo_file(dir: &Path, name: &str, repo_file: &str, key: Option<&Path>) -> Dnf {
        let root = dir.join(format!("{name}-root"));
        let cache = dir.join(format!("{name}-cache"));
        let reposdir = dir.join(format!("{name}-repos"));
        for d in [&root, &cache, &reposdir] {
            std::fs::create_dir_all(d).unwrap();
        }
        if let Some(key) = key {
            super::run(
                Command::new("rpm")
                    .arg("--root")
                    .arg(&root)
                    .arg("--import")
                    .arg(key),
            );
        }
        std::fs::write(reposdir.join("berth-test.repo"), repo_file).unwrap();
        // The host's /etc/dnf/dnf.conf is not part of the test.
        let config = dir.join(format!("{name}-dnf.conf"));
        std::fs::write(&config, "[main]\n").unwrap();
        Dnf {
            root,
            cache,
            reposdir,
            config,
            releasever: "7".to_string(),
        }
    }

    /// Runs `dnf -y ARGS` against this root and repository.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("dnf")
            .arg("-y")
            .arg(format!("--installroot={}", self.root.display()))
            .arg(format!("--setopt=reposdir={}", self.reposdir.display()))
            .arg(format!("--setopt=cachedir={}", self.cache.display()))
            .arg(format!("--config={}", self.config.display()))
            .arg(format!("--releasever={}", self.releasever))
            .args([
                "--setopt=install_weak_deps=0",
                "--setopt=skip_if_unavailable=False",
            ])
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs dnf and panics with its output when it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "dnf {args:?} failed:\n{text}");
        text
    }

    /// Installed package NEVRAs.
    pub fn installed(&self) -> Vec<String> {
        let out = super::stdout(Command::new("rpm").arg("--root").arg(&self.root).args([
            "-qa",
            "--qf",
            "%{NAME}-%{VERSION}-%{RELEASE}\n",
        ]));
        let mut list: Vec<String> = out
            .lines()
            .map(str::to_string)
            .filter(|l| !l.starts_with("gpg-pubkey"))
            .collect();
        list.sort();
        list
    }

    pub fn calls(&self) -> String {
        std::fs::read_to_string(self.root.join(CALL_LOG)).unwrap_or_default()
    }
}

/// Serves `dir` over HTTP on 127.0.0.1 (an ephemeral port) for the life of the process;
/// returns the base URL.
pub fn serve(dir: &Path) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                loop {
                    let mut header = String::new();
                    if reader
                        .read_line(&mut header)
                        .map(|n| n == 0)
                        .unwrap_or(true)
                        || header == "\r\n"
                    {
                        break;
                    }
                }
                let path = request
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .split('?')
                    .next()
                    .unwrap_or("/")
                    .to_string();
                let mut stream = &stream;
                let file = dir.join(path.trim_start_matches('/'));
                match (path.contains(".."), std::fs::read(&file)) {
                    (false, Ok(body)) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(&body);
                    }
                    _ => {
                        let _ = write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}
