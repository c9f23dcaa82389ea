//! `cargo xtask verify-reproducible` for real, as root: HEAD built in the build container from
//! two checkout paths (the project with the persistent target cache, and a fresh clone from an
//! empty one) must give byte-identical berth, berthd and berth-runtime. One cold engine build:
//! minutes.

use std::process::Command;

#[test]
#[ignore = "compiles the engine in the build container (minutes): run by `cargo xtask test` in its 'build container' stage"]
fn builds_from_two_checkout_paths_are_byte_identical() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test runs as root: use `cargo xtask test`"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("verify-reproducible")
        .env("CI", "1")
        .output()
        .expect("run xtask verify-reproducible");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "verify-reproducible failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("all 3 binaries are byte-identical"),
        "{stdout}"
    );
}
