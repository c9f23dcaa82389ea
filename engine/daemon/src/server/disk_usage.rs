//! `GET /system/df` (`docker system df`): the bytes images, containers and volumes take, with
//! what each image shares with others, what each container wrote and who uses each volume.

use std::collections::BTreeMap;

use berth_api::system::SystemDataUsage;
use berth_api::volume::VolumeUsage;

use super::containers::sized_summaries;
use super::http::{ok_json, ApiError, ApiResult, Query};
use super::image_filters::image_labels;
use super::images::{image_error, image_summary};
use crate::daemon::Daemon;

/// The object kinds `type=` may ask for (API 1.42).
const KINDS: &[&str] = &["container", "image", "volume", "build-cache"];

/// `GET /system/df[?type=container&type=image...]`.
pub fn disk_usage(daemon: &Daemon, query: &Query) -> ApiResult {
    let mut kinds = query.all("type");
    if let Some(unknown) = kinds.iter().find(|kind| !KINDS.contains(&kind.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown object type: {unknown}"
        )));
    }
    if kinds.is_empty() {
        kinds = KINDS.iter().map(|kind| (*kind).to_owned()).collect();
    }
    let wants = |kind: &str| kinds.iter().any(|wanted| wanted == kind);
    let records: Vec<_> = daemon
        .containers
        .all()
        .iter()
        .map(|entry| entry.record())
        .collect();
    let mut usage = SystemDataUsage::default();
    if wants("image") {
        let store = &daemon.images.store;
        let sizes = store.disk_usage().map_err(image_error)?;
        let mut users: BTreeMap<String, i64> = BTreeMap::new();
        for record in &records {
            *users.entry(record.image_id.clone()).or_default() += 1;
        }
        // Blobs and layers of failed pulls take disk too, though no image lists them.
        usage.layers_size = (sizes.layers_size + sizes.unreferenced_size) as i64;
        for image in store.images().map_err(image_error)? {
            let id = image.id.clone();
            let containers = users.get(&id.to_string()).copied().unwrap_or(0);
            let mut summary = image_summary(image, containers, image_labels(store, &id));
            if let Some(size) = sizes.images.get(&id) {
                summary.size = size.size as i64;
                summary.shared_size = size.shared_size as i64;
            }
            usage.images.push(summary);
        }
    }
    if wants("container") {
        usage.containers = sized_summaries(daemon, &records);
    }
    if wants("volume") {
        for mut volume in daemon.volumes.list() {
            let users = records
                .iter()
                .filter(|record| record.volumes.contains_key(&volume.name))
                .count();
            let size = berth_image::apparent_size(std::path::Path::new(&volume.mountpoint));
            volume.usage_data = Some(VolumeUsage {
                size: size as i64,
                ref_count: users as i64,
            });
            usage.volumes.push(volume);
        }
    }
    ok_json(&usage)
}
