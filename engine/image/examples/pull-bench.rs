//! Pulls one image into a fresh store and prints what it cost, as JSON, for
//! `cargo xtask bench`:
//!
//! ```text
//! pull-bench <data-root> <reference> [overlay2|vfs]
//! {"image_id":…,"wall_seconds":…,"downloaded_bytes":…,"extracted_bytes":…,
//!  "extract_seconds":…,"extract_mb_per_s":…,"layers":…}
//! ```
//!
//! The data-root must not be in use; it is created if missing. Loopback registries are
//! reached over http (they are insecure by default, as in dockerd).

use std::time::Instant;

use berth_image::{pull_with_report, PullOptions, Reference, RegistryConfig, StorageDriver, Store};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (root, reference) = match args.as_slice() {
        [root, reference, ..] => (root, reference),
        _ => {
            eprintln!("usage: pull-bench <data-root> <reference> [overlay2|vfs]");
            std::process::exit(2);
        }
    };
    let driver = match args.get(2).map(|d| StorageDriver::parse(d)).transpose() {
        Ok(d) => d.unwrap_or_default(),
        Err(e) => fail(e),
    };
    let reference = Reference::parse(reference).unwrap_or_else(|e| fail(e));
    let store = Store::open(root, driver).unwrap_or_else(|e| fail(e));
    let (progress, _events) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    let report = pull_with_report(
        &store,
        &RegistryConfig::default(),
        &reference,
        &PullOptions::default(),
        &progress,
    )
    .await
    .unwrap_or_else(|e| fail(e));
    let wall = started.elapsed().as_secs_f64();
    let extract = report.extract_time.as_secs_f64();
    let layers = store
        .image(&report.image_id)
        .map(|r| r.layers.len())
        .unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({
            "image_id": report.image_id.to_string(),
            "wall_seconds": wall,
            "downloaded_bytes": report.downloaded_bytes,
            "extracted_bytes": report.extracted_bytes,
            "extract_seconds": extract,
            "extract_mb_per_s": if extract > 0.0 { report.extracted_bytes as f64 / 1e6 / extract } else { 0.0 },
            "layers": layers,
        })
    );
}

fn fail(e: berth_image::Error) -> ! {
    eprintln!("pull-bench: {e}");
    std::process::exit(1);
}
