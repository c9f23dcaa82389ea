//! `push`: upload an image's blobs (skipping those the registry has, mounting across
//! repositories where the image is known under another name on the same registry, else one
//! monolithic PUT each, streamed from the store), up to max-concurrent-uploads layers at once,
//! then PUT the manifest under the tag.

use std::path::PathBuf;

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::progress::{emit, layer, LayerStatus, ProgressEvent, ProgressSender};
use crate::reference::Reference;
use crate::registry::client::{error_text, Credentials, Session};
use crate::registry::config::RegistryConfig;
use crate::registry::manifest::{OCI_LAYER_TAR, OCI_MANIFEST};
use crate::store::{BlobDescriptor, ImageRecord, Store};

const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// Pushes the image `reference` names to its registry; returns the manifest digest.
pub async fn push(
    store: &Store,
    config: &RegistryConfig,
    reference: &Reference,
    credentials: Option<&Credentials>,
    progress: &ProgressSender,
) -> Result<Digest> {
    let id = store
        .lookup(reference)?
        .ok_or_else(|| Error::NotFound(reference.familiar()))?;
    let record = store.image(&id)?;
    let tag = reference.tag().unwrap_or("latest").to_string();
    emit(
        progress,
        ProgressEvent::Status(format!(
            "The push refers to repository [{}]",
            reference.name()
        )),
    );

    // The same image under another repository of this registry can be cross-mounted.
    let mount_from: Option<String> = store
        .references_of(&id)?
        .into_iter()
        .find(|r| r.domain() == reference.domain() && r.path() != reference.path())
        .map(|r| r.path().to_string());
    let extra_scopes: Vec<String> = mount_from
        .iter()
        .map(|from| format!("repository:{from}:pull"))
        .collect();

    let endpoints: Vec<_> = config
        .endpoints(reference)
        .into_iter()
        .filter(|e| !e.mirror)
        .collect();
    let mut session = None;
    let mut last_error = None;
    for endpoint in &endpoints {
        match Session::connect(
            endpoint,
            reference.path(),
            "pull,push",
            &extra_scopes,
            credentials,
        )
        .await
        {
            Ok(s) => {
                session = Some(s);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let session = match (session, last_error) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(e),
        (None, None) => {
            return Err(Error::NotFound(format!(
                "registry endpoint for {reference}"
            )))
        }
    };

    let (manifest_bytes, manifest_type) = manifest_for(store, &record)?;
    let mut blobs: Vec<BlobDescriptor> = Vec::new();
    for l in &record.layers {
        let blob = l
            .blob
            .clone()
            .ok_or_else(|| Error::NotFound(format!("blob of layer {}", l.diff_id)))?;
        if !blobs.iter().any(|b| b.digest == blob.digest) {
            blobs.push(blob);
        }
    }
    for blob in &blobs {
        layer(progress, blob.digest.short(), LayerStatus::Preparing);
    }
    // Layers go up side by side; the first failure ends the push.
    let mut pending = Vec::with_capacity(blobs.len());
    for blob in &blobs {
        pending.push(push_blob(
            store,
            &session,
            &blob.digest,
            mount_from.as_deref(),
            true,
            progress,
        ));
    }
    let mut uploads =
        futures_util::stream::iter(pending).buffer_unordered(config.max_concurrent_uploads.max(1));
    while let Some(result) = uploads.next().await {
        result?;
    }
    drop(uploads);
    push_blob(store, &session, &id, mount_from.as_deref(), false, progress).await?;

    let digest = Digest::of(&manifest_bytes);
    let url = session.url(&format!("manifests/{tag}"))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&manifest_type)
            .map_err(|_| session.error("bad manifest media type".into()))?,
    );
    let response = session
        .send(
            Method::PUT,
            url.clone(),
            headers,
            Some(manifest_bytes.clone().into()),
        )
        .await?;
    if response.status() != StatusCode::CREATED {
        let status = response.status();
        let body = error_text(response, &session.timeouts).await;
        return Err(session.error(format!("PUT {url}: HTTP {status} {body}")));
    }
    if let Some(echoed) = response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Digest::parse(v).ok())
    {
        echoed.verify_computed("pushed manifest", &digest)?;
    }
    store.put_blob(&digest, &manifest_bytes)?;
    store.tag(&id, &reference.with_digest(digest.clone()))?;
    emit(
        progress,
        ProgressEvent::Status(format!(
            "{tag}: digest: {digest} size: {}",
            manifest_bytes.len()
        )),
    );
    Ok(digest)
}

/// The stored manifest when it is complete here; otherwise a generated OCI manifest.
fn manifest_for(store: &Store, record: &ImageRecord) -> Result<(Vec<u8>, String)> {
    if let Some(m) = &record.manifest {
        if store.has_blob(&m.digest) {
            return Ok((store.read_blob(&m.digest)?, m.media_type.clone()));
        }
    }
    let config = store.read_blob(&record.id)?;
    let mut layers = Vec::new();
    for l in &record.layers {
        let blob = l
            .blob
            .as_ref()
            .ok_or_else(|| Error::NotFound(format!("blob of layer {}", l.diff_id)))?;
        let media_type = if blob.media_type.contains("gzip") {
            OCI_LAYER_GZIP
        } else if blob.media_type.contains("zstd") {
            OCI_LAYER_ZSTD
        } else {
            OCI_LAYER_TAR
        };
        layers.push(json!({"mediaType": media_type, "digest": blob.digest, "size": blob.size}));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": record.id, "size": config.len()},
        "layers": layers,
    });
    let bytes = serde_json::to_vec(&manifest).map_err(|e| Error::Conflict(e.to_string()))?;
    Ok((bytes, OCI_MANIFEST.to_string()))
}

async fn push_blob(
    store: &Store,
    session: &Session,
    digest: &Digest,
    mount_from: Option<&str>,
    report: bool,
    progress: &ProgressSender,
) -> Result<()> {
    let short = digest.short();
    let head = session
        .send(
            Method::HEAD,
            session.url(&format!("blobs/{digest}"))?,
            HeaderMap::new(),
            None,
        )
        .await?;
    if head.status().is_success() {
        if report {
            layer(progress, short, LayerStatus::LayerAlreadyExists);
        }
        return Ok(());
    }
    let mut upload_url = session.url("blobs/uploads/")?;
    if let Some(from) = mount_from {
        upload_url
            .query_pairs_mut()
            .append_pair("mount", digest.as_str())
            .append_pair("from", from);
    }
    let start = session
        .send(Method::POST, upload_url.clone(), HeaderMap::new(), None)
        .await?;
    if start.status() == StatusCode::CREATED {
        if report {
            layer(
                progress,
                short,
                LayerStatus::Mounted {
                    from: mount_from.unwrap_or_default().to_string(),
                },
            );
        }
        return Ok(());
    }
    if start.status() != StatusCode::ACCEPTED {
        return Err(session.error(format!("POST {upload_url}: HTTP {}", start.status())));
    }
    let location = start
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| session.error("upload start without Location".into()))?;
    let mut put_url = upload_url
        .join(location)
        .map_err(|e| session.error(format!("bad upload Location {location:?}: {e}")))?;
    put_url
        .query_pairs_mut()
        .append_pair("digest", digest.as_str());
    let path = store.blob_path(digest);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| Error::io("open blob", &path, e))?;
    let total = file
        .metadata()
        .await
        .map_err(|e| Error::io("stat blob", &path, e))?
        .len();
    if report {
        layer(progress, short, LayerStatus::Pushing { current: 0, total });
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(total));
    let reporter = report.then(|| (progress.clone(), short.to_string()));
    let body = reqwest::Body::wrap_stream(blob_chunks(file, path, total, reporter));
    let put = session
        .send(Method::PUT, put_url.clone(), headers, Some(body))
        .await?;
    if put.status() != StatusCode::CREATED {
        let status = put.status();
        let body = error_text(put, &session.timeouts).await;
        return Err(session.error(format!("PUT blob {digest}: HTTP {status} {body}")));
    }
    if report {
        layer(
            progress,
            short,
            LayerStatus::Pushing {
                current: total,
                total,
            },
        );
        layer(progress, short, LayerStatus::Pushed);
    }
    Ok(())
}

/// Bytes read from the store per chunk of an upload.
const UPLOAD_CHUNK: usize = 256 * 1024;

/// The blob in `file` as a stream of chunks for a request body, reporting progress to
/// `reporter` (channel, short layer id) as it goes. A blob that changes size under the upload
/// ends the stream with an error rather than sending a wrong length.
fn blob_chunks(
    file: tokio::fs::File,
    path: PathBuf,
    total: u64,
    reporter: Option<(ProgressSender, String)>,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + Sync + 'static {
    futures_util::stream::try_unfold((file, 0u64), move |(mut file, sent)| {
        let (path, reporter) = (path.clone(), reporter.clone());
        async move {
            let mut chunk = bytes::BytesMut::with_capacity(UPLOAD_CHUNK);
            let read = file.read_buf(&mut chunk).await?;
            let sent_now = sent + read as u64;
            if read == 0 {
                if sent != total {
                    return Err(std::io::Error::other(format!(
                        "{}: {sent} bytes read, {total} expected",
                        path.display()
                    )));
                }
                return Ok(None);
            }
            if let Some((progress, short)) = &reporter {
                layer(
                    progress,
                    short,
                    LayerStatus::Pushing {
                        current: sent_now,
                        total,
                    },
                );
            }
            Ok(Some((chunk.freeze(), (file, sent_now))))
        }
    })
}
