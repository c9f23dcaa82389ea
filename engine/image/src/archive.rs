//! `save` and `load`: docker-archive tarballs (manifest.json, repositories, `<dir>/layer.tar`,
//! `<config>.json`) in both directions, and loading OCI image layouts (index.json + blobs),
//! for air-gapped hosts. Every layer is checked against the config's diff_ids.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::{Digest, HashingReader};
use crate::error::{Error, IoContext, Result};
use crate::extract::{decompress, extract_layer};
use crate::pull::config_diff_ids;
use crate::reference::Reference;
use crate::registry::manifest::{
    classify, select_platform, Descriptor, Kind, Platform, OCI_LAYER_TAR,
};
use crate::store::{BlobDescriptor, ImageLayer, ImageRecord, Store};

#[derive(Debug, Serialize, Deserialize)]
struct ArchiveManifest {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

fn bad(what: &str, reason: impl Into<String>) -> Error {
    Error::BadArchive {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// Writes the named images (references or ids) as a docker-archive tar to `out`.
pub async fn save<W: Write + Send + 'static>(store: &Store, names: &[String], out: W) -> Result<W> {
    let mut images = Vec::new();
    for name in names {
        let id = store.resolve(name)?;
        let tags: Vec<String> = match Reference::parse(name) {
            Ok(r) if store.lookup(&r)?.as_ref() == Some(&id) && r.digest().is_none() => {
                vec![r.familiar()]
            }
            _ => store
                .references_of(&id)?
                .into_iter()
                .filter(|r| r.digest().is_none())
                .map(|r| r.familiar())
                .collect(),
        };
        images.push((store.image(&id)?, tags));
    }
    let store = store.clone();
    tokio::task::spawn_blocking(move || write_archive(&store, &images, out))
        .await
        .map_err(|e| Error::Conflict(e.to_string()))?
}

fn append_bytes<W: Write>(builder: &mut tar::Builder<W>, path: &str, data: &[u8]) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, path, data)
        .map_err(|e| bad("archive", e.to_string()))
}

fn write_archive<W: Write>(
    store: &Store,
    images: &[(ImageRecord, Vec<String>)],
    out: W,
) -> Result<W> {
    let mut builder = tar::Builder::new(out);
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut written_dirs = std::collections::BTreeSet::new();
    for (record, tags) in images {
        let config = store.read_blob(&record.id)?;
        let config_name = format!("{}.json", record.id.hex());
        append_bytes(&mut builder, &config_name, &config)?;
        let mut layer_paths = Vec::new();
        let mut chain = Vec::new();
        for layer in &record.layers {
            chain.push(layer.diff_id.clone());
            let dir = Digest::chain(&chain)
                .map(|c| c.hex().to_string())
                .unwrap_or_default();
            let path = format!("{dir}/layer.tar");
            if written_dirs.insert(dir.clone()) {
                let blob = layer
                    .blob
                    .as_ref()
                    .ok_or_else(|| Error::NotFound(format!("blob of layer {}", layer.diff_id)))?;
                // Decompress to a temp file: the tar header needs the size first.
                let tmp = store.tmp_path("save-");
                let result = (|| {
                    let source = File::open(store.blob_path(&blob.digest))
                        .at("open", store.blob_path(&blob.digest))?;
                    let (_, mut reader) =
                        decompress(source).at("read", store.blob_path(&blob.digest))?;
                    let mut hashing = HashingReader::new(&mut reader);
                    let mut file = File::create(&tmp).at("create", &tmp)?;
                    io::copy(&mut hashing, &mut file).at("write", &tmp)?;
                    let (digest, _) = hashing.finish().at("read", &tmp)?;
                    layer
                        .diff_id
                        .verify_computed(&format!("layer {}", blob.digest), &digest)?;
                    let mut file = File::open(&tmp).at("open", &tmp)?;
                    builder
                        .append_file(&path, &mut file)
                        .map_err(|e| bad("archive", e.to_string()))
                })();
                let _ = fs::remove_file(&tmp);
                result?;
            }
            layer_paths.push(path);
        }
        for tag in tags {
            if let Ok(r) = Reference::parse(tag) {
                if let (Some(t), Some(top)) = (r.tag(), layer_paths.last()) {
                    repositories.entry(r.familiar_name()).or_default().insert(
                        t.to_string(),
                        top.trim_end_matches("/layer.tar").to_string(),
                    );
                }
            }
        }
        manifest.push(ArchiveManifest {
            config: config_name,
            repo_tags: Some(tags.clone()),
            layers: layer_paths,
        });
    }
    let manifest_json =
        serde_json::to_vec(&manifest).map_err(|e| bad("manifest.json", e.to_string()))?;
    append_bytes(&mut builder, "manifest.json", &manifest_json)?;
    let repositories_json =
        serde_json::to_vec(&repositories).map_err(|e| bad("repositories", e.to_string()))?;
    append_bytes(&mut builder, "repositories", &repositories_json)?;
    builder
        .into_inner()
        .map_err(|e| bad("archive", e.to_string()))
}

/// Loads a docker-archive or OCI layout tarball (optionally gzip/zstd compressed); returns
/// what was loaded, as `docker load` prints it ("Loaded image: x:tag" / "Loaded image ID: …").
pub async fn load<R: Read + Send + 'static>(store: &Store, input: R) -> Result<Vec<String>> {
    let _fence = store.inner.gc_fence.read().await;
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let dir = store.tmp_path("load-");
        fs::create_dir_all(&dir).at("create directory", &dir)?;
        let result = (|| {
            // The outer archive goes through the same safe extraction as layers.
            extract_layer(input, &dir)?;
            if dir.join("manifest.json").is_file() {
                load_docker_archive(&store, &dir)
            } else if dir.join("index.json").is_file() {
                load_oci_layout(&store, &dir)
            } else {
                Err(bad(
                    "load input",
                    "neither manifest.json (docker-archive) nor index.json (OCI layout) found",
                ))
            }
        })();
        let _ = fs::remove_dir_all(&dir);
        result
    })
    .await
    .map_err(|e| Error::Conflict(e.to_string()))?
}

/// Resolves an archive-relative path to a regular file inside `root` (symlinks followed only
/// while they stay inside).
fn resolve_inside(root: &Path, rel: &str) -> Result<PathBuf> {
    if Path::new(rel)
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(bad(rel, "path leaves the archive"));
    }
    let real_root = root.canonicalize().at("resolve", root)?;
    let path = root
        .join(rel)
        .canonicalize()
        .map_err(|e| bad(rel, format!("not in the archive: {e}")))?;
    if !path.starts_with(&real_root) || !path.is_file() {
        return Err(bad(rel, "not a file inside the archive"));
    }
    Ok(path)
}

/// Stores a layer file as a blob and extracts it (unless already present).
fn import_layer(
    store: &Store,
    path: &Path,
    diff_id: &Digest,
    media_type: Option<&str>,
    expected: Option<&Digest>,
) -> Result<BlobDescriptor> {
    let mut hashing = HashingReader::new(File::open(path).at("open", path)?);
    let (digest, size) = {
        io::copy(&mut hashing, &mut io::sink()).at("read", path)?;
        hashing.finish().at("read", path)?
    };
    if let Some(expected) = expected {
        expected.verify_computed(&format!("blob {}", path.display()), &digest)?;
    }
    if !store.has_layer(diff_id) {
        store.add_layer_from(
            File::open(path).at("open", path)?,
            diff_id,
            &path.display().to_string(),
        )?;
    }
    if !store.has_blob(&digest) {
        let tmp = store.tmp_path("blob-");
        fs::copy(path, &tmp).at("copy", &tmp)?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .at("fsync", &tmp)?;
        store.commit_blob_file(&tmp, &digest)?;
    }
    let media_type = media_type.map(str::to_string).unwrap_or_else(|| {
        let mut head = [0u8; 4];
        let n = File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .unwrap_or(0);
        if head[..n].starts_with(&[0x1f, 0x8b]) {
            "application/vnd.oci.image.layer.v1.tar+gzip".to_string()
        } else if head[..n].starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            "application/vnd.oci.image.layer.v1.tar+zstd".to_string()
        } else {
            OCI_LAYER_TAR.to_string()
        }
    });
    Ok(BlobDescriptor {
        digest,
        media_type,
        size,
    })
}

fn finish_image(
    store: &Store,
    config: &[u8],
    layers: Vec<ImageLayer>,
    manifest: Option<BlobDescriptor>,
    tags: &[String],
    loaded: &mut Vec<String>,
) -> Result<()> {
    let id = Digest::of(config);
    store.put_blob(&id, config)?;
    let mut size = 0;
    for l in &layers {
        size += store.layer_meta(&l.diff_id)?.size;
    }
    store.write_image(&ImageRecord {
        id: id.clone(),
        layers,
        manifest,
        extra_blobs: Vec::new(),
        size,
    })?;
    if tags.is_empty() {
        loaded.push(format!("Loaded image ID: {id}"));
    }
    for tag in tags {
        let reference = Reference::parse(tag)?;
        store.tag(&id, &reference)?;
        loaded.push(format!("Loaded image: {}", reference.familiar()));
    }
    Ok(())
}

fn load_docker_archive(store: &Store, dir: &Path) -> Result<Vec<String>> {
    let manifest_path = dir.join("manifest.json");
    let manifest: Vec<ArchiveManifest> =
        serde_json::from_slice(&fs::read(&manifest_path).at("read", &manifest_path)?)
            .map_err(|e| bad("manifest.json", e.to_string()))?;
    let mut loaded = Vec::new();
    for entry in &manifest {
        let config_path = resolve_inside(dir, &entry.config)?;
        let config = fs::read(&config_path).at("read", &config_path)?;
        let diff_ids = config_diff_ids(&config, &entry.config)?;
        if diff_ids.len() != entry.layers.len() {
            return Err(bad(
                "manifest.json",
                format!(
                    "{} lists {} layers but its config {} diff_ids",
                    entry.config,
                    entry.layers.len(),
                    diff_ids.len()
                ),
            ));
        }
        let mut layers = Vec::new();
        for (layer_path, diff_id) in entry.layers.iter().zip(&diff_ids) {
            let path = resolve_inside(dir, layer_path)?;
            let blob = import_layer(store, &path, diff_id, None, None)?;
            layers.push(ImageLayer {
                diff_id: diff_id.clone(),
                blob: Some(blob),
            });
        }
        finish_image(
            store,
            &config,
            layers,
            None,
            entry.repo_tags.as_deref().unwrap_or_default(),
            &mut loaded,
        )?;
    }
    Ok(loaded)
}

fn read_oci_blob(dir: &Path, digest: &Digest) -> Result<Vec<u8>> {
    let path = resolve_inside(dir, &format!("blobs/sha256/{}", digest.hex()))?;
    let data = fs::read(&path).at("read", &path)?;
    digest.verify(&format!("OCI layout blob {digest}"), &data)?;
    Ok(data)
}

fn load_oci_layout(store: &Store, dir: &Path) -> Result<Vec<String>> {
    let index_bytes = fs::read(dir.join("index.json")).at("read", dir.join("index.json"))?;
    let (_, kind) = classify(&index_bytes, "", "index.json")?;
    let Kind::Index(entries) = kind else {
        return Err(bad("index.json", "not an image index"));
    };
    let mut loaded = Vec::new();
    for entry in &entries {
        let name = entry.annotations.as_ref().and_then(|a| {
            a.get("io.containerd.image.name")
                .or_else(|| a.get("org.opencontainers.image.ref.name"))
                .cloned()
        });
        let tags: Vec<String> = name
            .filter(|n| n.contains([':', '/']) && Reference::parse(n).is_ok())
            .into_iter()
            .collect();
        let mut descriptor: Descriptor = entry.clone();
        let mut manifest_bytes = read_oci_blob(dir, &descriptor.digest)?;
        let image_manifest = loop {
            match classify(
                &manifest_bytes,
                &descriptor.media_type,
                descriptor.digest.as_str(),
            )?
            .1
            {
                Kind::Image(m) => break m,
                Kind::Index(nested) => {
                    descriptor = select_platform(&nested, &Platform::default())
                        .ok_or_else(|| bad("index.json", "no linux/amd64 manifest"))?
                        .clone();
                    manifest_bytes = read_oci_blob(dir, &descriptor.digest)?;
                }
            }
        };
        let config = read_oci_blob(dir, &image_manifest.config.digest)?;
        let diff_ids = config_diff_ids(&config, image_manifest.config.digest.as_str())?;
        if diff_ids.len() != image_manifest.layers.len() {
            return Err(bad(
                "OCI manifest",
                "layer count differs from the config's diff_ids",
            ));
        }
        let mut layers = Vec::new();
        for (layer, diff_id) in image_manifest.layers.iter().zip(&diff_ids) {
            let path = resolve_inside(dir, &format!("blobs/sha256/{}", layer.digest.hex()))?;
            let blob = import_layer(
                store,
                &path,
                diff_id,
                Some(&layer.media_type),
                Some(&layer.digest),
            )?;
            layers.push(ImageLayer {
                diff_id: diff_id.clone(),
                blob: Some(blob),
            });
        }
        store.put_blob(&descriptor.digest, &manifest_bytes)?;
        let manifest = BlobDescriptor {
            digest: descriptor.digest.clone(),
            media_type: if descriptor.media_type.is_empty() {
                crate::registry::manifest::OCI_MANIFEST.to_string()
            } else {
                descriptor.media_type.clone()
            },
            size: manifest_bytes.len() as u64,
        };
        finish_image(store, &config, layers, Some(manifest), &tags, &mut loaded)?;
    }
    Ok(loaded)
}
