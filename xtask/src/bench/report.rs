//! The benchmark report: the machine description, the results table, and its atomic write to
//! docs/benchmarks.md.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{Row, Sample};

/// Renders the whole report as Markdown.
pub fn render(rows: &[Row], reps: usize) -> Result<String> {
    let mut out = String::new();
    writeln!(out, "# berth benchmarks\n")?;
    writeln!(
        out,
        "Written by `cargo xtask bench` ({reps} interleaved repetitions after one warm-up; \
         medians of wall time; peak RSS is the maximum over repetitions). Anchors are measured \
         in the same run.\n"
    )?;
    writeln!(out, "## Machine\n")?;
    for (key, value) in machine_description() {
        writeln!(out, "- {key}: {value}")?;
    }
    writeln!(out, "\n## Results\n")?;
    writeln!(
        out,
        "| benchmark | berth | anchor | ratio | target | met |\n| --- | --- | --- | --- | --- | --- |"
    )?;
    for row in rows {
        let anchor = row.anchor.as_ref();
        let ratio = anchor
            .map(|anchor| format!("{:.2}×", ratio(&row.ours, anchor)))
            .unwrap_or_else(|| "—".to_owned());
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        writeln!(
            out,
            "| {} | {} | {} | {ratio} | {} | {met} |",
            row.name,
            describe(&row.ours),
            anchor.map(describe).unwrap_or_else(|| "—".to_owned()),
            row.target,
        )?;
    }
    Ok(out)
}

/// ours / anchor, by median wall time.
pub fn ratio(ours: &Sample, anchor: &Sample) -> f64 {
    ours.median().as_secs_f64() / anchor.median().as_secs_f64().max(f64::MIN_POSITIVE)
}

fn describe(sample: &Sample) -> String {
    if sample.wall.is_empty() {
        return sample.label.clone(); // a measure that is not a time, e.g. a size
    }
    let mut text = format!("{}: {}", sample.label, format_duration(sample.median()));
    if sample.max_rss_kib > 0 {
        let _ = write!(text, ", {:.1} MiB RSS", sample.max_rss_kib as f64 / 1024.0);
    }
    text
}

pub fn format_duration(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

fn machine_description() -> Vec<(&'static str, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "unknown".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("PRETTY_NAME="))
                .map(|name| name.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    vec![
        ("CPU", format!("{cpu} ({cores} cores available)")),
        ("memory", memory),
        ("kernel", kernel),
        ("OS", os),
    ]
}

/// Writes `text` to `path` through a temp file in the same directory: fsync, then rename.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    temp.write_all(text.as_bytes())?;
    temp.as_file().sync_all()?;
    temp.persist(path)
        .with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}
