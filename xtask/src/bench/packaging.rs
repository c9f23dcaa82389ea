//! Packaging benchmarks (issue 4): repodata for 1,000 generated ~24 KB RPMs written by
//! berth-packaging (its `repodata` example, one process per run) against `createrepo_c` on the
//! same set, the incremental add of one package against `createrepo_c --update`, and
//! `cargo xtask rpm` building both berth packages from the release binaries.
//!
//! Both sides write the same files (primary, filelists and other .xml.gz plus repomd.xml), so
//! createrepo_c runs with `--no-database`. Each timed run starts from the state it needs: no
//! repodata for the full runs, the previous repodata plus one new RPM for the incremental ones.

use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use berth_packaging::builder::{self, BuildSettings, SourceDirs};
use berth_packaging::definition::PackageDefinition;
use berth_packaging::signing::SigningKey;
use berth_packaging::version::RpmVersion;

use super::{measure_interleaved, Binaries, Measured, Row, Sample};

/// How many RPMs the repository holds.
const PACKAGE_COUNT: usize = 1000;
/// Incompressible payload per RPM; with the header the file is about 24 KB.
const PAYLOAD_BYTES: usize = 21 * 1024;
/// SOURCE_DATE_EPOCH of the generated RPMs.
const SOURCE_DATE: u32 = 1_704_164_645;
const RPM_BUILD_TARGET_SECS: f64 = 2.0;

pub fn rows(binaries: &Binaries, reps: usize) -> Result<Vec<Row>> {
    let createrepo = crate::test::which("createrepo_c").context(
        "createrepo_c is not installed (createrepo-c): run cargo xtask test --tools-only",
    )?;
    let work = tempfile::tempdir().context("creating the packaging benchmark dir")?;
    let generated = work.path().join("generated");
    println!("bench: generating {PACKAGE_COUNT} RPMs of ~24 KB with berth-packaging");
    let rpms = generate_rpms(&generated, "bench-pkg", PACKAGE_COUNT)?;
    let average = rpms
        .iter()
        .map(|rpm| std::fs::metadata(rpm).map(|meta| meta.len()))
        .sum::<std::io::Result<u64>>()?
        / rpms.len() as u64;
    // One new package per incremental run (warm-up included).
    let extra = generate_rpms(&generated, "bench-new", reps + 1)?;

    let ours_repo = work.path().join("ours");
    let theirs_repo = work.path().join("theirs");
    for repo in [&ours_repo, &theirs_repo] {
        link_into_packages(repo, &rpms)?;
    }

    let full = [
        Measured::new("berth-packaging", || {
            fresh_run(&ours_repo, || {
                let mut command = Command::new(&binaries.repodata_example);
                command.arg(&ours_repo);
                command
            })
        }),
        Measured::new("createrepo_c --no-database", || {
            fresh_run(&theirs_repo, || {
                let mut command = Command::new(&createrepo);
                command.args(["--no-database", "--quiet"]).arg(&theirs_repo);
                command
            })
        }),
    ];
    let [ours_full, theirs_full] = two(measure_interleaved(&full, reps)?)?;

    let (ours_added, theirs_added) = (Cell::new(0), Cell::new(0));
    let incremental = [
        Measured::new("berth-packaging", || {
            add_one(&ours_repo, &extra, &ours_added, || {
                let mut command = Command::new(&binaries.repodata_example);
                command.arg(&ours_repo);
                command
            })
        }),
        Measured::new("createrepo_c --update --no-database", || {
            add_one(&theirs_repo, &extra, &theirs_added, || {
                let mut command = Command::new(&createrepo);
                command
                    .args(["--update", "--no-database", "--quiet"])
                    .arg(&theirs_repo);
                command
            })
        }),
    ];
    let [ours_update, theirs_update] = two(measure_interleaved(&incremental, reps)?)?;
    check_incremental_reuse(binaries, &ours_repo, PACKAGE_COUNT + reps + 1)?;

    let rpm_build = measure_rpm_build(binaries, work.path(), reps)?;
    let rpm_secs = rpm_build.median().as_secs_f64();

    let size_kb = average as f64 / 1000.0;
    Ok(vec![
        ratio_row(
            &format!("packaging: full repodata, {PACKAGE_COUNT} RPMs of {size_kb:.0} KB"),
            ours_full,
            theirs_full,
            0.8,
        ),
        ratio_row(
            &format!("packaging: incremental repodata, +1 RPM to {PACKAGE_COUNT}"),
            ours_update,
            theirs_update,
            0.5,
        ),
        Row {
            name: "packaging: `cargo xtask rpm`, both packages from release binaries, signed"
                .to_owned(),
            ours: rpm_build,
            anchor: None,
            target: format!("≤ {RPM_BUILD_TARGET_SECS} s"),
            met: Some(rpm_secs <= RPM_BUILD_TARGET_SECS),
        },
    ])
}

fn ratio_row(name: &str, ours: Sample, anchor: Sample, target: f64) -> Row {
    let met = super::report::ratio(&ours, &anchor) <= target;
    Row {
        name: name.to_owned(),
        target: format!("≤ {target}× {}", anchor.label),
        ours,
        anchor: Some(anchor),
        met: Some(met),
    }
}

fn two(samples: Vec<Sample>) -> Result<[Sample; 2]> {
    <[Sample; 2]>::try_from(samples).map_err(|_| anyhow::anyhow!("expected two samples"))
}

/// `command()` after removing `repo/repodata`, so the run writes it from scratch.
fn fresh_run(repo: &Path, command: impl FnOnce() -> Command) -> Command {
    let repodata = repo.join("repodata");
    match std::fs::remove_dir_all(&repodata) {
        Ok(()) => command(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => command(),
        Err(err) => failing(format!("cannot remove {}: {err}", repodata.display())),
    }
}

/// `command()` after linking the next of `extra` into `repo/Packages`.
fn add_one(
    repo: &Path,
    extra: &[PathBuf],
    added: &Cell<usize>,
    command: impl FnOnce() -> Command,
) -> Command {
    let Some(rpm) = extra.get(added.get()) else {
        return failing("more incremental runs than generated RPMs".to_owned());
    };
    added.set(added.get() + 1);
    match link_into_packages(repo, std::slice::from_ref(rpm)) {
        Ok(()) => command(),
        Err(err) => failing(format!("{err:#}")),
    }
}

/// A command that prints `message` and fails: how a preparation error fails the benchmark
/// (the measuring loop builds commands infallibly).
fn failing(message: String) -> Command {
    let mut command = Command::new("sh");
    command.args(["-c", "echo \"bench: $0\" >&2; exit 1", &message]);
    command
}

/// Hard-links `rpms` into `repo/Packages/` (same size and mtime for both repositories).
fn link_into_packages(repo: &Path, rpms: &[PathBuf]) -> Result<()> {
    let packages = repo.join("Packages");
    std::fs::create_dir_all(&packages)
        .with_context(|| format!("creating {}", packages.display()))?;
    for rpm in rpms {
        let name = rpm.file_name().context("an RPM path without a file name")?;
        std::fs::hard_link(rpm, packages.join(name))
            .with_context(|| format!("linking {} into {}", rpm.display(), packages.display()))?;
    }
    Ok(())
}

/// After the incremental runs: one more run must read nothing and reuse every entry.
fn check_incremental_reuse(binaries: &Binaries, repo: &Path, expected: usize) -> Result<()> {
    let output = Command::new(&binaries.repodata_example)
        .arg(repo)
        .output()
        .context("running the repodata example")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let wanted = format!("{expected} packages (0 read, {expected} reused, 0 skipped)");
    if !output.status.success() || text.trim() != wanted {
        bail!(
            "the repodata example did not reuse the previous entries: expected '{wanted}', got \
             '{}' {}",
            text.trim(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Builds `count` single-file RPMs named `<prefix>-NNNN` with incompressible payloads into
/// `dir`, on every core.
fn generate_rpms(dir: &Path, prefix: &str, count: usize) -> Result<Vec<PathBuf>> {
    let sources = dir.join(format!("{prefix}-sources"));
    let out = dir.join(prefix);
    std::fs::create_dir_all(&sources)?;
    std::fs::create_dir_all(&out)?;
    let mut random = std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?;
    for index in 0..count {
        let mut payload = vec![0u8; PAYLOAD_BYTES];
        random.read_exact(&mut payload)?;
        std::fs::write(sources.join(format!("{index:04}.bin")), payload)?;
    }
    let settings = BuildSettings::new(RpmVersion::release("1.0.0")?, SOURCE_DATE);
    let dirs = SourceDirs {
        project_root: sources.clone(),
        binaries: sources.clone(),
        generated: sources.clone(),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let indices: Vec<usize> = (0..count).collect();
    let chunk = count.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = indices
            .chunks(chunk)
            .map(|part| {
                let (dirs, settings, sources, out) = (&dirs, &settings, &sources, &out);
                scope.spawn(move || -> Result<Vec<PathBuf>> {
                    part.iter()
                        .map(|index| {
                            let name = format!("{prefix}-{index:04}");
                            let definition = PackageDefinition::parse(
                                &definition_text(&name, *index),
                                &sources.join(format!("{name}.toml")),
                            )?;
                            let package =
                                builder::build_package(&definition, dirs, settings, None)?;
                            Ok(builder::write_package(&package, out)?)
                        })
                        .collect()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(count);
        for handle in handles {
            let built = handle
                .join()
                .map_err(|_| anyhow::anyhow!("an RPM generator thread panicked"))??;
            all.extend(built);
        }
        Ok(all)
    })
}

fn definition_text(name: &str, index: usize) -> String {
    format!(
        r#"name = "{name}"
summary = "Generated package {index} for the repodata benchmark"
description = "One incompressible file, generated by cargo xtask bench."
group = "Development/Tools"
url = "https://example.invalid/berth"
vendor = "berth"
packager = "The berth developers <packaging@example.invalid>"
requires.plain = ["bash", "coreutils >= 8.22"]

[[files]]
path = "/usr/share/{name}/payload.bin"
source = "{index:04}.bin"
mode = 0o644
"#
    )
}

/// Times `cargo xtask rpm` (this very binary) on the release binaries, signed with a throwaway
/// 4096-bit key as releases are.
fn measure_rpm_build(binaries: &Binaries, work: &Path, reps: usize) -> Result<Sample> {
    println!("bench: generating a 4096-bit signing key for the RPM build");
    let key = SigningKey::generate(4096, "berth bench <bench@example.invalid>")?;
    let key_file = work.join("bench-key.asc");
    std::fs::write(&key_file, key.secret_armored())?;
    let xtask = crate::util::xtask_exe();
    let out = work.join("rpm-out");
    let commands = [Measured::new("cargo xtask rpm", || {
        let mut command = Command::new(&xtask);
        command
            .arg("rpm")
            .arg("--binaries")
            .arg(&binaries.release_dir)
            .arg("--gpg-key")
            .arg(&key_file)
            .arg("--out")
            .arg(&out);
        command
    })];
    let [sample] = <[Sample; 1]>::try_from(measure_interleaved(&commands, reps)?)
        .map_err(|_| anyhow::anyhow!("expected one sample"))?;
    let built = std::fs::read_dir(&out)?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".rpm"))
        .count();
    if built != 2 {
        bail!(
            "`cargo xtask rpm` wrote {built} RPMs into {}, expected 2",
            out.display()
        );
    }
    Ok(sample)
}
