//! Registry settings from daemon.json (`registry-mirrors`, `insecure-registries`,
//! `max-concurrent-downloads`, `max-download-attempts`), validated as dockerd validates them,
//! and the list of endpoints a reference is pulled from.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

use crate::error::{Error, Result};
use crate::reference::Reference;

/// Docker Hub's registry API endpoint.
pub const OFFICIAL_ENDPOINT: &str = "https://registry-1.docker.io/";

/// Registry client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Validated mirror URLs (ending in `/`), tried in order for docker.io names.
    pub mirrors: Vec<Url>,
    /// Hosts (`host[:port]`) or CIDRs allowed over http or with unverified TLS.
    pub insecure_registries: Vec<String>,
    /// Layer downloads running at once (daemon.json default 3).
    pub max_concurrent_downloads: usize,
    /// Layer uploads running at once (daemon.json default 5).
    pub max_concurrent_uploads: usize,
    /// Tries per blob download before failing (default 5).
    pub max_download_attempts: u32,
    /// Where docker.io names go after the mirrors. Tests point it at a local registry.
    pub official_endpoint: Url,
    /// Network time limits of every registry request.
    pub timeouts: Timeouts,
}

/// Time limits on registry traffic, so a registry that stalls or trickles cannot hold a pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a connection (TCP and TLS): dockerd's dial timeout, 30 s.
    pub connect: Duration,
    /// Longest silence while reading any response, blobs included: 60 s.
    pub idle: Duration,
    /// A whole small document (manifest, config, token, error body), however it trickles:
    /// 120 s.
    pub document: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            idle: Duration::from_secs(60),
            document: Duration::from_secs(120),
        }
    }
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            mirrors: Vec::new(),
            insecure_registries: Vec::new(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
            max_download_attempts: 5,
            official_endpoint: Url::parse(OFFICIAL_ENDPOINT).expect("constant URL parses"),
            timeouts: Timeouts::default(),
        }
    }
}

fn config_error(field: &str, reason: String) -> Error {
    Error::Config {
        field: field.to_string(),
        reason,
    }
}

/// Validates one mirror URL as dockerd does; returns it with a trailing `/`.
pub fn validate_mirror(raw: &str) -> Result<Url> {
    let bad = |reason: &str| config_error("registry-mirrors", format!("{raw:?}: {reason}"));
    let url = Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad("scheme must be http or https"));
    }
    if url.query().is_some() {
        return Err(bad("must not have a query"));
    }
    if url.fragment().is_some() || raw.contains('#') {
        return Err(bad("must not have a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain userinfo"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("missing host"));
    }
    let mut url = url;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

impl RegistryConfig {
    /// Builds a config from daemon.json values; each error names its field and value.
    pub fn new(mirrors: &[String], insecure_registries: &[String]) -> Result<Self> {
        let mut config = RegistryConfig::default();
        for raw in mirrors {
            let url = validate_mirror(raw)?;
            if !config.mirrors.contains(&url) {
                config.mirrors.push(url);
            }
        }
        for raw in insecure_registries {
            let entry = raw.trim_end_matches('/');
            let entry = entry
                .strip_prefix("http://")
                .or_else(|| entry.strip_prefix("https://"))
                .unwrap_or(entry);
            if entry.is_empty() || entry.contains(['/', ' ']) && parse_cidr(entry).is_none() {
                return Err(config_error(
                    "insecure-registries",
                    format!("{raw:?}: expected host[:port] or a CIDR"),
                ));
            }
            if !config.insecure_registries.iter().any(|e| e == entry) {
                config.insecure_registries.push(entry.to_string());
            }
        }
        Ok(config)
    }

    /// Sets `max-concurrent-downloads` (≥ 1).
    pub fn with_max_concurrent_downloads(mut self, n: usize) -> Result<Self> {
        if n == 0 {
            return Err(config_error(
                "max-concurrent-downloads",
                "must be at least 1".into(),
            ));
        }
        self.max_concurrent_downloads = n;
        Ok(self)
    }

    /// Sets `max-concurrent-uploads` (≥ 1).
    pub fn with_max_concurrent_uploads(mut self, n: usize) -> Result<Self> {
        if n == 0 {
            return Err(config_error(
                "max-concurrent-uploads",
                "must be at least 1".into(),
            ));
        }
        self.max_concurrent_uploads = n;
        Ok(self)
    }

    /// Sets `max-download-attempts` (≥ 1).
    pub fn with_max_download_attempts(mut self, n: u32) -> Result<Self> {
        if n == 0 {
            return Err(config_error(
                "max-download-attempts",
                "must be at least 1".into(),
            ));
        }
        self.max_download_attempts = n;
        Ok(self)
    }

    /// Sets the network time limits (tests shorten them; production keeps the defaults).
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// True if `host[:port]` may use http or unverified TLS: listed, in a listed CIDR, or
    /// loopback.
    pub fn is_insecure(&self, host_port: &str) -> bool {
        let host = split_host(host_port);
        if host == "localhost" {
            return true;
        }
        let ip: Option<IpAddr> = host.parse().ok();
        if ip.is_some_and(|ip| ip.is_loopback()) {
            return true;
        }
        self.insecure_registries.iter().any(|entry| {
            if entry == host_port || entry == host {
                return true;
            }
            match (parse_cidr(entry), ip) {
                (Some((net, bits)), Some(ip)) => cidr_contains(net, bits, ip),
                _ => false,
            }
        })
    }

    /// The endpoints to try for `reference`, in order.
    pub(crate) fn endpoints(&self, reference: &Reference) -> Vec<Endpoint> {
        if reference.is_docker_hub() {
            let mut out: Vec<Endpoint> = self
                .mirrors
                .iter()
                .map(|m| Endpoint {
                    base: m.clone(),
                    insecure: self.is_insecure(&url_host_port(m)),
                    mirror: true,
                    timeouts: self.timeouts,
                })
                .collect();
            out.push(Endpoint {
                base: self.official_endpoint.clone(),
                insecure: self.is_insecure(&url_host_port(&self.official_endpoint)),
                mirror: false,
                timeouts: self.timeouts,
            });
            return out;
        }
        let domain = reference.domain();
        let insecure = self.is_insecure(domain);
        let mut out = Vec::new();
        if let Ok(base) = Url::parse(&format!("https://{domain}/")) {
            out.push(Endpoint {
                base,
                insecure,
                mirror: false,
                timeouts: self.timeouts,
            });
        }
        if insecure {
            if let Ok(base) = Url::parse(&format!("http://{domain}/")) {
                out.push(Endpoint {
                    base,
                    insecure,
                    mirror: false,
                    timeouts: self.timeouts,
                });
            }
        }
        out
    }
}

/// One place a repository can be fetched from.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// Base URL ending in `/`; requests go to `<base>v2/...`.
    pub base: Url,
    /// http allowed / TLS not verified.
    pub insecure: bool,
    pub mirror: bool,
    pub timeouts: Timeouts,
}

impl Endpoint {
    /// Refuses plain http unless the host is insecure.
    pub(crate) fn check_scheme(&self) -> Result<()> {
        if self.base.scheme() == "http" && !self.insecure {
            return Err(Error::Registry {
                endpoint: self.base.to_string(),
                reason: "plain http requires the host in insecure-registries".into(),
            });
        }
        Ok(())
    }
}

pub(crate) fn url_host_port(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

fn split_host(host_port: &str) -> &str {
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host_port.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host_port,
    }
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (net, bits) = s.split_once('/')?;
    let net: IpAddr = net.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if net.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((net, bits))
}

fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_are_validated_and_deduplicated() {
        let c = RegistryConfig::new(
            &[
                "http://127.0.0.1:5000".into(),
                "http://127.0.0.1:5000/".into(),
                "https://m.example/path".into(),
            ],
            &[],
        )
        .unwrap();
        let m: Vec<String> = c.mirrors.iter().map(|u| u.to_string()).collect();
        assert_eq!(m, ["http://127.0.0.1:5000/", "https://m.example/path/"]);
        for bad in [
            "ftp://x",
            "http://x/?a=1",
            "http://x/#f",
            "http://u:p@x/",
            "x",
        ] {
            let err = RegistryConfig::new(&[bad.into()], &[])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("invalid registry-mirrors"), "{bad}: {err}");
        }
        let err = RegistryConfig::default()
            .with_max_concurrent_downloads(0)
            .unwrap_err();
        assert!(err.to_string().contains("max-concurrent-downloads"));
    }

    #[test]
    fn insecure_hosts() {
        let c = RegistryConfig::new(&[], &["10.0.0.0/8".into(), "reg.lan:5000".into()]).unwrap();
        assert!(c.is_insecure("127.0.0.1:5000"));
        assert!(c.is_insecure("localhost"));
        assert!(c.is_insecure("10.1.2.3:443"));
        assert!(c.is_insecure("reg.lan:5000"));
        assert!(!c.is_insecure("reg.lan:6000"));
        assert!(!c.is_insecure("11.0.0.1"));
    }

    #[test]
    fn only_hub_names_use_mirrors() {
        let c = RegistryConfig::new(&["http://127.0.0.1:1".into()], &[]).unwrap();
        let hub = c.endpoints(&Reference::parse("busybox").unwrap());
        assert_eq!(hub.len(), 2);
        assert!(hub[0].mirror && !hub[1].mirror);
        assert_eq!(hub[1].base.as_str(), OFFICIAL_ENDPOINT);
        let other = c.endpoints(&Reference::parse("quay.io/a/b").unwrap());
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].base.as_str(), "https://quay.io/");
        let remote_http = RegistryConfig::new(&["http://mirror.lan:5000".into()], &[]).unwrap();
        let endpoints = remote_http.endpoints(&Reference::parse("busybox").unwrap());
        let err = endpoints[0].check_scheme().unwrap_err().to_string();
        assert!(
            err.contains("http://mirror.lan:5000/") && err.contains("insecure-registries"),
            "{err}"
        );
        let allowed = RegistryConfig::new(
            &["http://mirror.lan:5000".into()],
            &["mirror.lan:5000".into()],
        )
        .unwrap();
        assert!(allowed.endpoints(&Reference::parse("busybox").unwrap())[0]
            .check_scheme()
            .is_ok());
        let local = c.endpoints(&Reference::parse("127.0.0.1:5000/a").unwrap());
        assert_eq!(
            local.iter().map(|e| e.base.scheme()).collect::<Vec<_>>(),
            ["https", "http"]
        );
    }
}
