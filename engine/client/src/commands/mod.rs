//! The `berth` commands, one module per area; each returns the process exit code.

pub mod lifecycle;
pub mod system;
