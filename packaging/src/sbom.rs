//! The SPDX 2.3 JSON SBOM of a package: the package itself and every crate its binaries bundle,
//! with licence, `.crate` SHA-256 and purl. Typed structs, written with serde_json; the same
//! inputs give the same bytes (no wall clock, no random namespace).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::license::{spdx_and, CrateInfo};
use crate::version::utc_rfc3339;

/// What the SBOM says about the package it describes.
#[derive(Debug, Clone)]
pub struct SbomSubject<'a> {
    pub name: &'a str,
    /// `VERSION-RELEASE`.
    pub evr: &'a str,
    pub arch: &'a str,
    pub vendor: &'a str,
    /// The package URL; the document namespace lives under it.
    pub url: &'a str,
    pub summary: &'a str,
    /// The package's License tag (an SPDX expression).
    pub license: &'a str,
    /// SOURCE_DATE_EPOCH: the document's `created` time.
    pub source_date: u32,
}

/// An SPDX 2.3 document, as its JSON serialization names the fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpdxDocument {
    pub spdx_version: String,
    pub data_license: String,
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    pub name: String,
    pub document_namespace: String,
    pub creation_info: CreationInfo,
    pub packages: Vec<SpdxPackage>,
    pub relationships: Vec<Relationship>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreationInfo {
    /// `YYYY-MM-DDThh:mm:ssZ`.
    pub created: String,
    /// `Tool: name-version` and `Organization: name`.
    pub creators: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpdxPackage {
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    pub name: String,
    pub version_info: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub download_location: String,
    pub files_analyzed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checksums: Vec<Checksum>,
    pub license_concluded: String,
    pub license_declared: String,
    pub copyright_text: String,
    pub external_refs: Vec<ExternalRef>,
    pub primary_package_purpose: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checksum {
    /// `SHA256`.
    pub algorithm: String,
    pub checksum_value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRef {
    /// `PACKAGE-MANAGER`.
    pub reference_category: String,
    /// `purl`.
    pub reference_type: String,
    pub reference_locator: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    pub spdx_element_id: String,
    pub relationship_type: String,
    pub related_spdx_element: String,
}

const NOASSERTION: &str = "NOASSERTION";
const DOCUMENT_ID: &str = "SPDXRef-DOCUMENT";

impl SpdxDocument {
    /// The SBOM of `subject`, which bundles `crates` (in the order given; the builder passes
    /// them sorted). Fails on a crate licence that is not an SPDX expression, a checksum that is
    /// not a SHA-256 or two crates that map to the same SPDX identifier.
    pub fn new(subject: &SbomSubject<'_>, crates: &[CrateInfo]) -> Result<Self, String> {
        let package_id = format!("SPDXRef-Package-{}", spdx_id_part(subject.name));
        let mut packages = vec![SpdxPackage {
            spdx_id: package_id.clone(),
            name: subject.name.to_string(),
            version_info: subject.evr.to_string(),
            supplier: Some(format!("Organization: {}", subject.vendor)),
            summary: Some(subject.summary.to_string()),
            download_location: NOASSERTION.to_string(),
            files_analyzed: false,
            checksums: Vec::new(),
            license_concluded: NOASSERTION.to_string(),
            license_declared: subject.license.to_string(),
            copyright_text: NOASSERTION.to_string(),
            external_refs: vec![purl(format!(
                "pkg:rpm/{}/{}@{}?arch={}",
                purl_segment(subject.vendor),
                purl_segment(subject.name),
                purl_segment(subject.evr),
                purl_segment(subject.arch)
            ))],
            primary_package_purpose: "APPLICATION".to_string(),
        }];
        let mut relationships = vec![Relationship {
            spdx_element_id: DOCUMENT_ID.to_string(),
            relationship_type: "DESCRIBES".to_string(),
            related_spdx_element: package_id.clone(),
        }];
        for krate in crates {
            let spdx_id = format!(
                "SPDXRef-Crate-{}-{}",
                spdx_id_part(&krate.name),
                spdx_id_part(&krate.version)
            );
            if packages.iter().any(|p| p.spdx_id == spdx_id) {
                return Err(format!(
                    "crate {} {}: SPDX identifier {spdx_id} is already taken",
                    krate.name, krate.version
                ));
            }
            let license_declared = match &krate.license {
                Some(_) => spdx_and(std::slice::from_ref(krate))?,
                None => NOASSERTION.to_string(),
            };
            let checksums = match &krate.checksum {
                Some(sha256) => {
                    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(format!(
                            "crate {} {}: checksum {sha256:?} is not a SHA-256",
                            krate.name, krate.version
                        ));
                    }
                    vec![Checksum {
                        algorithm: "SHA256".to_string(),
                        checksum_value: sha256.to_ascii_lowercase(),
                    }]
                }
                None => Vec::new(),
            };
            relationships.push(Relationship {
                spdx_element_id: package_id.clone(),
                relationship_type: "CONTAINS".to_string(),
                related_spdx_element: spdx_id.clone(),
            });
            packages.push(SpdxPackage {
                spdx_id,
                name: krate.name.clone(),
                version_info: krate.version.clone(),
                supplier: None,
                summary: None,
                download_location: NOASSERTION.to_string(),
                files_analyzed: false,
                checksums,
                license_concluded: NOASSERTION.to_string(),
                license_declared,
                copyright_text: NOASSERTION.to_string(),
                external_refs: vec![purl(format!(
                    "pkg:cargo/{}@{}",
                    purl_segment(&krate.name),
                    purl_segment(&krate.version)
                ))],
                primary_package_purpose: "LIBRARY".to_string(),
            });
        }

        // The namespace must be unique per document and reproducible: the package's NEVRA
        // plus a digest of everything the document lists.
        let listed = serde_json::to_vec(&packages).map_err(|e| e.to_string())?;
        let digest = hex::encode(Sha256::digest(&listed));
        let nevra = format!("{}-{}.{}", subject.name, subject.evr, subject.arch);
        Ok(SpdxDocument {
            spdx_version: "SPDX-2.3".to_string(),
            data_license: "CC0-1.0".to_string(),
            spdx_id: DOCUMENT_ID.to_string(),
            name: nevra.clone(),
            document_namespace: format!(
                "{}/spdx/{}-{digest}",
                subject.url.trim_end_matches('/'),
                purl_segment(&nevra)
            ),
            creation_info: CreationInfo {
                created: utc_rfc3339(u64::from(subject.source_date)),
                creators: vec![
                    format!("Organization: {}", subject.vendor),
                    format!("Tool: berth-packaging-{}", env!("CARGO_PKG_VERSION")),
                ],
            },
            packages,
            relationships,
        })
    }

    /// Pretty-printed JSON with a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing these plain structs (strings, bools, vectors) cannot fail.
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

fn purl(locator: String) -> ExternalRef {
    ExternalRef {
        reference_category: "PACKAGE-MANAGER".to_string(),
        reference_type: "purl".to_string(),
        reference_locator: locator,
    }
}

/// SPDX identifiers allow only letters, digits, `.` and `-`; anything else becomes `-`.
fn spdx_id_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Percent-encodes what a purl segment may not hold as is (`+` of semver build metadata,
/// `/`, `@`, `?`, `#`, `%`, spaces and non-ASCII).
fn purl_segment(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b".-_~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> SbomSubject<'static> {
        SbomSubject {
            name: "berth-engine",
            evr: "1.0.0~rc.1-1.el7",
            arch: "x86_64",
            vendor: "berth",
            url: "https://example.invalid/berth",
            summary: "s",
            license: "Apache-2.0 AND MIT",
            source_date: 1_704_164_645,
        }
    }

    fn krate(name: &str, version: &str, license: Option<&str>) -> CrateInfo {
        CrateInfo {
            name: name.into(),
            version: version.into(),
            license: license.map(Into::into),
            checksum: Some("ab".repeat(32)),
        }
    }

    #[test]
    fn crates_get_ids_purls_and_normalized_licences() {
        let doc = SpdxDocument::new(
            &subject(),
            &[
                krate("serde_json", "1.0.0+build.1", Some("MIT/Apache-2.0")),
                krate("nolicense", "0.1.0", None),
            ],
        )
        .unwrap();
        let crate_pkg = &doc.packages[1];
        assert_eq!(crate_pkg.spdx_id, "SPDXRef-Crate-serde-json-1.0.0-build.1");
        assert_eq!(crate_pkg.license_declared, "Apache-2.0 OR MIT");
        assert_eq!(
            crate_pkg.external_refs[0].reference_locator,
            "pkg:cargo/serde_json@1.0.0%2Bbuild.1"
        );
        assert_eq!(doc.packages[2].license_declared, "NOASSERTION");
        assert_eq!(doc.creation_info.created, "2024-01-02T03:04:05Z");
        assert_eq!(
            doc.packages[0].external_refs[0].reference_locator,
            "pkg:rpm/berth/berth-engine@1.0.0~rc.1-1.el7?arch=x86_64"
        );
        assert_eq!(doc.relationships.len(), 3);
    }

    #[test]
    fn namespace_depends_on_the_listed_crates() {
        let one = SpdxDocument::new(&subject(), &[krate("a", "1.0.0", Some("MIT"))]).unwrap();
        let two = SpdxDocument::new(&subject(), &[krate("a", "1.0.1", Some("MIT"))]).unwrap();
        assert_ne!(one.document_namespace, two.document_namespace);
        let again = SpdxDocument::new(&subject(), &[krate("a", "1.0.0", Some("MIT"))]).unwrap();
        assert_eq!(one.to_json(), again.to_json());
    }

    #[test]
    fn bad_checksum_is_refused_naming_the_crate() {
        let mut bad = krate("ring", "0.17.0", Some("ISC"));
        bad.checksum = Some("1234".into());
        let err = SpdxDocument::new(&subject(), &[bad]).unwrap_err();
        assert!(err.contains("ring 0.17.0"), "{err}");
    }
}
