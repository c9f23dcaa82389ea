//! `berth`: the berth command-line client. main parses flags, dispatches to
//! [`commands`], and maps the result to the exit code (errors print one line).

mod broken_pipe;
mod cli;
mod commands;
mod docs;
mod terminal;
mod tls;
mod transport;

use anyhow::Result;
use clap::Parser;

use cli::{Cli, Command, ContainerCommand, ImageCommand, SystemCommand};
use transport::Client;

fn main() {
    broken_pipe::install();
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(err) => {
            broken_pipe::exit_if_caused(&err);
            // The whole chain on one line ("context: cause: root cause"), as berthd prints.
            eprintln!("{err:#}");
            1
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Completion(args) => {
            docs::completion(args.shell);
            return Ok(0);
        }
        Command::GenerateMan(args) => {
            docs::man_page(&args.dir)?;
            return Ok(0);
        }
        _ => {}
    }
    let tls = tls::TlsOptions::from_flags(
        cli.tls,
        cli.tlsverify,
        cli.tlscacert,
        cli.tlscert,
        cli.tlskey,
    );
    let client = Client::new(cli.host)?.with_tls(tls)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dispatch(&client, cli.command))
}

async fn dispatch(client: &Client, command: Command) -> Result<i32> {
    match command {
        Command::Version => commands::system::version(client).await,
        Command::Info => commands::system::info(client).await,
        Command::Pull(args) => commands::images::pull(client, args).await,
        Command::Push(args) => commands::images::push(client, args).await,
        Command::Images(args) => commands::images::images(client, args).await,
        Command::Rmi(args) => commands::images::rmi(client, args).await,
        Command::Tag(args) => commands::images::tag(client, args).await,
        Command::Save(args) => commands::images::save(client, args).await,
        Command::Load(args) => commands::images::load(client, args).await,
        Command::Run(args) => commands::run::run(client, args).await,
        Command::Create(args) => commands::run::create(client, args).await,
        Command::Exec(args) => commands::exec::exec(client, args).await,
        Command::Attach(args) => commands::attach::attach(client, args).await,
        Command::Pause(args) => commands::lifecycle::pause(client, args, true).await,
        Command::Rename(args) => commands::containers::rename(client, args).await,
        Command::Top(args) => commands::containers::top(client, args).await,
        Command::Diff(args) => commands::containers::diff(client, args).await,
        Command::Export(args) => commands::containers::export(client, args).await,
        Command::Cp(args) => commands::copy::cp(client, args).await,
        Command::Stats(args) => commands::stats::stats(client, args).await,
        Command::Unpause(args) => commands::lifecycle::pause(client, args, false).await,
        Command::Ps(args) => commands::containers::ps(client, args).await,
        Command::Logs(args) => commands::containers::logs(client, args).await,
        Command::Inspect(args) => commands::containers::inspect(client, args).await,
        Command::Start(args) => commands::lifecycle::start(client, args).await,
        Command::Stop(args) => commands::lifecycle::stop(client, args, false).await,
        Command::Restart(args) => commands::lifecycle::stop(client, args, true).await,
        Command::Kill(args) => commands::lifecycle::kill(client, args).await,
        Command::Rm(args) => commands::lifecycle::rm(client, args).await,
        Command::Wait(args) => commands::lifecycle::wait(client, args).await,
        Command::Container(ContainerCommand::Prune(args)) => {
            commands::prune::containers(client, args).await
        }
        Command::Image(ImageCommand::Prune(args)) => commands::prune::images(client, args).await,
        Command::Volume(command) => commands::volumes::volume(client, command).await,
        Command::System(SystemCommand::Df) => commands::system::disk_usage(client).await,
        Command::System(SystemCommand::Prune(args)) => commands::prune::system(client, args).await,
        Command::Completion(_) | Command::GenerateMan(_) => Ok(0),
    }
}
