//! daemon.json: reading the file, dockerd's unknown-key and flag-conflict errors, and typed
//! values with an error that names the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

/// A `default-ulimits` entry as written in daemon.json.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FileUlimit {
    /// Limit name ("nofile").
    #[serde(default)]
    pub name: String,
    /// Hard limit.
    pub hard: i64,
    /// Soft limit.
    pub soft: i64,
}

/// Every key daemon.json may hold, with dockerd's names. Absent keys stay `None`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct FileConfig {
    pub hosts: Option<Vec<String>>,
    pub registry_mirrors: Option<Vec<String>>,
    pub insecure_registries: Option<Vec<String>>,
    pub max_concurrent_downloads: Option<u32>,
    pub max_concurrent_uploads: Option<u32>,
    pub max_download_attempts: Option<u32>,
    pub data_root: Option<PathBuf>,
    pub exec_root: Option<PathBuf>,
    pub pidfile: Option<PathBuf>,
    pub group: Option<String>,
    pub debug: Option<bool>,
    pub log_level: Option<String>,
    pub log_driver: Option<String>,
    pub log_opts: Option<BTreeMap<String, String>>,
    pub storage_driver: Option<String>,
    pub default_ulimits: Option<BTreeMap<String, FileUlimit>>,
    pub exec_opts: Option<Vec<String>>,
    pub shutdown_timeout: Option<u32>,
    pub labels: Option<Vec<String>>,
    pub tls: Option<bool>,
    pub tlsverify: Option<bool>,
    pub tlscacert: Option<PathBuf>,
    pub tlscert: Option<PathBuf>,
    pub tlskey: Option<PathBuf>,
}

/// The keys of [`FileConfig`], for the unknown-key check.
const KNOWN_KEYS: &[&str] = &[
    "hosts",
    "registry-mirrors",
    "insecure-registries",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "data-root",
    "exec-root",
    "pidfile",
    "group",
    "debug",
    "log-level",
    "log-driver",
    "log-opts",
    "storage-driver",
    "default-ulimits",
    "exec-opts",
    "shutdown-timeout",
    "labels",
    "tls",
    "tlsverify",
    "tlscacert",
    "tlscert",
    "tlskey",
];

/// Reads and checks daemon.json. `set_flags` are the keys given on the command line (with
/// their printed values); any of them also in the file is dockerd's conflict error.
///
/// Errors are the complete line berthd prints, prefixed like dockerd's
/// "unable to configure the berth daemon with file PATH: ".
pub fn read(path: &Path, set_flags: &[(&'static str, String)]) -> Result<FileConfig, String> {
    let prefix = format!(
        "unable to configure the berth daemon with file {}: ",
        path.display()
    );
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("{prefix}open {}: {}", path.display(), io_text(&err)))?;
    parse(&text, set_flags).map_err(|err| format!("{prefix}{err}"))
}

/// The text of an I/O error without Rust's " (os error N)" suffix.
fn io_text(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => err.to_string(),
    }
}

/// Parses daemon.json text (see [`read`]); errors lack the file prefix.
pub fn parse(text: &str, set_flags: &[(&'static str, String)]) -> Result<FileConfig, String> {
    // A UTF-8 byte-order mark (Windows editors write one) is dropped, as dockerd does.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    let object: Map<String, Value> =
        serde_json::from_str(text).map_err(|err| format!("invalid JSON: {err}"))?;
    let mut unknown: Vec<&str> = object
        .keys()
        .map(String::as_str)
        .filter(|key| !KNOWN_KEYS.contains(key))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        return Err(format!(
            "the following directives don't match any configuration option: {}",
            unknown.join(", ")
        ));
    }
    let conflicts: Vec<String> = set_flags
        .iter()
        .filter_map(|(key, flag_value)| {
            object.get(*key).map(|file_value| {
                format!(
                    "{key}: (from flag: {flag_value}, from file: {})",
                    go_format(file_value)
                )
            })
        })
        .collect();
    if !conflicts.is_empty() {
        return Err(format!(
            "the following directives are specified both as a flag and in the configuration file: {}",
            conflicts.join(", ")
        ));
    }
    // Type-check one key at a time so the error can name it.
    for (key, value) in &object {
        let single = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
        serde_json::from_value::<FileConfig>(single)
            .map_err(|err| format!("invalid value for \"{key}\": {err}"))?;
    }
    serde_json::from_value(Value::Object(object)).map_err(|err| err.to_string())
}

/// Prints a JSON value the way Go's `%v` prints what encoding/json decoded.
fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(key, value)| format!("{key}:{}", go_format(value)))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_use_dockerds_words() {
        let err = parse(r#"{"foo": 1, "debug": true, "bar": 2}"#, &[]).unwrap_err();
        assert_eq!(
            err,
            "the following directives don't match any configuration option: bar, foo"
        );
    }

    #[test]
    fn flag_and_file_conflict_uses_dockerds_words() {
        let flags = [("hosts", "[fd://]".to_owned())];
        let err = parse(r#"{"hosts": ["unix:///tmp/x.sock"]}"#, &flags).unwrap_err();
        assert_eq!(
            err,
            "the following directives are specified both as a flag and in the configuration file: \
             hosts: (from flag: [fd://], from file: [unix:///tmp/x.sock])"
        );
        let flags = [("max-concurrent-downloads", "4".to_owned())];
        let err = parse(r#"{"max-concurrent-downloads": 3}"#, &flags).unwrap_err();
        assert!(err.ends_with("max-concurrent-downloads: (from flag: 4, from file: 3)"));
    }

    #[test]
    fn type_errors_name_the_key() {
        let err = parse(r#"{"debug": "yes"}"#, &[]).unwrap_err();
        assert!(
            err.starts_with("invalid value for \"debug\": invalid type"),
            "{err}"
        );
        let err = parse(r#"{"default-ulimits": {"nofile": {"Hard": "x"}}}"#, &[]).unwrap_err();
        assert!(
            err.starts_with("invalid value for \"default-ulimits\""),
            "{err}"
        );
    }

    #[test]
    fn reads_every_key() {
        let config = parse(
            r#"{"registry-mirrors": ["http://127.0.0.1:5000"], "storage-driver": "overlay2",
               "log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"},
               "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 64000}},
               "exec-opts": ["native.cgroupdriver=cgroupfs"], "shutdown-timeout": 5,
               "labels": ["a=b"], "debug": false, "max-download-attempts": 2}"#,
            &[],
        )
        .unwrap();
        assert_eq!(
            config.registry_mirrors,
            Some(vec!["http://127.0.0.1:5000".to_owned()])
        );
        assert_eq!(config.default_ulimits.unwrap()["nofile"].hard, 64000);
        assert_eq!(config.shutdown_timeout, Some(5));
        assert_eq!(parse("", &[]).unwrap(), FileConfig::default());
        assert!(parse("{bad", &[]).unwrap_err().starts_with("invalid JSON"));
    }
}
