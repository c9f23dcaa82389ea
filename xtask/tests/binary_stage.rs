//! The `cargo xtask binary` and `cargo xtask verify-reproducible` stages, run for real as root:
//! the build image, the build container (berth_runtime), the static and empty-rootfs checks and
//! the bundles/ layout. These build the engine, so they take minutes on a cold cache.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

const BINARIES: [&str; 3] = ["berth", "berthd", "berth-runtime"];

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn xtask(args: &[&str]) -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "these tests run as root: use `cargo xtask test`"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("CI", "1")
        .output()
        .expect("run xtask");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "xtask {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `cargo xtask binary` writes bundles/<version>/binary with checksums, build-info.json and
/// bundles/latest; the stage itself fails unless every binary is static (no PT_INTERP, no
/// DT_NEEDED) and prints its version in a container whose rootfs holds only that binary. The
/// runtime stays within its 4 MiB size budget.
#[test]
#[ignore = "compiles the engine in the build container (minutes): run by `cargo xtask test` in its 'build container' stage"]
fn binary_stage_produces_the_bundles_layout() {
    let stdout = xtask(&["binary"]);
    let binary_dir = PathBuf::from(stdout.trim());
    let bundles = project_root().join("bundles");
    let version_dir = binary_dir.parent().expect("bundles/<version>");
    let version = version_dir
        .file_name()
        .expect("version")
        .to_string_lossy()
        .into_owned();
    assert_eq!(version_dir.parent(), Some(bundles.as_path()));
    assert_eq!(
        std::fs::read_link(bundles.join("latest")).expect("latest"),
        Path::new(&version)
    );

    let info: serde_json::Value = serde_json::from_slice(
        &std::fs::read(version_dir.join("build-info.json")).expect("build-info.json"),
    )
    .expect("build-info.json is JSON");
    assert_eq!(info["version"], version.as_str());
    assert_eq!(info["target"], "x86_64-unknown-linux-gnu");
    assert!(
        info["build_image"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{info}"
    );
    assert!(
        info["rustc"]
            .as_str()
            .is_some_and(|r| r.starts_with("rustc 1.")),
        "{info}"
    );
    assert!(
        info["source_date_epoch"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000),
        "{info}"
    );
    assert!(
        info["commit"].as_str().is_some_and(|c| c.len() >= 12),
        "{info}"
    );

    for name in BINARIES {
        let bytes = std::fs::read(binary_dir.join(name)).expect("binary");
        let sum = std::fs::read_to_string(binary_dir.join(format!("{name}.sha256"))).expect("sum");
        assert_eq!(
            sum,
            format!("{}  {name}\n", hex::encode(Sha256::digest(&bytes)))
        );
        assert_eq!(&bytes[..4], b"\x7fELF", "{name} is an ELF file");
        for (file, mode) in [(name.to_owned(), 0o755), (format!("{name}.sha256"), 0o644)] {
            let meta = std::fs::metadata(binary_dir.join(&file)).expect("stat");
            assert_eq!(
                std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
                mode,
                "{file}"
            );
        }
    }

    // Issue 2's budget for the stripped static runtime (it crept past it once unnoticed).
    let runtime_size = std::fs::metadata(binary_dir.join("berth-runtime"))
        .expect("stat berth-runtime")
        .len();
    assert!(
        runtime_size <= 4 << 20,
        "berth-runtime is {runtime_size} bytes, over its 4 MiB budget"
    );

    // Nothing changed: the second run is a no-op build with identical output.
    let again = xtask(&["binary"]);
    assert_eq!(again, stdout);
}

/// Ctrl-C (SIGINT) in the middle of a compile kills the build container: xtask exits promptly
/// with one "interrupted" line, and no compiler process or container state is left behind.
#[test]
#[ignore = "compiles the engine in the build container (minutes): run by `cargo xtask test` in its 'build container' stage"]
fn interrupting_a_build_kills_the_build_container() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    assert_eq!(unsafe { libc::geteuid() }, 0, "run as root");
    // A fresh dev cache, so there is a compile to interrupt.
    let dev_cache = tempfile::Builder::new()
        .prefix("interrupt-test-")
        .tempdir_in("/var/tmp")
        .expect("temp dev cache");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("binary")
        .arg("--dev-cache")
        .arg(dev_cache.path())
        .env("CI", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn xtask binary");
    let pid = child.id();
    let log = dev_cache.path().join(format!("logs/cargo-build-{pid}.log"));
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&log).is_ok_and(|text| text.contains("Compiling")) {
        assert!(
            started.elapsed().as_secs() < 600,
            "the build never started compiling"
        );
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "xtask exited early"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // SAFETY: kill has no memory preconditions; pid is our child.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGINT) }, 0);

    let interrupted = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            interrupted.elapsed().as_secs() < 30,
            "xtask still runs 30 s after SIGINT"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");

    // No cargo of that container survives, and the runtime kept no state for it.
    let marker = "source.vendored-sources.directory";
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            !cmdline.contains(marker),
            "left running: {} {cmdline}",
            entry.path().display()
        );
    }
    let prefix = format!("build-{pid}-");
    for entry in std::fs::read_dir("/run/berth-build")
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(&prefix), "runtime state left: {name}");
    }
}
