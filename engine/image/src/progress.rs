//! Pull and push progress events, in the order and wording Docker's JSON progress stream uses,
//! and their conversion to those JSON messages.

use serde_json::{json, Value};

/// One progress message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A status line without id: "Pulling from library/x", "Digest: sha256:…",
    /// "Status: Downloaded newer image for x:latest", "The push refers to repository […]".
    Status(String),
    /// "Pulling from library/x" with the tag (or digest) as id, Docker's first pull line.
    PullingFrom { tag: String, repository: String },
    /// A per-layer line; `id` is the 12-hex short blob digest.
    Layer { id: String, status: LayerStatus },
}

/// The per-layer states of a pull or push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerStatus {
    PullingFsLayer,
    Waiting,
    Downloading { current: u64, total: u64 },
    VerifyingChecksum,
    DownloadComplete,
    Extracting { current: u64, total: u64 },
    PullComplete,
    AlreadyExists,
    Retrying { attempt: u32, seconds: u64 },
    Preparing,
    Pushing { current: u64, total: u64 },
    Pushed,
    LayerAlreadyExists,
    Mounted { from: String },
}

impl LayerStatus {
    /// Docker's wording.
    pub fn text(&self) -> String {
        match self {
            LayerStatus::PullingFsLayer => "Pulling fs layer".into(),
            LayerStatus::Waiting => "Waiting".into(),
            LayerStatus::Downloading { .. } => "Downloading".into(),
            LayerStatus::VerifyingChecksum => "Verifying Checksum".into(),
            LayerStatus::DownloadComplete => "Download complete".into(),
            LayerStatus::Extracting { .. } => "Extracting".into(),
            LayerStatus::PullComplete => "Pull complete".into(),
            LayerStatus::AlreadyExists => "Already exists".into(),
            LayerStatus::Retrying { seconds, .. } => format!(
                "Retrying in {seconds} second{}",
                if *seconds == 1 { "" } else { "s" }
            ),
            LayerStatus::Preparing => "Preparing".into(),
            LayerStatus::Pushing { .. } => "Pushing".into(),
            LayerStatus::Pushed => "Pushed".into(),
            LayerStatus::LayerAlreadyExists => "Layer already exists".into(),
            LayerStatus::Mounted { from } => format!("Mounted from {from}"),
        }
    }

    fn counts(&self) -> Option<(u64, u64)> {
        match self {
            LayerStatus::Downloading { current, total }
            | LayerStatus::Extracting { current, total }
            | LayerStatus::Pushing { current, total } => Some((*current, *total)),
            _ => None,
        }
    }
}

impl ProgressEvent {
    /// The Docker JSON progress message (`{"status","id","progressDetail","progress"}`).
    pub fn to_docker_json(&self) -> Value {
        match self {
            ProgressEvent::Status(s) => json!({ "status": s }),
            ProgressEvent::PullingFrom { tag, repository } => {
                json!({ "status": format!("Pulling from {repository}"), "id": tag })
            }
            ProgressEvent::Layer { id, status } => match status.counts() {
                Some((current, total)) => json!({
                    "status": status.text(),
                    "id": id,
                    "progressDetail": { "current": current, "total": total },
                    "progress": progress_bar(current, total),
                }),
                None => json!({ "status": status.text(), "id": id, "progressDetail": {} }),
            },
        }
    }
}

/// Docker's `[=====>     ]  1.2MB/3.4MB` bar.
fn progress_bar(current: u64, total: u64) -> String {
    let human = |n: u64| {
        let n = n as f64;
        if n >= 1e9 {
            format!("{:.3}GB", n / 1e9)
        } else if n >= 1e6 {
            format!("{:.3}MB", n / 1e6)
        } else if n >= 1e3 {
            format!("{:.3}kB", n / 1e3)
        } else {
            format!("{n}B")
        }
    };
    if total == 0 {
        return human(current);
    }
    let width = 50;
    let filled = ((current.min(total) as f64 / total as f64) * width as f64) as usize;
    let mut bar = "=".repeat(filled);
    if filled < width {
        bar.push('>');
        bar.push_str(&" ".repeat(width - filled - 1));
    }
    format!("[{bar}] {:>8}/{}", human(current), human(total))
}

/// Where progress goes; a dropped receiver is fine (the operation carries on).
pub type ProgressSender = tokio::sync::mpsc::UnboundedSender<ProgressEvent>;

pub(crate) fn emit(progress: &ProgressSender, event: ProgressEvent) {
    let _ = progress.send(event);
}

pub(crate) fn layer(progress: &ProgressSender, id: &str, status: LayerStatus) {
    emit(
        progress,
        ProgressEvent::Layer {
            id: id.to_string(),
            status,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_json_shape() {
        let e = ProgressEvent::Layer {
            id: "abc".into(),
            status: LayerStatus::Downloading {
                current: 5,
                total: 10,
            },
        };
        let v = e.to_docker_json();
        assert_eq!(v["status"], "Downloading");
        assert_eq!(v["progressDetail"]["total"], 10);
        assert!(v["progress"].as_str().unwrap().starts_with("[====="));
        assert_eq!(
            ProgressEvent::Status("x".into()).to_docker_json(),
            json!({"status": "x"})
        );
    }
}
