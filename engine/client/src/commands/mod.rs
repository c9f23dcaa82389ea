//! The `berth` commands, one module per area; each returns the process exit code.

pub mod attach;
pub mod containers;
pub mod copy;
pub mod exec;
pub mod images;
pub mod lifecycle;
pub mod progress;
pub mod prune;
pub mod run;
pub mod stats;
pub mod stdio;
pub mod system;
pub mod table;
pub mod volumes;

/// `--label KEY=VALUE` arguments (a bare `KEY` gets an empty value), as docker reads them.
pub fn labels(arguments: &[String]) -> std::collections::BTreeMap<String, String> {
    arguments
        .iter()
        .map(|label| match label.split_once('=') {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => (label.clone(), String::new()),
        })
        .collect()
}
