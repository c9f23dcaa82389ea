//! `pull`: resolve a reference through the endpoints (mirrors first for docker.io names),
//! fetch and verify the manifest, config and layer blobs with bounded parallel downloads,
//! retries and Range resume, extract each layer with its diff_id checked, then publish the
//! image record and its references. A crash at any point leaves no visible partial image;
//! verified blobs and layers are reused by the next pull.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::digest::Digest;
use crate::download::{check_declared_size, download_blob, fetch_small_blob, CONFIG_MAX};
use crate::error::{Error, IoContext, Result};
use crate::extract::extract_layer;
use crate::progress::{emit, layer, LayerStatus, ProgressEvent, ProgressSender};
use crate::reference::Reference;
use crate::registry::client::{Credentials, Session};
use crate::registry::config::{Endpoint, RegistryConfig};
use crate::registry::manifest::{self, Descriptor, Kind, Platform, MANIFEST_MAX};
use crate::store::{BlobDescriptor, ImageId, ImageLayer, ImageRecord, LayerMeta, Store};

/// Per-pull options.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Credentials for the registry (from X-Registry-Auth), if any.
    pub credentials: Option<Credentials>,
    /// Platform to pick from a multi-arch index (default linux/amd64).
    pub platform: Platform,
}

/// What a pull did, for callers that measure (the bench harness).
#[derive(Debug, Clone)]
pub struct PullReport {
    pub image_id: ImageId,
    /// The top-level manifest digest (the repo digest).
    pub manifest_digest: Digest,
    /// Compressed bytes downloaded in this pull.
    pub downloaded_bytes: u64,
    /// Uncompressed tar bytes extracted in this pull.
    pub extracted_bytes: u64,
    /// Sum over layers of the time spent extracting (layers may overlap in time).
    pub extract_time: Duration,
    /// Layers that were already in the store.
    pub layers_reused: usize,
}

/// Pulls `reference` into `store` and returns the image id. See [`pull_with_report`].
pub async fn pull(
    store: &Store,
    config: &RegistryConfig,
    reference: &Reference,
    options: &PullOptions,
    progress: &ProgressSender,
) -> Result<ImageId> {
    Ok(
        pull_with_report(store, config, reference, options, progress)
            .await?
            .image_id,
    )
}

/// Pulls `reference`, trying each endpoint in turn; when every one fails the error names
/// each endpoint and why.
pub async fn pull_with_report(
    store: &Store,
    config: &RegistryConfig,
    reference: &Reference,
    options: &PullOptions,
    progress: &ProgressSender,
) -> Result<PullReport> {
    let _fence = store.inner.gc_fence.read().await;
    let endpoints = config.endpoints(reference);
    let mut tried = Vec::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        let is_last = i + 1 == endpoints.len();
        match pull_from(store, config, endpoint, reference, options, progress).await {
            Ok(report) => return Ok(report),
            Err(Failure { error, connecting }) => {
                tracing::warn!(endpoint = %endpoint.base, mirror = endpoint.mirror, error = %error, "pull failed on endpoint");
                // Other registries: https falls back to http only when https did not answer.
                if !reference.is_docker_hub() && (is_last || !connecting) {
                    return Err(error);
                }
                tried.push((endpoint.base.to_string(), error.to_string()));
            }
        }
    }
    Err(Error::AllEndpointsFailed {
        reference: reference.familiar(),
        tried,
    })
}

struct Failure {
    error: Error,
    connecting: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            connecting: false,
        }
    }
}

#[derive(Deserialize)]
struct ConfigRootfs {
    rootfs: RootfsSection,
}

#[derive(Deserialize)]
struct RootfsSection {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

/// The diff_ids a config lists.
pub(crate) fn config_diff_ids(config: &[u8], what: &str) -> Result<Vec<Digest>> {
    let parsed: ConfigRootfs = serde_json::from_slice(config).map_err(|e| Error::BadArchive {
        what: what.to_string(),
        reason: format!("image config: {e}"),
    })?;
    Ok(parsed.rootfs.diff_ids)
}

async fn pull_from(
    store: &Store,
    config: &RegistryConfig,
    endpoint: &Endpoint,
    reference: &Reference,
    options: &PullOptions,
    progress: &ProgressSender,
) -> std::result::Result<PullReport, Failure> {
    let session = Session::connect(
        endpoint,
        reference.path(),
        "pull",
        &[],
        options.credentials.as_ref(),
    )
    .await
    .map_err(|error| Failure {
        error,
        connecting: true,
    })?;
    let selector = reference.manifest_selector();
    let top = manifest::fetch(&session, &selector, MANIFEST_MAX).await?;
    let (platform_manifest, image_manifest) = match &top.kind {
        Kind::Image(m) => (None, m.clone()),
        Kind::Index(entries) => {
            let chosen =
                manifest::select_platform(entries, &options.platform).ok_or_else(|| {
                    session.error(format!(
                        "no matching manifest for {}/{} in the manifest list entries",
                        options.platform.os, options.platform.architecture
                    ))
                })?;
            check_declared_size(&session, chosen, MANIFEST_MAX)?;
            let fetched = manifest::fetch(&session, chosen.digest.as_str(), chosen.size).await?;
            let Kind::Image(m) = &fetched.kind else {
                return Err(session
                    .error("index entry points at another index".into())
                    .into());
            };
            let m = m.clone();
            (Some(fetched), m)
        }
    };
    emit(
        progress,
        ProgressEvent::PullingFrom {
            tag: reference
                .tag()
                .map_or_else(|| selector.clone(), str::to_string),
            repository: reference.path().to_string(),
        },
    );

    let config_desc = &image_manifest.config;
    check_declared_size(&session, config_desc, CONFIG_MAX)?;
    for descriptor in &image_manifest.layers {
        check_declared_size(&session, descriptor, u64::MAX)?;
    }
    let config_bytes = if store.has_blob(&config_desc.digest) {
        store.read_blob(&config_desc.digest)?
    } else {
        let bytes = fetch_small_blob(&session, config_desc).await?;
        store.put_blob(&config_desc.digest, &bytes)?;
        bytes
    };
    let image_id = config_desc.digest.clone();
    let diff_ids = config_diff_ids(&config_bytes, &format!("config {image_id}"))?;
    if diff_ids.len() != image_manifest.layers.len() {
        return Err(session
            .error(format!(
                "manifest has {} layers but config lists {} diff_ids",
                image_manifest.layers.len(),
                diff_ids.len()
            ))
            .into());
    }

    let mut report = PullReport {
        image_id: image_id.clone(),
        manifest_digest: top.digest.clone(),
        downloaded_bytes: 0,
        extracted_bytes: 0,
        extract_time: Duration::ZERO,
        layers_reused: 0,
    };
    let up_to_date = store.image(&image_id).is_ok();
    if !up_to_date {
        fetch_layers(
            store,
            config,
            &session,
            &image_manifest.layers,
            &diff_ids,
            progress,
            &mut report,
        )
        .await?;
        let mut layers = Vec::new();
        let mut size = 0;
        for (descriptor, diff_id) in image_manifest.layers.iter().zip(&diff_ids) {
            size += store.layer_meta(diff_id)?.size;
            layers.push(ImageLayer {
                diff_id: diff_id.clone(),
                blob: Some(descriptor.blob()),
            });
        }
        let (manifest_fetched, extra_blobs) = match &platform_manifest {
            Some(platform) => (platform, vec![top.digest.clone()]),
            None => (&top, Vec::new()),
        };
        store.put_blob(&top.digest, &top.bytes)?;
        store.put_blob(&manifest_fetched.digest, &manifest_fetched.bytes)?;
        store.write_image(&ImageRecord {
            id: image_id.clone(),
            layers,
            manifest: Some(BlobDescriptor {
                digest: manifest_fetched.digest.clone(),
                media_type: manifest_fetched.media_type.clone(),
                size: manifest_fetched.bytes.len() as u64,
            }),
            extra_blobs,
            size,
        })?;
    }
    if let Some(tag) = reference.tag() {
        store.tag(&image_id, &reference.with_tag(tag)?)?;
    }
    store.tag(&image_id, &reference.with_digest(top.digest.clone()))?;
    emit(
        progress,
        ProgressEvent::Status(format!("Digest: {}", top.digest)),
    );
    emit(
        progress,
        ProgressEvent::Status(if up_to_date {
            format!("Status: Image is up to date for {}", reference.familiar())
        } else {
            format!(
                "Status: Downloaded newer image for {}",
                reference.familiar()
            )
        }),
    );
    Ok(report)
}

/// Downloads (bounded, retried) and extracts every layer not yet in the store.
async fn fetch_layers(
    store: &Store,
    config: &RegistryConfig,
    session: &Session,
    descriptors: &[Descriptor],
    diff_ids: &[Digest],
    progress: &ProgressSender,
    report: &mut PullReport,
) -> Result<()> {
    let mut jobs = Vec::new();
    for (descriptor, diff_id) in descriptors.iter().zip(diff_ids) {
        let short = descriptor.digest.short().to_string();
        if store.has_layer(diff_id) {
            report.layers_reused += 1;
            layer(progress, &short, LayerStatus::AlreadyExists);
        } else if !jobs
            .iter()
            .any(|(_, d): &(Descriptor, Digest)| d == diff_id)
        {
            layer(progress, &short, LayerStatus::PullingFsLayer);
            jobs.push((descriptor.clone(), diff_id.clone()));
        }
    }
    for (descriptor, _) in jobs.iter().skip(config.max_concurrent_downloads) {
        layer(progress, descriptor.digest.short(), LayerStatus::Waiting);
    }
    let downloads = Arc::new(Semaphore::new(config.max_concurrent_downloads));
    let mut tasks = tokio::task::JoinSet::new();
    for (descriptor, diff_id) in jobs {
        let (store, session, progress, downloads) = (
            store.clone(),
            session.clone(),
            progress.clone(),
            downloads.clone(),
        );
        let attempts = config.max_download_attempts;
        tasks.spawn(async move {
            let permit = downloads
                .acquire_owned()
                .await
                .map_err(|e| Error::Conflict(e.to_string()))?;
            let downloaded =
                download_blob(&store, &session, &descriptor, attempts, &progress).await?;
            drop(permit);
            let started = Instant::now();
            let extracted = extract_blob(&store, &descriptor, &diff_id, &progress).await?;
            Ok::<_, Error>((downloaded, extracted, started.elapsed()))
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let finished = joined
            .map_err(|e| Error::Conflict(e.to_string()))
            .and_then(|r| r);
        match finished {
            Ok((downloaded, extracted, elapsed)) => {
                report.downloaded_bytes += downloaded;
                report.extracted_bytes += extracted;
                report.extract_time += elapsed;
            }
            Err(e) => {
                // Stop the other downloads now (their partial blobs go with them) rather
                // than when the set is dropped.
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Sends Extracting progress as the compressed blob is read.
struct ExtractProgress<R> {
    inner: R,
    read: u64,
    reported: u64,
    total: u64,
    id: String,
    progress: ProgressSender,
}

impl<R: Read> Read for ExtractProgress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read - self.reported >= 1024 * 1024 || (n > 0 && self.read == self.total) {
            self.reported = self.read;
            layer(
                &self.progress,
                &self.id,
                LayerStatus::Extracting {
                    current: self.read,
                    total: self.total,
                },
            );
        }
        Ok(n)
    }
}

/// Extracts a stored blob into a new layer, checking its diff_id; returns the tar bytes.
async fn extract_blob(
    store: &Store,
    descriptor: &Descriptor,
    diff_id: &Digest,
    progress: &ProgressSender,
) -> Result<u64> {
    let short = descriptor.digest.short().to_string();
    let blob = store.blob_path(&descriptor.digest);
    let (store, diff_id, progress2) = (store.clone(), diff_id.clone(), progress.clone());
    let total = descriptor.size;
    let id = short.clone();
    let tar_bytes = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&blob).at("open", &blob)?;
        let reader = ExtractProgress {
            inner: file,
            read: 0,
            reported: 0,
            total,
            id,
            progress: progress2,
        };
        store.add_layer_from(reader, &diff_id, &format!("layer blob {}", blob.display()))
    })
    .await
    .map_err(|e| Error::Conflict(e.to_string()))??;
    layer(progress, &short, LayerStatus::PullComplete);
    Ok(tar_bytes)
}

impl Store {
    /// Extracts a layer stream into a temp dir, checks it against `diff_id`, and commits it.
    /// Returns the uncompressed tar size. Blocking.
    pub(crate) fn add_layer_from<R: Read>(
        &self,
        reader: R,
        diff_id: &Digest,
        what: &str,
    ) -> Result<u64> {
        let dir = self.tmp_path("layer-");
        let diff = dir.join("diff");
        let result = (|| {
            std::fs::create_dir_all(&diff).at("create directory", &diff)?;
            let stats = extract_layer(reader, &diff)?;
            diff_id.verify_computed(&format!("diff_id of {what}"), &stats.diff_id)?;
            self.commit_layer(
                &dir,
                &LayerMeta {
                    diff_id: diff_id.clone(),
                    size: stats.content_bytes,
                },
            )?;
            Ok(stats.tar_bytes)
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        result
    }
}
