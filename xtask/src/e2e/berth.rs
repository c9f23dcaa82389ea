//! The berth part of the e2e path, on the booted host: release N, install from the served
//! repo with signature checks, enable, mirror + hello-world, restart, upgrade to N+1, remove.
//!
//! The host is driven only through what a user types there.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use xshell::Shell;

use super::check;
use super::host::SystemdHost;
use super::publish::ServedRepo;
use super::registry::{HelloRegistry, HELLO_MESSAGE};

/// berth installed on the host from the served repo.
pub struct Session<'a> {
    sh: &'a Shell,
    host: &'a SystemdHost<'a>,
    repo: ServedRepo,
    key: Option<PathBuf>,
    /// The RPM version installed first (N).
    version: String,
    mirror: Option<String>,
}

impl<'a> Session<'a> {
    /// Serves bundles/repo, adds berth.repo and the key, `dnf install -y berth-engine berth-cli`.
    pub fn install(
        sh: &'a Shell,
        host: &'a SystemdHost<'a>,
        bundles: &Path,
        key: Option<PathBuf>,
    ) -> Result<Self> {
        let served = ServedRepo::start(bundles)?;
        let base = served.base_url();
        let repo = point_at(&served.repo_file()?, &base);
        check("berth.repo's enabled stable channel has gpgcheck=1 and repo_gpgcheck=1");
        verify_stable_section(&repo)?;
        // What an EL host has and Debian's dnf lacks: the repo dir, and a $releasever (dnf
        // cannot guess it from an rpmdb without a system-release package).
        host.must(&["mkdir", "-p", "/etc/yum.repos.d", "/etc/dnf/vars"])?;
        host.write_file("/etc/dnf/vars/releasever", b"7\n")?;
        host.write_file("/etc/yum.repos.d/berth.repo", repo.as_bytes())?;
        host.must(&[
            "curl",
            "-fsS",
            "-o",
            "/tmp/berth.gpg",
            &format!("{base}/gpg"),
        ])?;
        host.must(&["rpm", "--import", "/tmp/berth.gpg"])?;
        check("the release key is in the host's rpmdb");
        host.must(&["rpm", "-q", "gpg-pubkey"])?;

        host.dnf(&["install", "-y", "berth-engine", "berth-cli"])?;
        check("rpm -q berth-engine berth-cli");
        host.must(&["rpm", "-q", "berth-engine", "berth-cli"])?;
        check("dnf fetched and checked the repo signature (repomd.xml.asc)");
        if !served
            .requests()
            .iter()
            .any(|line| line.contains("repomd.xml.asc 200"))
        {
            bail!("dnf never fetched repodata/repomd.xml.asc: repo_gpgcheck did not happen; served: {:?}", served.requests());
        }
        let version = host
            .must(&["rpm", "-q", "--qf", "%{VERSION}", "berth-engine"])?
            .trim()
            .to_string();
        println!("e2e: installed berth-engine version N = {version}");
        Ok(Session {
            sh,
            host,
            repo: served,
            key,
            version,
            mirror: None,
        })
    }

    /// `systemctl enable --now`, unit states, socket ownership and `berth version`.
    pub fn enable(&mut self) -> Result<()> {
        let host = self.host;
        host.must(&[
            "systemctl",
            "enable",
            "--now",
            "berth.socket",
            "berth.service",
        ])?;
        self.expect_active()?;
        check("/var/run/berth.sock is a socket with mode 0660, owner root:berth");
        let mode = host.must(&["stat", "-L", "-c", "%F %a %U:%G", "/var/run/berth.sock"])?;
        if mode.trim() != "socket 660 root:berth" {
            bail!(
                "/var/run/berth.sock is '{}', expected 'socket 660 root:berth'",
                mode.trim()
            );
        }
        let expected = self.version.replace('~', "-");
        check(&format!(
            "`berth version` shows client and server version {expected}"
        ));
        let output = host.must(&["berth", "version"])?;
        print!("{output}");
        let versions = versions_in(&output);
        if versions.len() < 2 || versions[0] != expected || versions[1] != expected {
            bail!("`berth version` shows versions {versions:?}; expected client and server {expected}");
        }
        Ok(())
    }

    /// Adds the registry mirror to daemon.json, reloads, and runs hello-world.
    pub fn mirror(&mut self, registry: &HelloRegistry) -> Result<()> {
        let host = self.host;
        let url = registry.mirror_url();
        let mut config = self.daemon_json()?;
        let object = config
            .as_object_mut()
            .context("/etc/berth/daemon.json is not a JSON object")?;
        let mirrors = object
            .entry("registry-mirrors")
            .or_insert_with(|| Value::Array(Vec::new()));
        mirrors
            .as_array_mut()
            .context("registry-mirrors in /etc/berth/daemon.json is not a list")?
            .push(Value::String(url.clone()));
        let text = serde_json::to_string_pretty(&config)? + "\n";
        println!("e2e: new /etc/berth/daemon.json:\n{text}");
        host.write_file("/etc/berth/daemon.json", text.as_bytes())?;
        self.mirror = Some(url);

        let before = self.main_pid()?;
        host.must(&["systemctl", "reload", "berth"])?;
        self.expect_active()?;
        check("reload kept the daemon running (same main PID)");
        let after = self.main_pid()?;
        if after != before {
            bail!("`systemctl reload berth` changed the main PID ({before} → {after}): it restarted instead of reloading");
        }
        check(&format!(
            "`berth run --rm hello-world` prints \"{HELLO_MESSAGE}\""
        ));
        let output = host.must(&["berth", "run", "--rm", "hello-world"])?;
        print!("{output}");
        if !output.contains(HELLO_MESSAGE) {
            bail!("`berth run --rm hello-world` did not print \"{HELLO_MESSAGE}\"");
        }
        check("the image came from the mirror in daemon.json");
        if registry.manifest_fetches() == 0 {
            bail!("the registry mirror never served the hello-world manifest");
        }
        Ok(())
    }

    /// `systemctl restart berth` keeps the image.
    pub fn restart(&mut self) -> Result<()> {
        self.host.must(&["systemctl", "restart", "berth"])?;
        self.expect_active()?;
        self.expect_hello_world_image()
    }

    /// Publishes N+1, `dnf upgrade`: config edit kept, service restarted, image kept.
    pub fn upgrade(&mut self) -> Result<()> {
        let host = self.host;
        let next = next_version(&self.version)?;
        println!("e2e: publishing N+1 = {next}");
        self.repo
            .publish_next(self.sh, self.key.as_deref(), &self.version, &next)?;
        let before = self.main_pid()?;
        host.dnf(&["upgrade", "-y", "--refresh", "berth-engine", "berth-cli"])?;
        check(&format!("rpm -q shows {next} for both packages"));
        let installed = host.must(&[
            "rpm",
            "-q",
            "--qf",
            "%{NAME} %{VERSION}\\n",
            "berth-engine",
            "berth-cli",
        ])?;
        for line in installed.lines() {
            if line.split_whitespace().nth(1) != Some(next.as_str()) {
                bail!("after dnf upgrade: {line}, expected version {next}");
            }
        }
        check(&format!(
            "dnf downloaded berth-engine-{next} from the served repo"
        ));
        let package = format!("/berth-engine-{next}-");
        if !self
            .repo
            .requests()
            .iter()
            .any(|line| line.contains(&package) && line.ends_with(" 200"))
        {
            bail!(
                "dnf never downloaded berth-engine {next} from {}",
                self.repo.base_url()
            );
        }
        match self.mirror.clone() {
            Some(mirror) => {
                check("the daemon.json edit survived the upgrade");
                let config = self.daemon_json()?;
                let kept = config["registry-mirrors"]
                    .as_array()
                    .is_some_and(|list| list.iter().any(|m| m.as_str() == Some(&mirror)));
                if !kept {
                    bail!(
                        "/etc/berth/daemon.json lost the mirror {mirror} in the upgrade: {config}"
                    );
                }
            }
            None => println!(
                "e2e: NOT CHECKED (--skip-mirror): the daemon.json edit survived the upgrade"
            ),
        }
        let rpmnew = host
            .run(&["test", "-e", "/etc/berth/daemon.json.rpmnew"])?
            .success;
        println!(
            "e2e: daemon.json.rpmnew {}",
            if rpmnew { "appeared" } else { "did not appear" }
        );
        self.expect_active()?;
        check("the upgrade restarted berth.service (new main PID)");
        let after = self.wait_for_main_pid_other_than(&before)?;
        println!("e2e: main PID {before} → {after}");
        self.expect_hello_world_image()
    }

    /// `dnf remove`: units stopped and disabled, /var/lib/berth kept.
    pub fn remove(&mut self) -> Result<()> {
        let host = self.host;
        host.dnf(&["remove", "-y", "berth-engine", "berth-cli"])?;
        for unit in ["berth.service", "berth.socket"] {
            check(&format!("{unit} is stopped and disabled"));
            let active = host
                .run(&["systemctl", "is-active", unit])?
                .stdout
                .trim()
                .to_string();
            if active == "active" || active == "activating" {
                bail!("{unit} is still {active} after dnf remove");
            }
            let enabled = host
                .run(&["systemctl", "is-enabled", unit])?
                .stdout
                .trim()
                .to_string();
            if enabled == "enabled" {
                bail!("{unit} is still enabled after dnf remove");
            }
            let links = host.run(&[
                "sh",
                "-c",
                &format!("ls /etc/systemd/system/*.wants/{unit} 2>/dev/null"),
            ])?;
            if !links.stdout.trim().is_empty() {
                bail!(
                    "{unit} still has enablement links after dnf remove: {}",
                    links.stdout.trim()
                );
            }
        }
        check("/var/lib/berth and its content are still there");
        host.must(&["test", "-d", "/var/lib/berth"])?;
        let state = std::fs::read_dir(host.berth_state_dir())?.count();
        if state == 0 {
            bail!("/var/lib/berth is empty after dnf remove: the image store was deleted");
        }
        Ok(())
    }

    fn daemon_json(&self) -> Result<Value> {
        let text = self.host.must(&["cat", "/etc/berth/daemon.json"])?;
        serde_json::from_str(&text).context("/etc/berth/daemon.json in the host is not valid JSON")
    }

    fn expect_active(&self) -> Result<()> {
        for unit in ["berth.socket", "berth.service"] {
            check(&format!("systemctl is-active {unit} = active"));
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let state = self
                    .host
                    .run(&["systemctl", "is-active", unit])?
                    .stdout
                    .trim()
                    .to_string();
                if state == "active" {
                    break;
                }
                if Instant::now() > deadline || state == "failed" {
                    bail!("{unit} is '{state}', not active");
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Ok(())
    }

    fn main_pid(&self) -> Result<String> {
        let pid = self.host.must(&[
            "systemctl",
            "show",
            "-p",
            "MainPID",
            "--value",
            "berth.service",
        ])?;
        Ok(pid.trim().to_string())
    }

    fn wait_for_main_pid_other_than(&self, before: &str) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let pid = self.main_pid()?;
            if pid != before && pid != "0" {
                return Ok(pid);
            }
            if Instant::now() > deadline {
                bail!("berth.service's main PID is still {pid} (was {before}): the upgrade did not restart it");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn expect_hello_world_image(&self) -> Result<()> {
        if self.mirror.is_none() {
            println!("e2e: NOT CHECKED (--skip-mirror): `berth images` lists hello-world");
            return Ok(());
        }
        check("`berth images` lists hello-world");
        let images = self.host.must(&["berth", "images"])?;
        print!("{images}");
        if !images.contains("hello-world") {
            bail!("`berth images` does not list hello-world");
        }
        Ok(())
    }
}

/// Replaces the base of every baseurl= and gpgkey= in berth.repo with the served `base`.
fn point_at(template: &str, base: &str) -> String {
    let mut out = String::new();
    for line in template.lines() {
        if let Some(url) = line.strip_prefix("baseurl=") {
            match url.find("/el/") {
                Some(at) => out.push_str(&format!("baseurl={base}{}", &url[at..])),
                None => out.push_str(line),
            }
        } else if line.starts_with("gpgkey=") {
            out.push_str(&format!("gpgkey={base}/gpg"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The enabled sections of berth.repo must check both package and metadata signatures.
fn verify_stable_section(repo: &str) -> Result<()> {
    let section = repo
        .split("\n[")
        .find(|section| section.trim_start_matches('[').starts_with("berth-stable]"))
        .context("berth.repo has no [berth-stable] section")?;
    for needed in ["enabled=1", "gpgcheck=1", "repo_gpgcheck=1"] {
        if !section.lines().any(|line| line.replace(' ', "") == needed) {
            bail!("berth.repo's [berth-stable] lacks {needed} (an unsigned release?):\n[{section}");
        }
    }
    Ok(())
}

/// The versions `berth version` prints, in order (client first, then server).
fn versions_in(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Version:"))
        .map(|version| version.trim().to_string())
        .collect()
}

/// N+1: the last numeric component of the release part bumped (0.1.0 → 0.1.1, 1.2.0~rc.1 → 1.2.1).
fn next_version(version: &str) -> Result<String> {
    let release = version.split('~').next().unwrap_or(version);
    let mut parts: Vec<String> = release.split('.').map(str::to_string).collect();
    let last = parts.last_mut().context("empty version")?;
    let number: u64 = last
        .parse()
        .with_context(|| format!("version {version} does not end in a number"))?;
    *last = (number + 1).to_string();
    Ok(parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_file_is_pointed_at_the_served_base() {
        let template = "[berth-stable]\nname=x\nbaseurl=https://example.invalid/berth/el/$releasever/$basearch/stable\n\
                        enabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=https://example.invalid/berth/gpg\n";
        let repo = point_at(template, "http://127.0.0.1:8080");
        assert!(repo.contains("baseurl=http://127.0.0.1:8080/el/$releasever/$basearch/stable\n"));
        assert!(repo.contains("gpgkey=http://127.0.0.1:8080/gpg\n"));
        verify_stable_section(&repo).unwrap();
        assert!(
            verify_stable_section(&repo.replace("repo_gpgcheck=1", "repo_gpgcheck=0")).is_err()
        );
    }

    #[test]
    fn versions_and_next_version() {
        let output =
            "Client:\n Version:  0.1.0\n API version: 1.41\nServer:\n Engine:\n  Version:  0.1.0\n";
        assert_eq!(versions_in(output), vec!["0.1.0", "0.1.0"]);
        assert_eq!(next_version("0.1.0").unwrap(), "0.1.1");
        assert_eq!(next_version("1.2.0~rc.1").unwrap(), "1.2.1");
        assert!(next_version("1.x").is_err());
    }
}
