//! Volume endpoint types (`docker volume`): the volume object, the list and create bodies and
//! the prune answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::null_as_default;

/// A named volume, as `GET /volumes/{name}` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Volume {
    pub name: String,
    /// Always "local".
    pub driver: String,
    /// The host directory mounted into containers.
    pub mountpoint: String,
    /// RFC 3339.
    pub created_at: String,
    #[serde(deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    /// Always "local".
    pub scope: String,
    #[serde(deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, String>,
    /// Size and users, in `/system/df`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<VolumeUsage>,
}

/// `UsageData` of a volume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeUsage {
    /// Bytes of the files in it.
    pub size: i64,
    /// Containers that mount it.
    pub ref_count: i64,
}

/// `GET /volumes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeListResponse {
    #[serde(deserialize_with = "null_as_default")]
    pub volumes: Vec<Volume>,
    #[serde(deserialize_with = "null_as_default")]
    pub warnings: Vec<String>,
}

/// `POST /volumes/create`'s body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeCreateOptions {
    /// Empty for a generated name.
    pub name: String,
    /// "local" or empty.
    pub driver: String,
    #[serde(deserialize_with = "null_as_default")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
}

/// `POST /volumes/prune`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumesPruneResponse {
    #[serde(deserialize_with = "null_as_default")]
    pub volumes_deleted: Vec<String>,
    pub space_reclaimed: u64,
}
