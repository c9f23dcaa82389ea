//! `cargo xtask`: berth's build, packaging, test and benchmark stages.
//!
//! This file only parses flags and dispatches; each stage lives in its own module and runs
//! external tools through `xshell::cmd!`.

mod bench;
mod binary;
mod build;
mod e2e;
mod gpg_keygen;
mod promote;
mod publish;
mod release;
mod repo;
mod rpm;
mod test;
mod util;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "berth's build, packaging, test and benchmark stages"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build (or reuse) the build-container image defined in packaging/build-image.toml.
    Build(build::Args),
    /// Compile berth, berthd and berth-runtime inside the build container into bundles/.
    Binary(binary::Args),
    /// Build HEAD from two clones at different paths and check the binaries are byte-identical.
    VerifyReproducible(binary::reproducible::Args),
    /// Package the binaries as EL7-compatible RPMs.
    Rpm(rpm::Args),
    /// Write or update the signed yum repository under bundles/repo.
    Repo(repo::Args),
    /// Copy one version's signed RPMs from one channel to another (e.g. test → stable).
    Promote(promote::Args),
    /// Sync bundles/repo into a served directory: packages, repodata, then repomd.xml by rename.
    Publish(publish::Args),
    /// build → binary → rpm → repo in one command.
    Release(release::Args),
    /// Generate a development RSA signing key (pure Rust) for the RPMs and the repository.
    GpgKeygen(gpg_keygen::Args),
    /// The user's whole path on a systemd host: install, enable, mirror, upgrade, remove.
    E2e(e2e::Args),
    /// Run the whole test suite, installing the Debian packages it needs.
    Test(test::Args),
    /// Run the side-by-side benchmarks and write docs/benchmarks.md.
    Bench(bench::Args),
}

fn main() {
    // xtask is the init binary of the build containers it runs (see binary::container).
    berth_runtime::init_hook();
    let cli = Cli::parse();
    if let Err(err) = run(cli) {
        eprintln!("Error: {}", one_line(&err));
        std::process::exit(1);
    }
}

/// The error and its causes on one line; a cause the message already quotes is not repeated.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line.replace('\n', " ")
}

fn run(cli: Cli) -> Result<()> {
    let sh = util::project_shell()?;
    match cli.command {
        Command::Build(args) => args.run(&sh),
        Command::Binary(args) => args.run(&sh),
        Command::VerifyReproducible(args) => args.run(&sh),
        Command::Rpm(args) => args.run(&sh),
        Command::Repo(args) => args.run(&sh),
        Command::Promote(args) => args.run(&sh),
        Command::Publish(args) => args.run(&sh),
        Command::Release(args) => args.run(&sh),
        Command::GpgKeygen(args) => args.run(&sh),
        Command::E2e(args) => args.run(&sh),
        Command::Test(args) => args.run(&sh),
        Command::Bench(args) => args.run(&sh),
    }
}
