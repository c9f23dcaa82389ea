//! Image endpoints: list, inspect, delete, and the newline-delimited JSON progress stream of
//! pull, push and load.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::ContainerConfig;

/// One entry of `GET /images/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageSummary {
    /// `sha256:` + config digest.
    pub id: String,
    /// Parent image id (empty for pulled images).
    pub parent_id: String,
    /// `name:tag` references.
    pub repo_tags: Vec<String>,
    /// `name@sha256:...` references.
    pub repo_digests: Vec<String>,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Unpacked size in bytes.
    pub size: i64,
    /// Bytes shared with other images (-1 when not computed).
    pub shared_size: i64,
    /// Same as `Size` (removed in API 1.44, kept for older clients).
    pub virtual_size: i64,
    /// Image labels.
    pub labels: BTreeMap<String, String>,
    /// Containers using it (-1 when not computed).
    pub containers: i64,
}

/// `RootFS` of an image inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RootFs {
    /// Always "layers".
    #[serde(rename = "Type")]
    pub kind: String,
    /// Diff ids of the layers, bottom first.
    pub layers: Vec<String>,
}

/// The body of `GET /images/{name}/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageInspect {
    /// `sha256:` + config digest.
    pub id: String,
    /// `name:tag` references.
    pub repo_tags: Vec<String>,
    /// `name@sha256:...` references.
    pub repo_digests: Vec<String>,
    /// Parent image id.
    pub parent: String,
    /// Comment.
    pub comment: String,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Author.
    pub author: String,
    /// The image's default container config.
    pub config: ContainerConfig,
    /// "amd64", ...
    pub architecture: String,
    /// "linux".
    pub os: String,
    /// Unpacked size.
    pub size: i64,
    /// Same as `Size` for older clients.
    pub virtual_size: i64,
    /// Layer list.
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
}

/// One entry of `DELETE /images/{name}`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageDeleteItem {
    /// A reference that was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untagged: Option<String>,
    /// An image id whose content was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
}

/// `progressDetail` of a progress message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressDetail {
    /// Bytes done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    /// Bytes in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// `errorDetail` of a failed progress stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// What went wrong.
    #[serde(default)]
    pub message: String,
}

/// One line of the pull/push/load progress stream (moby's `jsonmessage.JSONMessage`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressMessage {
    /// "Pulling fs layer", "Downloading", "Digest: sha256:...", ...
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Layer id (12 hex digits) or tag the status is about.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Byte counts for bars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    /// A pre-rendered bar, for old clients.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub progress: String,
    /// Free text (used by `load`: "Loaded image: hello-world:latest").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stream: String,
    /// Error text, set on the last line of a failed stream.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Same error, structured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorDetail>,
}

impl ProgressMessage {
    /// A status line, optionally about an id.
    pub fn status(status: impl Into<String>, id: impl Into<String>) -> Self {
        ProgressMessage {
            status: status.into(),
            id: id.into(),
            ..Default::default()
        }
    }

    /// The final line of a failed stream.
    pub fn failure(message: impl Into<String>) -> Self {
        let message = message.into();
        ProgressMessage {
            error: message.clone(),
            error_detail: Some(ErrorDetail { message }),
            ..Default::default()
        }
    }

    /// The docker-style text bar `[=====>     ] 1.2MB/3.4MB` for `current` of `total` bytes.
    pub fn render_bar(current: u64, total: u64) -> String {
        const WIDTH: u64 = 50;
        let done = (current.min(total) * WIDTH).checked_div(total).unwrap_or(0) as usize;
        let mut bar = "=".repeat(done);
        if done < WIDTH as usize {
            bar.push('>');
        }
        format!(
            "[{bar:<width$}] {}/{}",
            crate::units::human_size(current),
            crate::units::human_size(total),
            width = WIDTH as usize
        )
    }
}

/// `POST /images/prune`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImagesPruneResponse {
    /// What was untagged and deleted, as `DELETE /images/{name}` reports it.
    #[serde(default, deserialize_with = "crate::container::null_as_default")]
    pub images_deleted: Vec<ImageDeleteItem>,
    /// Bytes of the layers and blobs deleted.
    #[serde(default)]
    pub space_reclaimed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_serializes_like_moby() {
        let mut message = ProgressMessage::status("Downloading", "2db29710123e");
        message.progress_detail = Some(ProgressDetail {
            current: Some(10),
            total: Some(20),
        });
        assert_eq!(
            serde_json::to_string(&message).unwrap(),
            r#"{"status":"Downloading","id":"2db29710123e","progressDetail":{"current":10,"total":20}}"#
        );
        let failure = serde_json::to_string(&ProgressMessage::failure("boom")).unwrap();
        assert_eq!(
            failure,
            r#"{"error":"boom","errorDetail":{"message":"boom"}}"#
        );
    }

    #[test]
    fn delete_items_have_one_key() {
        let item = ImageDeleteItem {
            untagged: Some("busybox:latest".into()),
            deleted: None,
        };
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"Untagged":"busybox:latest"}"#
        );
    }

    #[test]
    fn bar_has_fixed_width() {
        let bar = ProgressMessage::render_bar(500, 1000);
        assert!(bar.starts_with("[=========================>"), "{bar}");
        assert!(bar.ends_with("] 500B/1kB"), "{bar}");
    }
}
