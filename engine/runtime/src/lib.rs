//! berth's OCI runtime library: creates, starts, signals and deletes containers described by an
//! OCI runtime-spec `config.json`. `berthd` and `cargo xtask binary` call it; the
//! `berth-runtime` binary is a thin runc-compatible CLI over it.
