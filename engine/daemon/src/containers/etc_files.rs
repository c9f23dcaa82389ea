//! The files Docker writes for every container and bind-mounts over the image's own:
//! /etc/hostname, /etc/hosts and /etc/resolv.conf. They live in the container's directory and
//! are rewritten at each start, so a changed host resolver reaches restarted containers.
//!
//! With `--network host` the container sees the host's hosts file and resolver, as in Docker.
//! Otherwise it gets the loopback hosts entries, and the host's resolv.conf without loopback
//! nameservers (which would point into the host's own network namespace), falling back to
//! public resolvers as dockerd does.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use berth_runtime::oci_spec::runtime::{Mount, MountBuilder};

use crate::fsutil::write_replacing;

/// What a container without host networking finds in /etc/hosts.
const LOOPBACK_HOSTS: &str = "127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
";

/// dockerd's fallback when the host only has loopback nameservers.
const FALLBACK_NAMESERVERS: &str = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";

/// The host files the container's are made from.
#[derive(Debug, Clone)]
pub struct HostFiles {
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
    /// systemd-resolved's list of real upstream servers, used when resolv.conf only names the
    /// local stub (127.0.0.53).
    pub resolved_upstream: PathBuf,
}

impl Default for HostFiles {
    fn default() -> Self {
        HostFiles {
            hosts: PathBuf::from("/etc/hosts"),
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            resolved_upstream: PathBuf::from("/run/systemd/resolve/resolv.conf"),
        }
    }
}

/// The container's copies, in its directory.
#[derive(Debug, Clone)]
pub struct EtcPaths {
    pub hostname: PathBuf,
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
}

impl EtcPaths {
    pub fn in_dir(container_dir: &Path) -> EtcPaths {
        EtcPaths {
            hostname: container_dir.join("hostname"),
            hosts: container_dir.join("hosts"),
            resolv_conf: container_dir.join("resolv.conf"),
        }
    }

    /// Each file with the path it is mounted at in the container.
    fn with_destinations(&self) -> [(&Path, &'static str); 3] {
        [
            (&self.hostname, "/etc/hostname"),
            (&self.hosts, "/etc/hosts"),
            (&self.resolv_conf, "/etc/resolv.conf"),
        ]
    }
}

/// Writes hostname, hosts and resolv.conf into `container_dir` and returns the bind mounts
/// that put them at /etc/hostname, /etc/hosts and /etc/resolv.conf.
pub fn write(
    container_dir: &Path,
    hostname: &str,
    host_network: bool,
    host: &HostFiles,
) -> Result<Vec<Mount>> {
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let hosts = if host_network {
        read(&host.hosts)
    } else {
        LOOPBACK_HOSTS.to_owned()
    };
    let resolv_conf = if host_network {
        read(&host.resolv_conf)
    } else {
        let mut own = read(&host.resolv_conf);
        if only_local_stub(&own) {
            if let Ok(upstream) = std::fs::read_to_string(&host.resolved_upstream) {
                own = upstream;
            }
        }
        without_loopback_nameservers(&own)
    };
    let paths = EtcPaths::in_dir(container_dir);
    for (path, contents) in [
        (&paths.hostname, format!("{hostname}\n")),
        (&paths.hosts, hosts),
        (&paths.resolv_conf, resolv_conf),
    ] {
        write_replacing(path, contents.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    paths
        .with_destinations()
        .into_iter()
        .map(|(source, destination)| {
            MountBuilder::default()
                .destination(PathBuf::from(destination))
                .typ("bind")
                .source(source.to_path_buf())
                .options(vec!["rbind".to_owned(), "rprivate".to_owned()])
                .build()
                .context("bind mount of a container /etc file")
        })
        .collect()
}

/// Docker's hostname rule: dot-separated labels of letters, digits and inner hyphens.
pub fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn nameserver(line: &str) -> Option<IpAddr> {
    let mut words = line.split_whitespace();
    if words.next() != Some("nameserver") {
        return None;
    }
    // A zone suffix (fe80::1%eth0) is not part of the address.
    words.next()?.split('%').next()?.parse().ok()
}

fn only_local_stub(resolv_conf: &str) -> bool {
    let servers: Vec<IpAddr> = resolv_conf.lines().filter_map(nameserver).collect();
    !servers.is_empty() && servers.iter().all(IpAddr::is_loopback)
}

/// `resolv_conf` without loopback nameservers; public resolvers when none is left.
fn without_loopback_nameservers(resolv_conf: &str) -> String {
    let mut kept = String::new();
    let mut servers = 0;
    for line in resolv_conf.lines() {
        match nameserver(line) {
            Some(address) if address.is_loopback() => continue,
            Some(_) => servers += 1,
            None => {}
        }
        kept.push_str(line);
        kept.push('\n');
    }
    if servers == 0 {
        kept.push_str(FALLBACK_NAMESERVERS);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_nameservers_are_dropped_and_replaced_when_none_is_left() {
        let host = "# generated\nsearch example.com\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\n";
        assert_eq!(
            without_loopback_nameservers(host),
            "# generated\nsearch example.com\nnameserver 10.0.0.2\noptions edns0\n"
        );
        assert_eq!(
            without_loopback_nameservers("nameserver ::1\nsearch lan\n"),
            "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert!(only_local_stub("nameserver 127.0.0.53\n"));
        assert!(!only_local_stub(
            "nameserver 127.0.0.53\nnameserver 1.1.1.1\n"
        ));
        assert!(!only_local_stub(""));
    }

    #[test]
    fn hostnames_follow_dockers_rule() {
        for good in ["web", "web-1.example.com", "0123456789ab"] {
            assert!(valid_hostname(good), "{good}");
        }
        for bad in [
            "",
            "-web",
            "web-",
            "a..b",
            "under_score",
            "spa ce",
            &"x".repeat(64),
        ] {
            assert!(!valid_hostname(bad), "{bad}");
        }
    }

    #[test]
    fn files_are_written_for_both_network_modes() {
        let dir = tempfile::tempdir().unwrap();
        let host = HostFiles {
            hosts: dir.path().join("host-hosts"),
            resolv_conf: dir.path().join("host-resolv"),
            resolved_upstream: dir.path().join("upstream"),
        };
        std::fs::write(&host.hosts, "127.0.0.1 localhost\n10.1.1.1 build-host\n").unwrap();
        std::fs::write(&host.resolv_conf, "nameserver 127.0.0.53\n").unwrap();
        std::fs::write(&host.resolved_upstream, "nameserver 192.0.2.53\n").unwrap();
        let container = dir.path().join("c");
        std::fs::create_dir(&container).unwrap();

        let mounts = write(&container, "0123456789ab", false, &host).unwrap();
        assert_eq!(mounts.len(), 3);
        let read = |name: &str| std::fs::read_to_string(container.join(name)).unwrap();
        assert_eq!(read("hostname"), "0123456789ab\n");
        assert_eq!(read("hosts"), LOOPBACK_HOSTS);
        assert_eq!(read("resolv.conf"), "nameserver 192.0.2.53\n");

        write(&container, "builder", true, &host).unwrap();
        assert_eq!(read("hosts"), "127.0.0.1 localhost\n10.1.1.1 build-host\n");
        assert_eq!(read("resolv.conf"), "nameserver 127.0.0.53\n");
    }
}
