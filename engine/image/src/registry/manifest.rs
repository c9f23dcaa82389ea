//! Manifests: Docker schema2 and manifest lists, OCI manifests and indexes; fetching them with
//! digest verification and choosing the platform entry (attestations skipped).

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::registry::client::{read_capped, Session};
use crate::store::BlobDescriptor;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1";
/// Manifests larger than this are refused (Docker's limit is 4 MiB too).
pub(crate) const MANIFEST_MAX: u64 = 4 << 20;

const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// The platform to pick from a multi-arch index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

/// A descriptor inside a manifest or index.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

impl Descriptor {
    pub(crate) fn blob(&self) -> BlobDescriptor {
        BlobDescriptor {
            digest: self.digest.clone(),
            media_type: self.media_type.clone(),
            size: self.size,
        }
    }
}

/// A single-platform image manifest (Docker schema2 or OCI).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    media_type: String,
    schema_version: Option<u32>,
    manifests: Option<Vec<Descriptor>>,
    config: Option<serde_json::Value>,
}

/// A manifest as fetched: its bytes, digest and what it is.
pub(crate) struct Fetched {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub media_type: String,
    pub kind: Kind,
}

pub(crate) enum Kind {
    Index(Vec<Descriptor>),
    Image(ImageManifest),
}

fn bad(what: &str, reason: impl Into<String>) -> Error {
    Error::BadArchive {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// Classifies manifest bytes (the Content-Type header may be missing or generic).
pub(crate) fn classify(bytes: &[u8], header_type: &str, what: &str) -> Result<(String, Kind)> {
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| bad(what, format!("manifest JSON: {e}")))?;
    let media_type = if !probe.media_type.is_empty() {
        probe.media_type.clone()
    } else {
        header_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    };
    if media_type.starts_with(SCHEMA1) || probe.schema_version == Some(1) {
        return Err(bad(what, "Docker schema1 manifests are not supported"));
    }
    if let Some(manifests) = probe.manifests {
        return Ok((media_type_or(media_type, OCI_INDEX), Kind::Index(manifests)));
    }
    if probe.config.is_some() {
        let manifest: ImageManifest =
            serde_json::from_slice(bytes).map_err(|e| bad(what, format!("image manifest: {e}")))?;
        return Ok((
            media_type_or(media_type, OCI_MANIFEST),
            Kind::Image(manifest),
        ));
    }
    Err(bad(
        what,
        format!("unsupported manifest type {media_type:?}"),
    ))
}

fn media_type_or(media_type: String, default: &str) -> String {
    if media_type.is_empty() {
        default.to_string()
    } else {
        media_type
    }
}

/// Fetches a manifest by tag or digest, reading at most `limit` bytes (its declared size, or
/// [`MANIFEST_MAX`] by tag). By digest, the bytes must hash to it; by tag, a
/// Docker-Content-Digest header must match the bytes.
pub(crate) async fn fetch(session: &Session, selector: &str, limit: u64) -> Result<Fetched> {
    let url = session.url(&format!("manifests/{selector}"))?;
    let response = session.get(url.clone(), ACCEPT, None).await?;
    let header_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let header_digest = response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let limit = limit.min(MANIFEST_MAX);
    let bytes = read_capped(response, limit, session.timeouts.document)
        .await
        .map_err(|e| {
            session.error(e.describe(&format!("manifest {selector}"), limit, &session.timeouts))
        })?;
    let digest = Digest::of(&bytes);
    let what = format!("manifest {}:{selector}", session.repo);
    if let Ok(expected) = Digest::parse(selector) {
        expected.verify_computed(&what, &digest)?;
    } else if let Some(header) = header_digest.and_then(|h| Digest::parse(&h).ok()) {
        header.verify_computed(&what, &digest)?;
    }
    let (media_type, kind) = classify(&bytes, &header_type, &what)?;
    Ok(Fetched {
        bytes,
        digest,
        media_type,
        kind,
    })
}

/// True for index entries that are not runnable images (BuildKit attestations etc.).
fn is_attestation(d: &Descriptor) -> bool {
    d.annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("vnd.docker.reference.type"))
        || d.platform
            .as_ref()
            .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
}

/// Picks the entry for `platform`: os and architecture must match; a matching variant wins,
/// then an entry without variant, then any variant.
pub(crate) fn select_platform<'a>(
    entries: &'a [Descriptor],
    platform: &Platform,
) -> Option<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = entries
        .iter()
        .filter(|d| !is_attestation(d))
        .filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == platform.os && p.architecture == platform.architecture)
        })
        .collect();
    let variant_of = |d: &Descriptor| d.platform.as_ref().and_then(|p| p.variant.clone());
    candidates
        .iter()
        .find(|d| platform.variant.is_some() && variant_of(d) == platform.variant)
        .or_else(|| candidates.iter().find(|d| variant_of(d).is_none()))
        .or_else(|| candidates.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(os: &str, arch: &str, attestation: bool) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: Digest::of(format!("{os}{arch}{attestation}").as_bytes()),
            size: 1,
            platform: Some(Platform {
                os: os.into(),
                architecture: arch.into(),
                variant: None,
            }),
            annotations: attestation.then(|| {
                [(
                    "vnd.docker.reference.type".to_string(),
                    "attestation-manifest".to_string(),
                )]
                .into()
            }),
        }
    }

    #[test]
    fn picks_amd64_and_skips_attestations() {
        let entries = vec![
            entry("linux", "amd64", true),
            entry("linux", "arm64", false),
            entry("linux", "amd64", false),
            entry("unknown", "unknown", false),
        ];
        let chosen = select_platform(&entries, &Platform::default()).unwrap();
        assert_eq!(chosen.digest, entries[2].digest);
        assert!(select_platform(&entries[..2], &Platform::default()).is_none());
    }

    #[test]
    fn refuses_schema1() {
        let err = classify(br#"{"schemaVersion":1,"fsLayers":[]}"#, "", "m")
            .err()
            .unwrap();
        assert!(err.to_string().contains("schema1"));
    }
}
