//! Producing the image's root filesystem with debootstrap: the mirror, the network and
//! debootstrap itself, then removing what makes two runs differ (logs, caches, host identity).

use std::fs::File;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use super::definition::Definition;
use super::progress::{LogFollower, Progress};

/// The Debian mirror to use: the definition's, or the first apt source on this host that serves
/// the definition's suite.
pub fn resolve_mirror(definition: &Definition) -> Result<String> {
    if !definition.base.mirror.is_empty() {
        return Ok(definition.base.mirror.trim_end_matches('/').to_owned());
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let name = file.to_string_lossy();
        let found = if name.ends_with(".sources") {
            mirror_in_deb822(&text, &definition.base.suite)
        } else if name.ends_with(".list") {
            mirror_in_one_line_format(&text, &definition.base.suite)
        } else {
            None
        };
        if let Some(mirror) = found {
            return Ok(mirror.trim_end_matches('/').to_owned());
        }
    }
    bail!(
        "no apt source on this host serves Debian {}; set base.mirror in packaging/build-image.toml",
        definition.base.suite
    )
}

/// A `URIs:` of a deb822 stanza of type `deb` whose `Suites:` has `suite`.
fn mirror_in_deb822(text: &str, suite: &str) -> Option<String> {
    text.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        };
        let is_deb = field("Types")?.split_whitespace().any(|t| t == "deb");
        let has_suite = field("Suites")?.split_whitespace().any(|s| s == suite);
        let enabled = field("Enabled").is_none_or(|v| v != "no");
        (is_deb && has_suite && enabled)
            .then(|| field("URIs"))?
            .and_then(|uris| uris.split_whitespace().next().map(str::to_owned))
    })
}

/// The URI of a `deb [options] URI suite components` line for `suite`.
fn mirror_in_one_line_format(text: &str, suite: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("deb ")?.trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(options) => options.split_once(']')?.1,
            None => rest,
        };
        let mut words = rest.split_whitespace();
        let uri = words.next()?;
        (words.next()? == suite).then(|| uri.to_owned())
    })
}

/// Fails with the one-line "no network" error unless the mirror's host accepts a connection.
pub fn require_network(mirror: &str) -> Result<()> {
    let no_network = |why: String| {
        anyhow::anyhow!(
            "no network: cannot reach the Debian mirror {mirror} ({why}); the image build is the only step that needs the network"
        )
    };
    let (scheme, rest) = mirror.split_once("://").context("base.mirror: not a URL")?;
    let host_port = rest.split('/').next().unwrap_or_default();
    let with_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:{}", if scheme == "https" { 443 } else { 80 })
    };
    let addrs: Vec<_> = with_port
        .to_socket_addrs()
        .map_err(|err| no_network(format!("resolving {host_port}: {err}")))?
        .collect();
    let mut last_error = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(_) => return Ok(()),
            Err(err) => last_error = format!("connecting to {addr}: {err}"),
        }
    }
    Err(no_network(last_error))
}

/// Installs debootstrap with apt-get when it is not on PATH.
pub fn ensure_debootstrap(sh: &Shell) -> Result<()> {
    if crate::test::which("debootstrap").is_some() {
        return Ok(());
    }
    eprintln!("==> installing debootstrap with apt-get");
    let _env = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
    let installed = cmd!(sh, "apt-get update -q")
        .quiet()
        .ignore_stdout()
        .run()
        .and_then(|()| {
            cmd!(
                sh,
                "apt-get install -y -q --no-install-recommends debootstrap"
            )
            .quiet()
            .ignore_stdout()
            .run()
        });
    if installed.is_err() || crate::test::which("debootstrap").is_none() {
        bail!(
            "debootstrap is missing and `apt-get install debootstrap` failed; install it by hand"
        );
    }
    Ok(())
}

/// The installed debootstrap's version (part of the image digest).
pub fn debootstrap_version(sh: &Shell) -> Result<String> {
    let format = "-f=${Version}";
    cmd!(sh, "dpkg-query -W {format} debootstrap")
        .quiet()
        .read()
        .context("cannot ask dpkg for the debootstrap version")
}

/// Runs debootstrap into `rootfs`, its output to `log`, with progress.
pub fn run(definition: &Definition, mirror: &str, rootfs: &Path, log: &Path) -> Result<()> {
    let log_file = File::create(log).with_context(|| format!("create {}", log.display()))?;
    let mut follower = LogFollower::new(File::open(log)?);
    let base = &definition.base;
    let mut progress = Progress::start(&format!("debootstrap {} ({})", base.suite, mirror));
    let mut child = Command::new("debootstrap")
        .arg(format!("--variant={}", base.variant))
        .arg(format!(
            "--include={}",
            definition.packages.install.join(",")
        ))
        .arg(&base.suite)
        .arg(rootfs)
        .arg(mirror)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .context("cannot start debootstrap")?;
    let status = loop {
        follower.poll(|line| progress.line(line));
        if let Some(status) = child.try_wait()? {
            follower.poll(|line| progress.line(line));
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if status.success() {
        progress.finish("done");
        return Ok(());
    }
    progress.finish("failed");
    let output = std::fs::read_to_string(log).unwrap_or_default();
    let debootstrap_log =
        std::fs::read_to_string(rootfs.join("debootstrap/debootstrap.log")).unwrap_or_default();
    let all = format!("{output}\n{debootstrap_log}");
    if all.contains("No space left on device") {
        bail!(
            "disk full: debootstrap ran out of space in {}",
            rootfs.display()
        );
    }
    if all.contains("Failed getting release file")
        || all.contains("Couldn't download")
        || all.contains("Temporary failure resolving")
    {
        bail!(
            "no network: debootstrap could not download from {mirror}; see {}",
            log.display()
        );
    }
    bail!("debootstrap failed ({status}); see {}", log.display())
}

/// What the mirror's Release file said when the image was made.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReleaseInfo {
    pub version: String,
    pub date: String,
}

/// Reads the Release file debootstrap left in the rootfs and checks it is `base.release`.
pub fn read_release(definition: &Definition, rootfs: &Path) -> Result<ReleaseInfo> {
    let lists = rootfs.join("var/lib/apt/lists");
    let release = std::fs::read_dir(&lists)
        .with_context(|| format!("read {}", lists.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| path.to_string_lossy().ends_with("_Release"))
        .context("debootstrap left no Release file in var/lib/apt/lists")?;
    let text = std::fs::read_to_string(&release)?;
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(|value| value.trim().to_owned())
            .unwrap_or_default()
    };
    let info = ReleaseInfo {
        version: field("Version"),
        date: field("Date"),
    };
    let major = info.version.split('.').next().unwrap_or_default();
    if major != definition.base.release {
        bail!(
            "base.release: packaging/build-image.toml pins Debian {} but the mirror's {} is {}",
            definition.base.release,
            definition.base.suite,
            info.version
        );
    }
    Ok(info)
}

/// Removes the files that differ between two debootstrap runs of the same packages: logs,
/// downloaded archives and lists, backup copies, caches and the build host's identity.
pub fn normalize(rootfs: &Path) -> Result<()> {
    let emptied_dirs = [
        "var/cache/apt/archives",
        "var/lib/apt/lists",
        "var/log",
        "debootstrap",
    ];
    for dir in emptied_dirs {
        let dir = rootfs.join(dir);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            }
            .with_context(|| format!("remove {}", path.display()))?;
        }
    }
    let _ = std::fs::remove_dir(rootfs.join("debootstrap"));
    let removed_files = [
        "var/cache/ldconfig/aux-cache",
        "var/cache/debconf/config.dat-old",
        "var/cache/debconf/templates.dat-old",
        "var/lib/dpkg/status-old",
        "var/lib/dpkg/diversions-old",
        "var/lib/dpkg/available-old",
        "etc/resolv.conf",
    ];
    for file in removed_files {
        match std::fs::remove_file(rootfs.join(file)) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(err).with_context(|| format!("remove {file} from the rootfs"))
            }
            _ => {}
        }
    }
    for (file, contents) in [("etc/hostname", "berth-build\n"), ("etc/machine-id", "")] {
        std::fs::write(rootfs.join(file), contents)
            .with_context(|| format!("write {file} in the rootfs"))?;
    }
    Ok(())
}

/// `name=version` for every installed package, sorted (recorded in the image manifest).
pub fn installed_packages(rootfs: &Path) -> Result<Vec<String>> {
    let status = std::fs::read_to_string(rootfs.join("var/lib/dpkg/status"))
        .context("read var/lib/dpkg/status in the rootfs")?;
    let mut packages: Vec<String> = status
        .split("\n\n")
        .filter_map(|stanza| {
            let field = |name: &str| {
                stanza
                    .lines()
                    .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
            };
            Some(format!("{}={}", field("Package")?, field("Version")?))
        })
        .collect();
    packages.sort();
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_sources_give_the_mirror_for_the_suite() {
        let text =
            "Types: deb\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\n\
                    Components: main\n\nTypes: deb\nURIs: http://sec.example/debian-security\n\
                    Suites: bookworm-security\n";
        assert_eq!(
            mirror_in_deb822(text, "bookworm").as_deref(),
            Some("http://deb.example/debian")
        );
        assert_eq!(mirror_in_deb822(text, "trixie"), None);
    }

    #[test]
    fn one_line_sources_give_the_mirror_for_the_suite() {
        let text = "# comment\ndeb-src http://src.example/debian bookworm main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://deb.example/debian bookworm main\n";
        assert_eq!(
            mirror_in_one_line_format(text, "bookworm").as_deref(),
            Some("http://deb.example/debian")
        );
        let plain = "deb http://plain.example/debian bookworm main contrib\n";
        assert_eq!(
            mirror_in_one_line_format(plain, "bookworm").as_deref(),
            Some("http://plain.example/debian")
        );
    }

    #[test]
    fn an_unreachable_mirror_is_reported_as_no_network() {
        // Port 9 on loopback: nothing listens there, so the connection is refused.
        let err = require_network("http://127.0.0.1:9/debian").unwrap_err();
        assert!(
            err.to_string().starts_with("no network: cannot reach"),
            "{err}"
        );
    }

    #[test]
    fn installed_packages_come_from_dpkg_status() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("var/lib/dpkg")).expect("mkdir");
        std::fs::write(
            root.path().join("var/lib/dpkg/status"),
            "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13\n\n\
             Package: gcc\nVersion: 4:12.2.0-3\n",
        )
        .expect("write");
        let packages = installed_packages(root.path()).expect("parse");
        assert_eq!(packages, ["gcc=4:12.2.0-3", "zlib1g=1:1.2.13"]);
    }
}
