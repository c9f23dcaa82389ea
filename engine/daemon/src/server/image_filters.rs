//! Which images a list or a prune takes: Docker's image filters (`docker images -f`,
//! `docker image prune --filter`) checked against the stored images.

use std::collections::BTreeMap;
use std::time::SystemTime;

use berth_api::filters::{glob_match, FilterError, Filters};
use berth_image::{ImageId, ImageSummary, Store};

/// The filters `GET /images/json` understands.
pub const LIST_FILTERS: &[&str] = &[
    "before",
    "dangling",
    "label",
    "label!",
    "reference",
    "since",
    "until",
];

/// The filters `POST /images/prune` understands.
pub const PRUNE_FILTERS: &[&str] = &["dangling", "label", "label!", "until"];

/// Filters resolved once, then matched against each image.
pub struct ImageSelection {
    filters: Filters,
    dangling: Option<bool>,
    /// Creation times (seconds) of the images that `before` and `since` name.
    before: Option<i64>,
    since: Option<i64>,
    until: Option<i64>,
}

impl ImageSelection {
    pub fn new(filters: Filters, known: &[&str], store: &Store) -> Result<Self, FilterError> {
        filters.only(known)?;
        let dangling = filters.boolean("dangling")?;
        let created_of = |name: &str| {
            let id = store.resolve(name).ok()?;
            let images = store.images().ok()?;
            images
                .into_iter()
                .find(|image| image.id == id)
                .map(|image| image.created)
        };
        let before = filters.resolve_last("before", created_of)?;
        let since = filters.resolve_last("since", created_of)?;
        let until = filters
            .until(SystemTime::now())?
            .map(berth_api::time::unix_seconds);
        Ok(Self {
            filters,
            dangling,
            before,
            since,
            until,
        })
    }

    /// Whether `dangling` was given as true or false.
    pub fn dangling(&self) -> Option<bool> {
        self.dangling
    }

    /// Whether a list shows `image`, whose labels are `labels`.
    pub fn matches(&self, image: &ImageSummary, labels: &BTreeMap<String, String>) -> bool {
        let dangling = image.repo_tags.is_empty();
        self.dangling.is_none_or(|wanted| wanted == dangling)
            && self.matches_besides_dangling(image, labels)
    }

    /// Every filter but `dangling`, which for a prune sets the scope (dangling images, or
    /// with `false` all unused ones) rather than selecting tagged images.
    pub fn matches_besides_dangling(
        &self,
        image: &ImageSummary,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        self.filters.any_or_absent("reference", |pattern| {
            image
                .repo_tags
                .iter()
                .any(|tag| reference_matches(pattern, tag))
        }) && self.before.is_none_or(|time| image.created < time)
            && self.since.is_none_or(|time| image.created > time)
            && self.until.is_none_or(|time| image.created < time)
            && self.filters.labels_match(labels)
    }

    /// With a `reference` filter, a list shows only the tags and digests it matches.
    pub fn shown_references(&self, references: Vec<String>) -> Vec<String> {
        if !self.filters.contains("reference") {
            return references;
        }
        references
            .into_iter()
            .filter(|reference| {
                self.filters
                    .values("reference")
                    .any(|pattern| reference_matches(pattern, reference))
            })
            .collect()
    }
}

/// docker's `reference` filter: the pattern matches the tag (`busybox:1.36`) or, without a
/// `:tag` part, its repository (`busybox`, `127.0.0.1:5000/*`).
fn reference_matches(pattern: &str, tag: &str) -> bool {
    let without_digest = tag
        .split_once('@')
        .map_or(tag, |(repository, _)| repository);
    let repository =
        without_digest
            .rsplit_once(':')
            .map_or(without_digest, |(repository, tag_part)| {
                if tag_part.contains('/') {
                    without_digest
                } else {
                    repository
                }
            });
    glob_match(pattern, tag) || glob_match(pattern, repository)
}

/// The labels in an image's config.
pub fn image_labels(store: &Store, id: &ImageId) -> BTreeMap<String, String> {
    store
        .image_config(id)
        .ok()
        .and_then(|config| config.config().as_ref()?.labels().clone())
        .map(|labels| labels.into_iter().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_match_tags_and_repositories() {
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busybox:latest", "busybox:latest"));
        assert!(reference_matches("busy*", "busybox:1.36"));
        assert!(!reference_matches("busybox:1.35", "busybox:1.36"));
        assert!(reference_matches(
            "127.0.0.1:5000/*",
            "127.0.0.1:5000/hello-world:latest"
        ));
        assert!(!reference_matches("*", "127.0.0.1:5000/hello-world:latest"));
        assert!(!reference_matches("hello", "hello-world:latest"));
        assert!(reference_matches("hello-world", "hello-world@sha256:ad3e"));
    }
}
