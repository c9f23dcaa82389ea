//! `cargo xtask release`: build → binary → rpm → repo in one command, then prints where
//! everything is.

use std::path::PathBuf;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::binary::{build_binaries, BuildOptions};

#[derive(clap::Args)]
pub struct Args {
    /// Armored RSA secret key; without one the release is unsigned (gpgcheck=0).
    #[arg(long, env = "BERTH_GPG_KEY_FILE")]
    pub gpg_key: Option<PathBuf>,
    /// Repository channel: stable, test or nightly [default: stable, or nightly with --nightly].
    /// The nightly channel gets a nightly version.
    #[arg(long)]
    pub channel: Option<String>,
    /// Build a nightly version (<next patch>~nightly.<date>.<time>.g<commit>-0) into the nightly
    /// channel (the same as `--channel nightly`).
    #[arg(long)]
    pub nightly: bool,
    /// Where bundles/repo is published [default: file:// of bundles/repo].
    #[arg(long)]
    pub base_url: Option<String>,
    /// Keep only the N newest versions of each package in the channel.
    #[arg(long)]
    pub keep: Option<usize>,
    /// Compile on the host (`cargo build --release`) instead of in the build container.
    #[arg(long)]
    pub host_build: bool,
    #[command(flatten)]
    pub cache: crate::build::CacheArgs,
}

impl Args {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let root = crate::util::project_root();
        // Checked before the (long) build, so a typo costs nothing and writes nothing.
        let channel = match (&self.channel, self.nightly) {
            (None, false) => "stable",
            (None, true) => "nightly",
            (Some(name), nightly) => {
                let channel = berth_packaging::channels::check_channel(name)?;
                if nightly && channel != "nightly" {
                    bail!("--nightly goes to the nightly channel, not --channel {channel}");
                }
                channel
            }
        };
        let nightly = channel == "nightly";
        // The key too: one that cannot sign fails now, not after the build.
        let key = match &self.gpg_key {
            Some(path) => Some(berth_packaging::signing::SigningKey::load(path)?),
            None => None,
        };
        // build + binary: the binary stage builds (or reuses) the build image itself.
        let binaries = if self.host_build {
            None
        } else {
            let output = build_binaries(
                sh,
                &BuildOptions::new(root.clone(), self.cache.cache_dir.clone()),
            )?;
            Some(output.binary_dir)
        };
        let rpm = crate::rpm::Args {
            binaries,
            gpg_key: self.gpg_key.clone(),
            nightly,
            out: None,
            xz_level: berth_packaging::payload::DEFAULT_XZ_LEVEL,
        }
        .build(sh)?;
        let channel_dir = crate::repo::Args {
            rpms: None,
            version: None,
            channel: channel.to_string(),
            releasever: "7".to_string(),
            basearch: "x86_64".to_string(),
            base_url: self.base_url,
            gpg_key: self.gpg_key,
            keep: self.keep,
            strict: false,
            repo_dir: None,
        }
        // Exactly the RPMs just built: the output directory also holds earlier builds (a
        // nightly beside the release), which must not land in this channel.
        .publish_files(&rpm.rpms, key.as_ref())?;

        println!("release {}:", rpm.version);
        for path in &rpm.rpms {
            println!("  rpm        {}", path.display());
        }
        println!("  repository {}", channel_dir.display());
        println!(
            "  .repo      {}",
            root.join("bundles/repo/berth.repo").display()
        );
        if rpm.signed {
            println!("  public key {}", root.join("bundles/repo/gpg").display());
        } else {
            println!("  UNSIGNED (no --gpg-key): berth.repo has gpgcheck=0");
        }
        Ok(())
    }
}
