//! One function per command, each resolving flags into library calls.

use std::fs;
use std::io::Write;

use anyhow::{bail, Context, Result};
use berth_runtime::{Bundle, CreateOptions, Runtime, State, CONFIG_FILE};

use super::{Cli, Command, CreateArgs, ListFormat};

pub fn dispatch(cli: Cli) -> Result<i32> {
    let runtime = Runtime::new(&cli.root);
    match cli.command {
        Command::Spec { bundle } => spec(&bundle)?,
        Command::Create(args) => {
            let (bundle, options) = resolve(&args, false)?;
            runtime.create(&args.id, &bundle, options)?;
        }
        Command::Start { id } => runtime.start(&id)?,
        Command::State { id } => {
            let state = runtime.state(&id)?;
            println!("{}", serde_json::to_string_pretty(&state)?);
        }
        Command::Kill { all, id, signal } => {
            let signal = berth_runtime::parse_signal(&signal)?;
            runtime.kill(&id, signal, all)?;
        }
        Command::Delete { force, id } => match runtime.delete(&id, force) {
            Err(berth_runtime::Error::NotFound(_)) if force => {}
            other => other?,
        },
        Command::Run(args) => {
            let (bundle, options) = resolve(&args, true)?;
            return super::run::run(&runtime, &args.id, &bundle, options);
        }
        Command::List { format, quiet } => list(&runtime.list()?, format, quiet)?,
        Command::Exec(args) => return super::exec::exec(&runtime, args),
        Command::Pause { id } => runtime.pause(&id)?,
        Command::Resume { id } => runtime.resume(&id)?,
    }
    Ok(0)
}

fn resolve(args: &CreateArgs, run: bool) -> Result<(Bundle, CreateOptions)> {
    let bundle = Bundle::load(&args.bundle)?;
    let options = CreateOptions {
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
        no_pivot: args.no_pivot,
        // `run` in a shell keeps the shell's terminal when no console socket is given.
        inherit_terminal: run && args.console_socket.is_none(),
        ..Default::default()
    };
    Ok((bundle, options))
}

fn spec(bundle: &std::path::Path) -> Result<()> {
    let path = bundle.join(CONFIG_FILE);
    if path.exists() {
        bail!("{} exists; remove it first", path.display());
    }
    let json = serde_json::to_vec_pretty(&berth_runtime::default_spec())?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("{}", path.display()))?;
    file.write_all(&json)
        .and_then(|()| file.write_all(b"\n"))
        .with_context(|| format!("{}", path.display()))?;
    Ok(())
}

fn list(states: &[State], format: ListFormat, quiet: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if quiet {
        for state in states {
            writeln!(out, "{}", state.id)?;
        }
        return Ok(());
    }
    if format == ListFormat::Json {
        writeln!(out, "{}", serde_json::to_string(states)?)?;
        return Ok(());
    }
    let rows: Vec<[String; 6]> = states
        .iter()
        .map(|s| {
            [
                s.id.clone(),
                s.pid.to_string(),
                s.status.to_string(),
                s.bundle.display().to_string(),
                s.created.clone(),
                s.owner.clone(),
            ]
        })
        .collect();
    let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(str::to_owned);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(out, "{}", line.join("   ").trim_end())?;
    }
    Ok(())
}
