//! Image benchmarks (issue 5): pulling a ~100 MB image of five incompressible layers from a
//! local docker-registry, with berth-image (its `pull-bench` example: a fresh store each run)
//! against `docker pull` by a private dockerd (after `docker rmi`), interleaved in one run.
//!
//! The image is built here with umoci (one `repack` per layer, each layer a 16 MiB file plus
//! 256 files of 16 KiB from /dev/urandom) and pushed with skopeo. The extraction throughput in
//! the row name is the median of what pull-bench reported over the timed runs. The RSS shown
//! for docker is the `docker pull` client's; the daemons' is in the daemon section.

use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use super::{measure_interleaved, Binaries, Measured, Row, Sample};
use crate::e2e::docker::PrivateDocker;
use crate::e2e::registry::HelloRegistry;

const LAYERS: usize = 5;
const BIG_FILE_BYTES: usize = 16 << 20;
const SMALL_FILES: usize = 256;
const SMALL_FILE_BYTES: usize = 16 << 10;
const REPOSITORY: &str = "bench/layers";

pub fn rows(sh: &Shell, binaries: &Binaries, reps: usize) -> Result<Vec<Row>> {
    for tool in ["docker-registry", "skopeo", "umoci", "dockerd", "docker"] {
        crate::test::which(tool).with_context(|| {
            format!("{tool} is not installed: run cargo xtask test --tools-only")
        })?;
    }
    let work = tempfile::tempdir().context("creating the image benchmark dir")?;
    let registry = HelloRegistry::start(sh)?;
    let host_port = registry
        .mirror_url()
        .trim_start_matches("http://")
        .to_owned();
    let reference = format!("{host_port}/{REPOSITORY}:latest");
    println!(
        "bench: building a {LAYERS}-layer image of ~{} MB and pushing it to {reference}",
        LAYERS * (BIG_FILE_BYTES + SMALL_FILES * SMALL_FILE_BYTES) / 1_000_000
    );
    push_layered_image(sh, work.path(), &reference)?;

    let cache = super::bench_cache_dir()?;
    let docker = PrivateDocker::start(sh, &cache, true)?;
    let _cleanup = RemoveImage {
        docker: &docker,
        reference: &reference,
    };

    let run = Cell::new(0usize);
    let data_root = |index: usize| work.path().join(format!("store-{index}"));
    let report = |index: usize| work.path().join(format!("pull-{index}.json"));
    let commands = [
        Measured::new("berth-image", || {
            let index = run.get();
            run.set(index + 1);
            if index > 0 {
                // The previous run's store: each pull starts empty, as docker's after rmi.
                let _ = std::fs::remove_dir_all(data_root(index - 1));
            }
            // sh replaces itself with pull-bench (so wait4 sees pull-bench) after pointing
            // stdout at the JSON report.
            let mut command = Command::new("sh");
            command
                .args(["-c", "exec \"$0\" \"$@\" > \"$BENCH_REPORT\""])
                .arg(&binaries.pull_bench)
                .arg(data_root(index))
                .arg(&reference)
                .env("BENCH_REPORT", report(index));
            command
        }),
        Measured::new("docker pull", || {
            remove_docker_image(&docker, &reference);
            let mut command: Command = docker.docker().into();
            command.args(["pull", "--quiet", &reference]);
            command
        }),
    ];
    let samples = measure_interleaved(&commands, reps)?;
    let [ours, theirs] =
        <[Sample; 2]>::try_from(samples).map_err(|_| anyhow::anyhow!("expected two samples"))?;
    let _ = std::fs::remove_dir_all(data_root(run.get().saturating_sub(1)));

    // The warm-up (run 0) is not a timed run.
    let reports = (1..run.get())
        .map(|index| PullReport::read(&report(index)))
        .collect::<Result<Vec<_>>>()?;
    let mut throughputs: Vec<f64> = reports.iter().map(|r| r.extract_mb_per_s).collect();
    throughputs.sort_by(f64::total_cmp);
    let median_throughput = throughputs
        .get(throughputs.len() / 2)
        .copied()
        .context("no pull report")?;
    let first = reports.first().context("no pull report")?;
    let met = super::report::ratio(&ours, &theirs) <= 1.0;
    Ok(vec![Row {
        name: format!(
            "image: pull {:.0} MB in {} layers from a local registry (extraction {median_throughput:.0} MB/s)",
            first.extracted_bytes as f64 / 1e6,
            first.layers
        ),
        target: format!("≤ 1.0× {}", theirs.label),
        ours,
        anchor: Some(theirs),
        met: Some(met),
    }])
}

/// What one pull-bench run printed.
struct PullReport {
    extract_mb_per_s: f64,
    extracted_bytes: u64,
    layers: u64,
}

impl PullReport {
    fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let json: serde_json::Value = serde_json::from_str(text.trim())
            .with_context(|| format!("{}: not pull-bench's JSON: {text}", path.display()))?;
        let number = |field: &str| {
            json.get(field)
                .and_then(serde_json::Value::as_f64)
                .with_context(|| format!("{}: no number '{field}' in {text}", path.display()))
        };
        let report = PullReport {
            extract_mb_per_s: number("extract_mb_per_s")?,
            extracted_bytes: number("extracted_bytes")? as u64,
            layers: number("layers")? as u64,
        };
        if report.layers != LAYERS as u64 {
            bail!(
                "{}: pull-bench stored {} layers, the image has {LAYERS}",
                path.display(),
                report.layers
            );
        }
        Ok(report)
    }
}

/// `docker rmi` of the benchmark image, whose layers only it uses; absent is fine.
fn remove_docker_image(docker: &PrivateDocker<'_>, reference: &str) {
    let mut command: Command = docker.docker().into();
    let _ = command
        .args(["rmi", "--force", reference])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Removes the benchmark image from the private dockerd's cached data root when dropped.
struct RemoveImage<'a, 'b> {
    docker: &'a PrivateDocker<'b>,
    reference: &'a str,
}

impl Drop for RemoveImage<'_, '_> {
    fn drop(&mut self) {
        remove_docker_image(self.docker, self.reference);
    }
}

/// Builds the layered image in an OCI layout under `work` and pushes it to `reference`.
fn push_layered_image(sh: &Shell, work: &Path, reference: &str) -> Result<()> {
    let (image, bundle) = crate::e2e::registry::empty_umoci_image(sh, work)?;
    let mut random = std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?;
    for layer in 0..LAYERS {
        let dir = bundle.join(format!("rootfs/layer{layer}"));
        fill_layer(&mut random, &dir)?;
        cmd!(sh, "umoci repack --refresh-bundle --image {image} {bundle}")
            .quiet()
            .ignore_stdout()
            .run()
            .with_context(|| format!("umoci repack of layer {layer}"))?;
    }
    cmd!(
        sh,
        "umoci config --image {image} --os linux --architecture amd64 --config.cmd /bin/true"
    )
    .quiet()
    .ignore_stdout()
    .run()?;
    let source = format!("oci:{image}");
    let destination = format!("docker://{reference}");
    cmd!(sh, "skopeo --insecure-policy copy --quiet --dest-tls-verify=false --format v2s2 {source} {destination}")
        .quiet()
        .run()
        .context("pushing the benchmark image with skopeo")?;
    Ok(())
}

/// One big file and many small ones, all incompressible.
fn fill_layer(random: &mut std::fs::File, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut write_random = |path: PathBuf, len: usize| -> Result<()> {
        let mut bytes = vec![0u8; len];
        random.read_exact(&mut bytes)?;
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    write_random(dir.join("big.bin"), BIG_FILE_BYTES)?;
    for index in 0..SMALL_FILES {
        write_random(dir.join(format!("small-{index:03}.bin")), SMALL_FILE_BYTES)?;
    }
    Ok(())
}
