//! Progress for long steps: a spinner with the latest line on a terminal, plain lines otherwise
//! (and whenever `CI` is set), so logs stay readable.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// One long step ("debootstrap bookworm", "cargo build").
pub struct Progress {
    name: String,
    started: Instant,
    spinner: Option<ProgressBar>,
    last_plain: Option<Instant>,
}

impl Progress {
    /// Starts a step; prints its name at once.
    pub fn start(name: &str) -> Self {
        let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let spinner = interactive.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(name.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if spinner.is_none() {
            eprintln!("==> {name}");
        }
        Self {
            name: name.to_owned(),
            started: Instant::now(),
            spinner,
            last_plain: None,
        }
    }

    /// Shows one line of the step's output: as the spinner message on a terminal, and otherwise
    /// printed plainly, at most one line every two seconds so CI logs stay short.
    pub fn line(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        match &self.spinner {
            Some(bar) => bar.set_message(line.to_owned()),
            None => {
                let due = self
                    .last_plain
                    .is_none_or(|at| at.elapsed() >= Duration::from_secs(2));
                if due {
                    eprintln!("    {line}");
                    self.last_plain = Some(Instant::now());
                }
            }
        }
    }

    /// Ends the step and prints how long it took; returns the elapsed seconds.
    pub fn finish(self, outcome: &str) -> f64 {
        let secs = self.started.elapsed().as_secs_f64();
        if let Some(bar) = &self.spinner {
            bar.finish_and_clear();
        }
        eprintln!("==> {}: {outcome} in {secs:.1}s", self.name);
        secs
    }
}

/// Follows a log file that another process appends to, handing each complete new line to `on_line`.
pub struct LogFollower {
    file: std::fs::File,
    pending: Vec<u8>,
}

impl LogFollower {
    pub fn new(file: std::fs::File) -> Self {
        Self {
            file,
            pending: Vec::new(),
        }
    }

    /// Reads what was appended since the last call.
    pub fn poll(&mut self, mut on_line: impl FnMut(&str)) {
        use std::io::Read;
        let mut chunk = [0u8; 16 * 1024];
        while let Ok(read) = self.file.read(&mut chunk) {
            if read == 0 {
                break;
            }
            self.pending.extend_from_slice(&chunk[..read]);
        }
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n' || b == b'\r') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            on_line(&String::from_utf8_lossy(&line));
        }
    }
}
