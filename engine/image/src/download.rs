//! Blob downloads for a pull: every descriptor must declare a positive size and no body is
//! read past it; small blobs (configs) are read whole under a cap and a deadline, layer blobs
//! stream into `<root>/tmp` with retries and Range resume, and a partial file never outlives
//! its download (failed, or dropped because the pull's client went away).

use std::time::Duration;

use futures_util::StreamExt;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::progress::{layer, LayerStatus, ProgressSender};
use crate::registry::client::{describe, read_capped, ReadError, Session};
use crate::registry::manifest::Descriptor;
use crate::store::Store;

/// Image configs larger than this are refused, as manifests are (dockerd's order of
/// magnitude).
pub(crate) const CONFIG_MAX: u64 = 4 << 20;

/// Refuses a descriptor that does not declare a positive size at most `limit`: without a
/// size nothing bounds the download.
pub(crate) fn check_declared_size(
    session: &Session,
    descriptor: &Descriptor,
    limit: u64,
) -> Result<()> {
    if descriptor.size == 0 {
        return Err(session.error(format!(
            "blob {} has no positive size in its descriptor",
            descriptor.digest
        )));
    }
    if descriptor.size > limit {
        return Err(session.error(format!(
            "blob {} is {} bytes, larger than {limit} bytes",
            descriptor.digest, descriptor.size
        )));
    }
    Ok(())
}

/// Fetches a small blob (an image config) whole: never more than its declared size.
pub(crate) async fn fetch_small_blob(
    session: &Session,
    descriptor: &Descriptor,
) -> Result<Vec<u8>> {
    check_declared_size(session, descriptor, CONFIG_MAX)?;
    let url = session.url(&format!("blobs/{}", descriptor.digest))?;
    let response = session.get(url.clone(), "*/*", None).await?;
    let what = format!("blob {}", descriptor.digest);
    let bytes = read_capped(response, descriptor.size, session.timeouts.document)
        .await
        .map_err(|e| match e {
            ReadError::TooLarge => session.error(format!(
                "{what} is larger than its descriptor says ({} bytes)",
                descriptor.size
            )),
            e => {
                session.error(e.describe(&format!("GET {url}"), descriptor.size, &session.timeouts))
            }
        })?;
    if (bytes.len() as u64) < descriptor.size {
        return Err(session.error(format!(
            "{what} ended after {} of {} bytes",
            bytes.len(),
            descriptor.size
        )));
    }
    descriptor
        .digest
        .verify(&format!("{what} from {}", session.base), &bytes)?;
    Ok(bytes)
}

/// A blob being downloaded into `<root>/tmp`; the file is removed unless it was committed,
/// whether the download failed or the pull was dropped (its client went away).
struct Partial {
    file: tokio::fs::File,
    path: std::path::PathBuf,
    committed: bool,
    hasher: Sha256,
    written: u64,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Why one GET of a blob failed, and whether another attempt may help.
struct FetchFailure {
    error: Error,
    retry: bool,
}

impl From<Error> for FetchFailure {
    fn from(error: Error) -> Self {
        FetchFailure { error, retry: true }
    }
}

/// A registry that sends more or other than the descriptor says: retrying will not help.
fn lying(session: &Session, reason: String) -> FetchFailure {
    FetchFailure {
        error: session.error(reason),
        retry: false,
    }
}

/// One GET of the blob, appending to `partial` (with Range when resuming); never reads
/// past the descriptor's size.
async fn fetch_into(
    session: &Session,
    descriptor: &Descriptor,
    partial: &mut Partial,
    progress: &ProgressSender,
) -> std::result::Result<(), FetchFailure> {
    let url = session.url(&format!("blobs/{}", descriptor.digest))?;
    let resume_from = (partial.written > 0).then_some(partial.written);
    let response = session.get(url.clone(), "*/*", resume_from).await?;
    let larger = || {
        format!(
            "blob {} is larger than its descriptor says ({} bytes)",
            descriptor.digest, descriptor.size
        )
    };
    let resumed =
        resume_from.is_some() && response.status() == reqwest::StatusCode::PARTIAL_CONTENT;
    let starts_at = if resumed { partial.written } else { 0 };
    if response
        .content_length()
        .is_some_and(|n| starts_at.saturating_add(n) > descriptor.size)
    {
        return Err(lying(session, larger()));
    }
    if resume_from.is_some() && !resumed {
        // The registry ignored Range: start over.
        partial
            .file
            .set_len(0)
            .await
            .map_err(|e| session.error(e.to_string()))?;
        partial
            .file
            .seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(|e| session.error(e.to_string()))?;
        partial.hasher = Sha256::new();
        partial.written = 0;
    }
    let short = descriptor.digest.short();
    let mut stream = response.bytes_stream();
    let mut last_report = partial.written;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| session.error(format!("GET {url}: {}", describe(&e))))?;
        if partial.written + chunk.len() as u64 > descriptor.size {
            return Err(lying(session, larger()));
        }
        partial
            .file
            .write_all(&chunk)
            .await
            .map_err(|e| session.error(format!("writing {}: {e}", descriptor.digest)))?;
        partial.hasher.update(&chunk);
        partial.written += chunk.len() as u64;
        if partial.written - last_report >= 512 * 1024 || partial.written == descriptor.size {
            last_report = partial.written;
            layer(
                progress,
                short,
                LayerStatus::Downloading {
                    current: partial.written,
                    total: descriptor.size,
                },
            );
        }
    }
    if partial.written < descriptor.size {
        return Err(session
            .error(format!(
                "blob {} ended after {} of {} bytes",
                descriptor.digest, partial.written, descriptor.size
            ))
            .into());
    }
    Ok(())
}

/// Downloads a blob into the store unless present; returns the bytes downloaded.
pub(crate) async fn download_blob(
    store: &Store,
    session: &Session,
    descriptor: &Descriptor,
    attempts: u32,
    progress: &ProgressSender,
) -> Result<u64> {
    let short = descriptor.digest.short();
    if store.has_blob(&descriptor.digest) {
        layer(progress, short, LayerStatus::DownloadComplete);
        return Ok(0);
    }
    let tmp = store.tmp_path("blob-");
    let file = tokio::fs::File::create(&tmp).await.at("create", &tmp)?;
    let mut partial = Partial {
        file,
        path: tmp.clone(),
        committed: false,
        hasher: Sha256::new(),
        written: 0,
    };
    layer(
        progress,
        short,
        LayerStatus::Downloading {
            current: 0,
            total: descriptor.size,
        },
    );
    let mut attempt = 1;
    let result = loop {
        match fetch_into(session, descriptor, &mut partial, progress).await {
            Ok(()) => break Ok(()),
            Err(FetchFailure { error: e, retry }) if retry && attempt < attempts => {
                let delay = Duration::from_millis(500 * u64::from(attempt));
                tracing::warn!(blob = %descriptor.digest, attempt, error = %e, "blob download failed, retrying");
                layer(
                    progress,
                    short,
                    LayerStatus::Retrying {
                        attempt,
                        seconds: delay.as_secs().max(1),
                    },
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(FetchFailure { error: e, .. }) => break Err(e),
        }
    };
    let verified = result.and_then(|()| {
        layer(progress, short, LayerStatus::VerifyingChecksum);
        let actual = Digest::from_hasher(std::mem::take(&mut partial.hasher));
        descriptor.digest.verify_computed(
            &format!("blob {} from {}", descriptor.digest, session.base),
            &actual,
        )
    });
    verified?;
    partial.file.sync_all().await.at("fsync", &tmp)?;
    store.commit_blob_file(&tmp, &descriptor.digest)?;
    partial.committed = true;
    layer(progress, short, LayerStatus::DownloadComplete);
    Ok(partial.written)
}
