//! Which containers a list or a prune takes: Docker's container filters (`docker ps -f`,
//! `docker container prune --filter`) checked against container records.

use std::time::SystemTime;

use berth_api::filters::{FilterError, Filters};
use berth_api::time::parse_rfc3339;
use regex::Regex;

use super::{Containers, Record};

/// The filters `GET /containers/json` understands.
pub const LIST_FILTERS: &[&str] = &[
    "ancestor", "before", "exited", "id", "label", "label!", "name", "since", "status",
];

/// The filters `POST /containers/prune` understands.
pub const PRUNE_FILTERS: &[&str] = &["label", "label!", "until"];

/// Every status docker's `status` filter accepts.
const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// Filters resolved once (names compiled, containers and images looked up), then matched
/// against each record.
pub struct Selection {
    filters: Filters,
    /// Stopped containers too: `all=1`, or implied by a `status` filter as in dockerd.
    all: bool,
    names: Vec<Regex>,
    exit_codes: Vec<i64>,
    /// Image ids that `ancestor` names.
    ancestors: Vec<String>,
    /// Creation times of the containers that `before` and `since` name.
    before: Option<SystemTime>,
    since: Option<SystemTime>,
    until: Option<SystemTime>,
}

impl Selection {
    /// Checks `filters` against `known` and resolves what they name. `resolve_image` turns an
    /// image name into its id, if the image is there.
    pub fn new(
        filters: Filters,
        known: &[&str],
        all: bool,
        containers: &Containers,
        resolve_image: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, FilterError> {
        filters.only(known)?;
        let bad = |name: &str, value: &str| FilterError::BadValue {
            name: name.to_owned(),
            value: value.to_owned(),
        };
        if let Some(status) = filters.values("status").find(|s| !STATUSES.contains(s)) {
            return Err(bad("status", status));
        }
        let names = filters
            .values("name")
            .map(|pattern| Regex::new(pattern).map_err(|_| bad("name", pattern)))
            .collect::<Result<_, _>>()?;
        let exit_codes = filters
            .values("exited")
            .map(|code| code.parse().map_err(|_| bad("exited", code)))
            .collect::<Result<_, _>>()?;
        let ancestors = filters
            .values("ancestor")
            .map(|image| resolve_image(image).unwrap_or_else(|| image.to_owned()))
            .collect();
        let created_of = |name: &str| {
            containers
                .find(name)
                .and_then(|entry| parse_rfc3339(&entry.record().created))
        };
        let before = filters.resolve_last("before", created_of)?;
        let since = filters.resolve_last("since", created_of)?;
        let until = filters.until(SystemTime::now())?;
        Ok(Self {
            all: all || filters.contains("status"),
            filters,
            names,
            exit_codes,
            ancestors,
            before,
            since,
            until,
        })
    }

    /// Whether the list or prune takes `record`.
    pub fn matches(&self, record: &Record) -> bool {
        let status = record.state.shown_status();
        let filters = &self.filters;
        (self.all || record.state.running())
            && filters.any_or_absent("status", |wanted| wanted == status)
            && filters.any_or_absent("id", |prefix| record.id.starts_with(prefix))
            && (self.names.is_empty()
                || self
                    .names
                    .iter()
                    .any(|name| name.is_match(&format!("/{}", record.name))))
            && (self.exit_codes.is_empty()
                || status == "exited" && self.exit_codes.contains(&record.state.exit_code))
            && (self.ancestors.is_empty()
                || self
                    .ancestors
                    .iter()
                    .any(|image| *image == record.image_id || *image == record.image_name))
            && self.created_within(record)
            && filters.labels_match(&record.config.labels)
    }

    /// `before`, `since` and `until`, against the record's creation time.
    fn created_within(&self, record: &Record) -> bool {
        let limits = [self.before, self.since, self.until];
        if limits.iter().all(Option::is_none) {
            return true;
        }
        let Some(created) = parse_rfc3339(&record.created) else {
            return false;
        };
        self.before.is_none_or(|time| created < time)
            && self.since.is_none_or(|time| created > time)
            && self.until.is_none_or(|time| created < time)
    }
}
