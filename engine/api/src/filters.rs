//! Docker's `filters` query parameter (`docker ps -f`, `docker images -f`, the prune
//! endpoints): a JSON object from filter name to values. It accepts the current form
//! `{"status":["exited"]}` and the pre-1.24 form `{"status":{"exited":true}}`. It also holds
//! the matching rules that several endpoints share: labels and `until` times.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use thiserror::Error;

/// Parsed filters: each name with its set of values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, BTreeSet<String>>);

/// A `filters` value the daemon refuses: the message names the filter or the value.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("invalid filters parameter: {0}")]
    Json(String),
    #[error("invalid filter '{0}'")]
    UnknownName(String),
    #[error("invalid filter '{name}={value}'")]
    BadValue { name: String, value: String },
}

impl Filters {
    /// Parses the `filters` query value; absent or empty means no filters.
    pub fn parse(text: Option<&str>) -> Result<Self, FilterError> {
        let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
            return Ok(Self::default());
        };
        let object: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|err| FilterError::Json(err.to_string()))?;
        let mut filters = Self::default();
        for (name, value) in object {
            let values: Vec<String> = match value {
                serde_json::Value::Array(items) => items
                    .into_iter()
                    .map(|item| match item {
                        serde_json::Value::String(text) => Ok(text),
                        other => Err(FilterError::Json(format!(
                            "filter '{name}': expected strings, got {other}"
                        ))),
                    })
                    .collect::<Result<_, _>>()?,
                serde_json::Value::Object(map) => map
                    .into_iter()
                    .filter(|(_, enabled)| enabled.as_bool() == Some(true))
                    .map(|(key, _)| key)
                    .collect(),
                other => {
                    return Err(FilterError::Json(format!(
                        "filter '{name}': expected a list of strings, got {other}"
                    )))
                }
            };
            filters.0.entry(name).or_default().extend(values);
        }
        Ok(filters)
    }

    /// Adds one `name=value` as given to `-f`/`--filter`.
    pub fn add(&mut self, name: &str, value: &str) {
        self.0
            .entry(name.to_owned())
            .or_default()
            .insert(value.to_owned());
    }

    /// Parses a `-f`/`--filter` argument, `name=value`.
    pub fn add_argument(&mut self, argument: &str) -> Result<(), FilterError> {
        let (name, value) = argument.split_once('=').ok_or_else(|| {
            FilterError::Json(format!(
                "bad format of filter (expected name=value): {argument}"
            ))
        })?;
        self.add(name.trim().to_lowercase().as_str(), value);
        Ok(())
    }

    /// The query value (`{"name":["value",...]}`), or `None` without filters.
    pub fn to_query(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| serde_json::to_string(&self.0).unwrap_or_default())
    }

    /// Refuses any filter name outside `known`, as dockerd does.
    pub fn only(&self, known: &[&str]) -> Result<(), FilterError> {
        match self.0.keys().find(|name| !known.contains(&name.as_str())) {
            Some(name) => Err(FilterError::UnknownName(name.clone())),
            None => Ok(()),
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The values given for `name` (none when it is absent).
    pub fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.get(name).into_iter().flatten().map(String::as_str)
    }

    /// Whether `name` is absent or one of its values satisfies `matches`.
    pub fn any_or_absent(&self, name: &str, matches: impl Fn(&str) -> bool) -> bool {
        !self.contains(name) || self.values(name).any(matches)
    }

    /// The one boolean value of `name` (`true`/`1`, `false`/`0`), if given.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, FilterError> {
        let mut result = None;
        for value in self.values(name) {
            let parsed = match value.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(bad_value(name, value)),
            };
            if result.is_some_and(|earlier| earlier != parsed) {
                return Err(bad_value(name, value));
            }
            result = Some(parsed);
        }
        Ok(result)
    }

    /// The last value of `name` turned into what it names (`before` and `since` name a
    /// container or an image); a value `resolve` cannot turn is refused.
    pub fn resolve_last<T>(
        &self,
        name: &str,
        resolve: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, FilterError> {
        self.values(name)
            .last()
            .map(|value| resolve(value).ok_or_else(|| bad_value(name, value)))
            .transpose()
    }

    /// `label=KEY` / `label=KEY=VALUE` (every one must hold) and `label!=...` (none may).
    pub fn labels_match(&self, labels: &BTreeMap<String, String>) -> bool {
        let holds = |wanted: &str| match wanted.split_once('=') {
            Some((key, value)) => labels.get(key).is_some_and(|have| have == value),
            None => labels.contains_key(wanted),
        };
        self.values("label").all(holds) && !self.values("label!").any(holds)
    }

    /// The latest creation time `until` allows: a Unix timestamp (`1700000000`, with optional
    /// fraction), an RFC 3339 time, or a duration before `now` (`10m`, `1h30m`, `24h`).
    pub fn until(&self, now: SystemTime) -> Result<Option<SystemTime>, FilterError> {
        let mut limit: Option<SystemTime> = None;
        for value in self.values("until") {
            let time = parse_time(value, now).ok_or_else(|| bad_value("until", value))?;
            limit = Some(limit.map_or(time, |earlier| earlier.min(time)));
        }
        Ok(limit)
    }
}

/// A shell-style pattern as Go's `path.Match` reads it: `*` is any run of characters but `/`,
/// `?` one character but `/`, and everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer match with one backtrack point per `*`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some('?') if text[t] != '/' => {
                p += 1;
                t += 1;
            }
            Some(&c) if c != '*' && c != '?' && c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) if text[star_t] != '/' => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                _ => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

fn bad_value(name: &str, value: &str) -> FilterError {
    FilterError::BadValue {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// A time as docker's `until` filter and `logs --since/--until` take it: a duration before
/// `now` (`10m`, `1h30m`), an RFC 3339 time, or Unix seconds with an optional fraction.
pub fn parse_time(text: &str, now: SystemTime) -> Option<SystemTime> {
    if let Some(duration) = parse_go_duration(text) {
        return now.checked_sub(duration);
    }
    if let Some(time) = crate::time::parse_rfc3339(text) {
        return Some(time);
    }
    let seconds: f64 = text.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(seconds))
}

/// A Go duration made of `h`, `m`, `s` and `ms` parts, such as `1h30m` or `90s`.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&end| end > 0)?;
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += Duration::try_from_secs_f64(number * seconds_per_unit).ok()?;
        rest = &rest[unit_end..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_json_forms_parse() {
        let current = Filters::parse(Some(r#"{"status":["exited","created"]}"#)).unwrap();
        let legacy = Filters::parse(Some(r#"{"status":{"exited":true,"created":true}}"#)).unwrap();
        assert_eq!(current, legacy);
        assert_eq!(
            current.values("status").collect::<Vec<_>>(),
            ["created", "exited"]
        );
        assert_eq!(Filters::parse(None).unwrap(), Filters::default());
        assert_eq!(Filters::parse(Some("")).unwrap(), Filters::default());
    }

    #[test]
    fn bad_filters_name_the_problem() {
        assert!(matches!(
            Filters::parse(Some("{")),
            Err(FilterError::Json(_))
        ));
        assert!(matches!(
            Filters::parse(Some(r#"{"status":[1]}"#)),
            Err(FilterError::Json(message)) if message.contains("status")
        ));
        let filters = Filters::parse(Some(r#"{"colour":["red"]}"#)).unwrap();
        assert_eq!(
            filters.only(&["status"]).unwrap_err().to_string(),
            "invalid filter 'colour'"
        );
    }

    #[test]
    fn arguments_round_trip_through_the_query() {
        let mut filters = Filters::default();
        filters.add_argument("dangling=true").unwrap();
        filters.add_argument("label=a=b").unwrap();
        assert!(filters.add_argument("dangling").is_err());
        let query = filters.to_query().unwrap();
        assert_eq!(Filters::parse(Some(&query)).unwrap(), filters);
        assert_eq!(filters.boolean("dangling"), Ok(Some(true)));
        assert_eq!(Filters::default().to_query(), None);
    }

    #[test]
    fn labels_match_keys_values_and_negations() {
        let labels: BTreeMap<String, String> = [("tier".to_owned(), "web".to_owned())]
            .into_iter()
            .collect();
        let filters = |args: &[&str]| {
            let mut filters = Filters::default();
            for arg in args {
                filters.add_argument(arg).unwrap();
            }
            filters
        };
        assert!(filters(&[]).labels_match(&labels));
        assert!(filters(&["label=tier"]).labels_match(&labels));
        assert!(filters(&["label=tier=web"]).labels_match(&labels));
        assert!(!filters(&["label=tier=db"]).labels_match(&labels));
        assert!(!filters(&["label=tier", "label=owner"]).labels_match(&labels));
        assert!(!filters(&["label!=tier"]).labels_match(&labels));
        assert!(filters(&["label!=tier=db"]).labels_match(&labels));
    }

    #[test]
    fn until_takes_durations_timestamps_and_rfc3339() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let until = |value: &str| {
            let mut filters = Filters::default();
            filters.add("until", value);
            filters.until(now)
        };
        assert_eq!(until("1h30m"), Ok(Some(now - Duration::from_secs(5400))));
        assert_eq!(
            until("500000"),
            Ok(Some(SystemTime::UNIX_EPOCH + Duration::from_secs(500_000)))
        );
        assert_eq!(
            until("1970-01-02T00:00:00Z"),
            Ok(Some(SystemTime::UNIX_EPOCH + Duration::from_secs(86_400)))
        );
        assert!(matches!(
            until("yesterday"),
            Err(FilterError::BadValue { .. })
        ));
        assert!(matches!(until("5d"), Err(FilterError::BadValue { .. })));
        assert_eq!(Filters::default().until(now), Ok(None));
    }

    #[test]
    fn globs_stop_at_slashes() {
        assert!(glob_match("busy*", "busybox"));
        assert!(glob_match("b?sybox", "busybox"));
        assert!(glob_match("*", "busybox"));
        assert!(glob_match("a*b*c", "a-b-b-c"));
        assert!(!glob_match("*", "library/busybox"));
        assert!(glob_match("*/*", "library/busybox"));
        assert!(!glob_match("busy", "busybox"));
        assert!(!glob_match("b?", "b/"));
    }

    #[test]
    fn booleans_refuse_junk_and_contradictions() {
        let mut filters = Filters::default();
        filters.add("dangling", "maybe");
        assert!(filters.boolean("dangling").is_err());
        let mut filters = Filters::default();
        filters.add("dangling", "true");
        filters.add("dangling", "false");
        assert!(filters.boolean("dangling").is_err());
    }
}
