//! The build section (issue 3): `cargo xtask binary` when nothing changed, and from an empty
//! target cache against a plain host `cargo build --release` of the same binaries (image
//! present, one run each: a cold build cannot be repeated warm), and the stripped sizes of the
//! static binaries it puts in bundles/.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use super::{measure_interleaved, run_once, run_under_time, Measured, Row, Sample};
use crate::binary::sources::PACKAGES;
use crate::util::project_root;

const NOOP_TARGET_SECS: f64 = 3.0;
const COLD_TARGET_RATIO: f64 = 1.15;
/// (binary, stripped size target in MiB), from issue 3.
const SIZE_TARGETS_MIB: [(&str, f64); 3] =
    [("berth", 6.0), ("berthd", 15.0), ("berth-runtime", 4.0)];

pub fn rows(reps: usize) -> Result<Vec<Row>> {
    let xtask = crate::util::xtask_exe();
    let binary = |extra: &[&std::ffi::OsStr]| {
        let mut command = Command::new(&xtask);
        command.arg("binary").args(extra).env("CI", "1");
        command
    };
    // Bring bundles/ up to date, then time the no-op.
    run_once(&mut binary(&[])).context("cargo xtask binary")?;
    let noop = measure_interleaved(
        &[Measured::new("xtask binary", || binary(&[]))],
        reps.clamp(1, 5),
    )?;
    let noop = noop.into_iter().next().context("no no-op sample")?;
    let mut rows = vec![Row {
        name: "build: `cargo xtask binary`, nothing changed".to_owned(),
        met: Some(noop.median().as_secs_f64() <= NOOP_TARGET_SECS),
        ours: noop,
        anchor: None,
        target: format!("≤ {NOOP_TARGET_SECS} s"),
    }];

    let scratch = tempfile::Builder::new()
        .prefix("bench-build-")
        .tempdir_in("/var/tmp")
        .context("a scratch dir for the cold builds")?;
    let dev_cache = scratch.path().join("dev-cache");
    let container = once(
        "xtask binary, empty target cache",
        &mut binary(&[std::ffi::OsStr::new("--dev-cache"), dev_cache.as_os_str()]),
    )?;
    let mut host_build = Command::new("cargo");
    host_build
        .args(["build", "--release", "--locked"])
        .args(PACKAGES.iter().flat_map(|package| ["-p", package]))
        .env("CARGO_TARGET_DIR", scratch.path().join("host-target"))
        .current_dir(project_root());
    let host = once("host cargo build --release", &mut host_build)?;
    rows.push(Row {
        name: "build: `cargo xtask binary` from an empty target cache, image present".to_owned(),
        met: Some(super::report::ratio(&container, &host) <= COLD_TARGET_RATIO),
        ours: container,
        anchor: Some(host.clone()),
        target: format!("≤ {COLD_TARGET_RATIO}× {}", host.label),
    });

    let binary_dir = project_root().join("bundles/latest/binary");
    for (name, target_mib) in SIZE_TARGETS_MIB {
        let mib = size_mib(&binary_dir.join(name))?;
        rows.push(Row {
            name: format!("build: {name} stripped static size"),
            ours: Sample {
                label: format!("{mib:.2} MiB"),
                wall: Vec::new(),
                max_rss_kib: 0,
            },
            anchor: None,
            target: format!("≤ {target_mib} MiB"),
            met: Some(mib <= target_mib),
        });
    }
    Ok(rows)
}

/// One timed run of a cold build.
fn once(label: &str, command: &mut Command) -> Result<Sample> {
    eprintln!("bench: {label} (one cold run)");
    let (wall, max_rss_kib) = run_under_time(command).with_context(|| label.to_owned())?;
    Ok(Sample {
        label: label.to_owned(),
        wall: vec![wall],
        max_rss_kib,
    })
}

fn size_mib(path: &Path) -> Result<f64> {
    let bytes = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    Ok(bytes as f64 / 1024.0 / 1024.0)
}
