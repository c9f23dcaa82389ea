//! Runtime benchmarks (issue 2): `berth-runtime run` of /bin/true in a busybox bundle against
//! `runc run` and `crun run` on the same bundle, plus peak RSS and binary size.
//!
//! crun refuses cgroup v1/v2 hybrid hosts whose cgroup2 has controllers, so this section runs
//! in a private mount namespace with /sys/fs/cgroup/unified unmounted: all three runtimes then
//! see a cgroup v1-only host, as on CentOS 7.

use std::cell::Cell;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{measure_interleaved, Binaries, Measured, Row};

const RSS_TARGET_KIB: u64 = 5 * 1024;
const SIZE_TARGET_BYTES: u64 = 4 * 1024 * 1024;

pub fn rows(binaries: &Binaries, reps: usize) -> Result<Vec<Row>> {
    enter_cgroup_v1_only_view()?;
    let work = tempfile::tempdir().context("creating the benchmark bundle dir")?;
    let bundle = work.path().join("bundle");
    make_busybox_bundle(&bundle, &["/bin/true"])?;

    let counter = Cell::new(0u64);
    let next_id = |prefix: &str| {
        counter.set(counter.get() + 1);
        format!("{prefix}-bench-{}-{}", std::process::id(), counter.get())
    };
    let runtime_cmd = |program: &Path, state: &str, extra: &[&str]| {
        let root = work.path().join(state);
        let mut command = Command::new(program);
        command.arg("--root").arg(root).args(extra);
        command
    };
    let ours = binaries.runtime.clone();
    let runc = crate::test::which("runc")
        .context("runc is not installed: run cargo xtask test --tools-only")?;
    let crun = crate::test::which("crun")
        .context("crun is not installed: run cargo xtask test --tools-only")?;
    let commands = [
        Measured::new("berth-runtime", || {
            let mut command = runtime_cmd(&ours, "berth", &[]);
            command
                .args(["run", "--bundle"])
                .arg(&bundle)
                .arg(next_id("berth"));
            command
        }),
        Measured::new("runc", || {
            let mut command = runtime_cmd(&runc, "runc", &[]);
            command
                .args(["run", "--bundle"])
                .arg(&bundle)
                .arg(next_id("runc"));
            command
        }),
        Measured::new("crun", || {
            let mut command = runtime_cmd(&crun, "crun", &["--cgroup-manager=disabled"]);
            command
                .args(["run", "--bundle"])
                .arg(&bundle)
                .arg(next_id("crun"));
            command
        }),
    ];
    let samples = measure_interleaved(&commands, reps)?;
    let [berth, runc, crun] =
        <[_; 3]>::try_from(samples).map_err(|_| anyhow::anyhow!("expected three samples"))?;

    let mut rows = vec![
        ratio_row("runtime: run /bin/true vs runc", &berth, &runc, 0.5),
        ratio_row("runtime: run /bin/true vs crun", &berth, &crun, 1.2),
        Row {
            name: "runtime: peak RSS of `run`".to_owned(),
            ours: berth.clone(),
            anchor: Some(runc.clone()),
            target: "≤ 5 MiB".to_owned(),
            met: Some(berth.max_rss_kib <= RSS_TARGET_KIB),
        },
    ];
    let size = std::fs::metadata(&binaries.runtime)
        .with_context(|| format!("reading {}", binaries.runtime.display()))?
        .len();
    rows.push(Row {
        name: format!(
            "runtime: binary size {:.2} MiB ({})",
            size as f64 / 1024.0 / 1024.0,
            binaries.runtime.display()
        ),
        ours: berth,
        anchor: None,
        target: "≤ 4 MiB stripped static".to_owned(),
        met: Some(size <= SIZE_TARGET_BYTES),
    });
    Ok(rows)
}

fn ratio_row(name: &str, ours: &super::Sample, anchor: &super::Sample, target: f64) -> Row {
    Row {
        name: name.to_owned(),
        ours: ours.clone(),
        anchor: Some(anchor.clone()),
        target: format!("≤ {target}× {}", anchor.label),
        met: Some(super::report::ratio(ours, anchor) <= target),
    }
}

/// Moves this process into a private mount namespace without the cgroup2 mount.
fn enter_cgroup_v1_only_view() -> Result<()> {
    // SAFETY: plain syscalls on static, NUL-terminated strings; xtask is single-threaded here.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            bail!("unshare(CLONE_NEWNS): {}", std::io::Error::last_os_error());
        }
        let private = libc::MS_REC | libc::MS_PRIVATE;
        if libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            private,
            std::ptr::null(),
        ) != 0
        {
            bail!("making / private: {}", std::io::Error::last_os_error());
        }
        let unified = c"/sys/fs/cgroup/unified";
        if Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists()
            && libc::umount2(unified.as_ptr(), libc::MNT_DETACH) != 0
        {
            bail!(
                "unmounting /sys/fs/cgroup/unified: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// Writes an OCI bundle at `bundle`: a rootfs holding Debian's static busybox with its applets
/// linked in /bin, and runc's default config.json running `args`.
pub fn make_busybox_bundle(bundle: &Path, args: &[&str]) -> Result<()> {
    let busybox = crate::test::which("busybox")
        .context("busybox is not installed (busybox-static): run cargo xtask test --tools-only")?;
    let bin = bundle.join("rootfs/bin");
    std::fs::create_dir_all(&bin)?;
    std::fs::copy(&busybox, bin.join("busybox"))?;
    for applet in ["sh", "true", "echo", "cat", "ls", "sleep"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet))?;
    }
    let status = Command::new(crate::test::which("runc").context("runc is not installed")?)
        .args(["spec", "--bundle"])
        .arg(bundle)
        .status()?;
    if !status.success() {
        bail!("runc spec failed in {}", bundle.display());
    }
    let config_path = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_path)?)?;
    config["process"]["args"] = serde_json::json!(args);
    config["process"]["terminal"] = serde_json::json!(false);
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;
    Ok(())
}
