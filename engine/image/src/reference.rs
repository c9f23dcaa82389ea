//! Image references (`[host[:port]/]path[:tag][@digest]`), normalized as Docker does:
//! `hello-world` is `docker.io/library/hello-world:latest`.

use std::fmt;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// The registry host Docker Hub names normalize to.
pub const DOCKER_HUB: &str = "docker.io";
const LEGACY_HUB: &str = "index.docker.io";
const NAME_MAX: usize = 255;
const TAG_MAX: usize = 128;

/// A normalized image reference.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalizes a reference. Without tag or digest the tag is `latest`.
    ///
    /// ```
    /// let r = berth_image::Reference::parse("hello-world").unwrap();
    /// assert_eq!(r.to_string(), "docker.io/library/hello-world:latest");
    /// assert_eq!(r.familiar(), "hello-world:latest");
    /// ```
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidReference {
            input: input.to_string(),
            reason,
        };
        if input.is_empty() {
            return Err(bad("empty reference".into()));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => (
                rest,
                Some(Digest::parse(digest).map_err(|e| bad(format!("digest: {e}")))?),
            ),
            None => (input, None),
        };
        // A tag is after the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            validate_tag(tag).map_err(|reason| bad(format!("tag {tag:?}: {reason}")))?;
        }
        let (domain, path) = split_domain(name);
        validate_domain(&domain)
            .map_err(|reason| bad(format!("registry host {domain:?}: {reason}")))?;
        if path.is_empty() {
            return Err(bad("missing repository name".into()));
        }
        for component in path.split('/') {
            validate_component(component).map_err(|reason| {
                bad(format!("repository name component {component:?}: {reason}"))
            })?;
        }
        if domain.len() + 1 + path.len() > NAME_MAX {
            return Err(bad(format!(
                "repository name longer than {NAME_MAX} characters"
            )));
        }
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The registry host, e.g. `docker.io` or `127.0.0.1:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry, e.g. `library/hello-world`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any (`latest` when neither tag nor digest was given).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference pins one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// True for Docker Hub names, the only ones registry mirrors apply to.
    pub fn is_docker_hub(&self) -> bool {
        self.domain == DOCKER_HUB
    }

    /// `domain/path`, e.g. `docker.io/library/hello-world`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The name as Docker prints it: `hello-world`, `user/app`, `host:5000/x`.
    pub fn familiar_name(&self) -> String {
        if self.is_docker_hub() {
            self.path
                .strip_prefix("library/")
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.name()
        }
    }

    /// The familiar name with tag and/or digest, e.g. `hello-world:latest`.
    pub fn familiar(&self) -> String {
        self.with_name(self.familiar_name())
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Self> {
        validate_tag(tag).map_err(|reason| Error::InvalidReference {
            input: tag.to_string(),
            reason,
        })?;
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository pinned to a digest, without tag (a "repo digest").
    pub fn with_digest(&self, digest: Digest) -> Self {
        Reference {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// What to ask the registry for: the digest when pinned, else the tag.
    pub fn manifest_selector(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    fn with_name(&self, mut out: String) -> String {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest.as_str());
        }
        out
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.with_name(self.name()))
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl std::str::FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Reference::parse(s)
    }
}

/// Docker's rule: the first component is a registry host if it has a `.` or `:`, or is
/// `localhost`, or has uppercase letters; otherwise the name is on Docker Hub.
fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    let domain = if domain == LEGACY_HUB {
        DOCKER_HUB.to_string()
    } else {
        domain
    };
    let path = if domain == DOCKER_HUB && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    (domain, path)
}

fn validate_domain(domain: &str) -> std::result::Result<(), String> {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or("unclosed IPv6 bracket")?;
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| "bad IPv6 address")?;
        (None, after.strip_prefix(':'))
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(domain), None),
        }
    };
    if let Some(host) = host {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !host.split('.').all(label_ok) {
            return Err("host labels are letters, digits and inner '-'".into());
        }
    }
    if let Some(port) = port {
        if port.is_empty() || port.parse::<u16>().is_err() {
            return Err(format!("bad port {port:?}"));
        }
    }
    Ok(())
}

/// One path component: `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn validate_component(c: &str) -> std::result::Result<(), String> {
    if c.is_empty() {
        return Err("empty".into());
    }
    if c.chars().any(|ch| ch.is_ascii_uppercase()) {
        return Err("repository name must be lowercase".into());
    }
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err("must start and end with a lowercase letter or digit".into());
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Err(format!("invalid separator {sep:?}"));
        }
    }
    Ok(())
}

fn validate_tag(tag: &str) -> std::result::Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match tag.as_bytes().first() {
        None => return Err("empty tag".into()),
        Some(&b) if !word(b) => return Err("must start with a letter, digit or '_'".into()),
        _ => {}
    }
    if tag.len() > TAG_MAX {
        return Err(format!("longer than {TAG_MAX} characters"));
    }
    if !tag.bytes().all(|b| word(b) || b == b'.' || b == b'-') {
        return Err("only letters, digits, '_', '.' and '-' are allowed".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(full("hello-world"), "docker.io/library/hello-world:latest");
        assert_eq!(full("user/app:1.0"), "docker.io/user/app:1.0");
        assert_eq!(
            full("index.docker.io/library/x"),
            "docker.io/library/x:latest"
        );
        assert_eq!(full("localhost/x"), "localhost/x:latest");
        assert_eq!(
            full("127.0.0.1:5000/ns/name:tag"),
            "127.0.0.1:5000/ns/name:tag"
        );
        assert_eq!(full("quay.io/a/b/c"), "quay.io/a/b/c:latest");
        let d = Digest::of(b"x");
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(&d));
        assert_eq!(r.manifest_selector(), d.to_string());
        let r = Reference::parse(&format!("host:5000/busybox:1@{d}")).unwrap();
        assert_eq!(r.tag(), Some("1"));
        assert_eq!(r.domain(), "host:5000");
        assert_eq!(
            Reference::parse("hello-world").unwrap().familiar(),
            "hello-world:latest"
        );
        assert_eq!(Reference::parse("a/b").unwrap().familiar_name(), "a/b");
        assert_eq!(
            Reference::parse("[::1]:5000/x").unwrap().familiar_name(),
            "[::1]:5000/x"
        );
    }

    #[test]
    fn errors_name_the_bad_part() {
        let err = |s: &str| Reference::parse(s).unwrap_err().to_string();
        assert!(
            err("Hello").contains("must be lowercase"),
            "{}",
            err("Hello")
        );
        assert!(err("x:bad/tag").contains("registry host"));
        assert!(err("a/B_").contains("must be lowercase") || err("a/B_").contains("component"));
        assert!(err("x:-t").contains("tag \"-t\""));
        assert!(err("x@sha256:zz").contains("digest"));
        assert!(err("host:99999/x").contains("bad port"));
        assert!(err("a//b").contains("empty"));
        assert!(err("").contains("empty reference"));
        assert!(err("a..b").contains("invalid separator"));
    }
}
