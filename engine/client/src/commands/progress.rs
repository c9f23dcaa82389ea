//! Renders Docker's JSON progress stream (pull, push, load): bars per layer on a terminal,
//! one line per status change otherwise. An `error` line ends the stream with that message.

use std::collections::HashMap;
use std::io::IsTerminal;

use anyhow::{bail, Result};
use berth_api::image::ProgressMessage;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Response;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Reads the stream to its end, showing it unless `quiet`.
pub async fn render(response: Response<Incoming>, quiet: bool) -> Result<()> {
    let mut display = Display::new(quiet);
    let mut body = response.into_body();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let message: ProgressMessage = serde_json::from_str(text).map_err(|err| {
                anyhow::anyhow!("bad progress line from the daemon ({err}): {text}")
            })?;
            if !message.error.is_empty() {
                display.finish();
                bail!("{}", message.error);
            }
            display.show(&message);
        }
    }
    display.finish();
    Ok(())
}

struct Display {
    quiet: bool,
    terminal: Option<MultiProgress>,
    bars: HashMap<String, ProgressBar>,
    last_status: HashMap<String, String>,
}

impl Display {
    fn new(quiet: bool) -> Self {
        let terminal = std::io::stdout()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Display {
            quiet,
            terminal,
            bars: HashMap::new(),
            last_status: HashMap::new(),
        }
    }

    fn show(&mut self, message: &ProgressMessage) {
        if self.quiet {
            return;
        }
        if !message.stream.is_empty() {
            print!("{}", message.stream);
            return;
        }
        if message.id.is_empty() || message.status.starts_with("Pulling from") {
            let line = if message.id.is_empty() {
                message.status.clone()
            } else {
                format!("{}: {}", message.id, message.status)
            };
            match &self.terminal {
                Some(multi) => {
                    let _ = multi.println(line);
                }
                None => println!("{line}"),
            }
            return;
        }
        match &self.terminal {
            Some(multi) => {
                let bar = self.bars.entry(message.id.clone()).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new(0));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix}: {msg:<18} {bar:40} {bytes}/{total_bytes}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_prefix(message.id.clone());
                    bar
                });
                bar.set_message(message.status.clone());
                if let Some(detail) = &message.progress_detail {
                    if let (Some(current), Some(total)) = (detail.current, detail.total) {
                        bar.set_length(total);
                        bar.set_position(current);
                    }
                }
            }
            None => {
                let previous = self
                    .last_status
                    .insert(message.id.clone(), message.status.clone());
                if previous.as_deref() != Some(message.status.as_str()) {
                    println!("{}: {}", message.id, message.status);
                }
            }
        }
    }

    fn finish(&mut self) {
        for bar in self.bars.values() {
            bar.finish();
        }
    }
}
