//! Network endpoint types (`docker network`): the network object and the prune answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::null_as_default;

/// A network, as `GET /networks/{id}` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Network {
    pub name: String,
    #[serde(rename = "Id")]
    pub id: String,
    /// RFC 3339.
    pub created: String,
    /// "local".
    pub scope: String,
    /// "host" or "null".
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub containers: BTreeMap<String, serde_json::Value>,
    #[serde(deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, String>,
    #[serde(deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
}

/// A network's address management (none for host and null networks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipam {
    pub driver: String,
    #[serde(deserialize_with = "null_as_default")]
    pub config: Vec<BTreeMap<String, String>>,
}

/// `POST /networks/prune`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworksPruneResponse {
    #[serde(deserialize_with = "null_as_default")]
    pub networks_deleted: Vec<String>,
}
