//! The `berth` commands, one module per area; each returns the process exit code.

pub mod attach;
pub mod containers;
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
