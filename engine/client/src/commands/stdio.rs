//! Our stdio joined to a container's or an exec's: a [`Session`] on a hijacked attach or exec
//! stream (our stdin in, its output out, raw mode and terminal resizes while it lasts, and
//! docker's detach keys on a terminal), and the copying of framed or raw output to our stdout
//! and stderr that logs share.

use std::io::Write;

use anyhow::{anyhow, Result};
use berth_api::stream::{FrameDecoder, StreamKind};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Response;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::terminal;
use crate::transport::Client;

/// The keys that detach from a terminal session when none are given: ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[0x10, 0x11];

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The output ended: the process exited or closed it.
    OutputClosed,
    /// The user typed the detach keys; the process goes on.
    Detached,
}

/// A hijacked stream joined to our stdio. Dropping it stops the copying and restores our
/// terminal; [`Session::finish`] waits for the output to end first.
pub struct Session {
    tty: bool,
    copier: Option<JoinHandle<Result<()>>>,
    feeder: Option<JoinHandle<Result<Ended>>>,
    resizer: Option<JoinHandle<Result<()>>>,
    raw_mode: Option<terminal::RawMode>,
}

impl Session {
    /// Upgrades `response` (a 101 to an attach or exec start; `what` names it in errors) and
    /// starts copying: its output to ours, and with `stdin` ours to it. With `tty` and `stdin`
    /// our terminal goes into raw mode, and typing `detach_keys` ends the session.
    pub async fn open(
        response: Response<Incoming>,
        tty: bool,
        stdin: bool,
        detach_keys: &[u8],
        what: &str,
    ) -> Result<Self> {
        let upgraded = hyper::upgrade::on(response)
            .await
            .map_err(|err| anyhow!("{what} failed: {err}"))?;
        let (output, input) = tokio::io::split(TokioIo::new(upgraded));
        let copier = tokio::spawn(copy_output(output, tty));
        let raw_mode = (tty && stdin).then(terminal::RawMode::enable).flatten();
        let escape = EscapeScanner::new(if tty { detach_keys } else { &[] });
        let feeder = stdin.then(|| tokio::spawn(copy_input(input, escape)));
        Ok(Self {
            tty,
            copier: Some(copier),
            feeder,
            resizer: None,
            raw_mode,
        })
    }

    /// With a TTY, keeps the terminal behind `resize_path` (a container's or an exec's
    /// `/resize`) the size of ours: once now, then on every SIGWINCH.
    pub fn follow_terminal_size(&mut self, client: &Client, resize_path: String) {
        if self.tty {
            let client = client.clone();
            self.resizer = Some(tokio::spawn(follow_terminal_size(client, resize_path)));
        }
    }

    /// Waits until the output ends (the process exited or closed it) or the user detaches,
    /// then stops the rest.
    pub async fn finish(mut self) -> Result<Ended> {
        let Some(mut copier) = self.copier.take() else {
            return Ok(Ended::OutputClosed);
        };
        if let Some(mut feeder) = self.feeder.take() {
            tokio::select! {
                copied = &mut copier => {
                    feeder.abort();
                    drop(self);
                    return output_copied(copied);
                }
                fed = &mut feeder => {
                    if matches!(fed, Ok(Ok(Ended::Detached))) {
                        copier.abort();
                        return Ok(Ended::Detached);
                    }
                }
            }
        }
        let copied = copier.await;
        drop(self);
        output_copied(copied)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for task in [&self.copier, &self.resizer].into_iter().flatten() {
            task.abort();
        }
        if let Some(feeder) = &self.feeder {
            feeder.abort();
        }
        self.raw_mode.take();
    }
}

fn output_copied(copied: Result<Result<()>, tokio::task::JoinError>) -> Result<Ended> {
    copied.map_err(|err| anyhow!("output copy failed: {err}"))??;
    Ok(Ended::OutputClosed)
}

/// Sends our stdin to the stream until it ends, then half-closes the stream so the daemon
/// closes the process's stdin; or, when `escape` sees the detach keys, stops there without
/// sending them. A plain thread reads stdin: a blocked read there cannot hold up the exit.
async fn copy_input<W: tokio::io::AsyncWrite + Unpin>(
    mut stream: W,
    mut escape: EscapeScanner,
) -> Result<Ended> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buffer = vec![0u8; 32 * 1024];
        loop {
            match std::io::Read::read(&mut stdin, &mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(count) => {
                    if sender.blocking_send(buffer[..count].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    while let Some(chunk) = receiver.recv().await {
        let (passed, detached) = escape.feed(&chunk);
        stream.write_all(&passed).await?;
        stream.flush().await?;
        if detached {
            return Ok(Ended::Detached);
        }
    }
    stream.shutdown().await?;
    Ok(Ended::OutputClosed)
}

/// Watches typed input for the detach keys, as docker's escape proxy does: bytes that may
/// start the sequence are held back, sent on if it breaks off, and dropped if it completes.
#[derive(Debug, Clone)]
pub struct EscapeScanner {
    keys: Vec<u8>,
    matched: usize,
}

impl EscapeScanner {
    /// A scanner for `keys`; with none, input passes unchanged.
    pub fn new(keys: &[u8]) -> Self {
        Self {
            keys: keys.to_vec(),
            matched: 0,
        }
    }

    /// The bytes of `input` to send now, and whether the keys were completed.
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        if self.keys.is_empty() {
            return (input.to_vec(), false);
        }
        let mut passed = Vec::with_capacity(input.len());
        for &byte in input {
            if byte == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (passed, true);
                }
                continue;
            }
            passed.extend_from_slice(&self.keys[..self.matched]);
            self.matched = usize::from(byte == self.keys[0]);
            if self.matched == 0 {
                passed.push(byte);
            }
        }
        (passed, false)
    }
}

/// Parses docker's `--detach-keys` (`ctrl-p,ctrl-q`, `a,ctrl-@`): a comma-separated list of
/// single characters and `ctrl-<a-z @ [ \ ] ^ _>`.
pub fn parse_detach_keys(text: &str) -> Result<Vec<u8>> {
    let invalid = || anyhow!("Invalid detach keys ({text}) provided");
    text.split(',')
        .map(|key| {
            let key = key.trim();
            if let Some(name) = key.strip_prefix("ctrl-") {
                let [letter] = name.as_bytes() else {
                    return Err(invalid());
                };
                return match letter.to_ascii_lowercase() {
                    letter @ b'a'..=b'z' => Ok(letter - b'a' + 1),
                    b'@' => Ok(0),
                    symbol @ (b'[' | b'\\' | b']' | b'^' | b'_') => Ok(symbol - b'@'),
                    _ => Err(invalid()),
                };
            }
            match key.as_bytes() {
                [byte] => Ok(*byte),
                _ => Err(invalid()),
            }
        })
        .collect()
}

/// The detach keys a command's `--detach-keys` gives, or docker's ctrl-p,ctrl-q.
pub fn detach_keys(flag: Option<&str>) -> Result<Vec<u8>> {
    flag.map_or_else(|| Ok(DEFAULT_DETACH_KEYS.to_vec()), parse_detach_keys)
}

/// Keeps the terminal behind `resize_path` the size of ours.
async fn follow_terminal_size(client: Client, resize_path: String) -> Result<()> {
    let mut changes =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?;
    loop {
        if let Some((height, width)) = terminal::size() {
            let path = format!("{resize_path}?h={height}&w={width}");
            // The process may already have exited; docker ignores that too.
            let _ = client.post_empty(&path).await;
        }
        if changes.recv().await.is_none() {
            return Ok(());
        }
    }
}

/// Copies stream output (frames, or raw with a TTY) to our stdout and stderr.
async fn copy_output<R: tokio::io::AsyncRead + Unpin>(mut stream: R, tty: bool) -> Result<()> {
    let mut decoder = FrameDecoder::default();
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        let count = stream.read(&mut buffer).await?;
        if count == 0 {
            return Ok(());
        }
        if tty {
            let mut out = std::io::stdout().lock();
            out.write_all(&buffer[..count])?;
            out.flush()?;
            continue;
        }
        decoder.feed(&buffer[..count]);
        while let Some((kind, payload)) = decoder.next_frame()? {
            write_stream(kind, &payload)?;
        }
    }
}

/// Writes a payload to stdout or stderr.
fn write_stream(kind: StreamKind, payload: &[u8]) -> Result<()> {
    if kind == StreamKind::Stderr {
        let mut err = std::io::stderr().lock();
        err.write_all(payload)?;
        err.flush()?;
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(payload)?;
        out.flush()?;
    }
    Ok(())
}

/// Copies a whole response body (logs without follow) to our stdout and stderr.
pub async fn drain(response: Response<Incoming>, tty: bool) -> Result<()> {
    let mut decoder = FrameDecoder::default();
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        if tty {
            write_stream(StreamKind::Stdout, &data)?;
            continue;
        }
        decoder.feed(&data);
        while let Some((kind, payload)) = decoder.next_frame()? {
            write_stream(kind, &payload)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [0x10, 0x11]);
        assert_eq!(
            parse_detach_keys("a,ctrl-@,ctrl-_").unwrap(),
            [b'a', 0, 0x1f]
        );
        assert_eq!(parse_detach_keys("ctrl-[").unwrap(), [0x1b]);
        for bad in ["ctrl-", "ctrl-1", "ab", "", "ctrl-p,,ctrl-q"] {
            let err = parse_detach_keys(bad).unwrap_err().to_string();
            assert!(err.contains("Invalid detach keys"), "{bad}: {err}");
        }
        assert_eq!(detach_keys(None).unwrap(), DEFAULT_DETACH_KEYS);
    }

    #[test]
    fn the_scanner_holds_back_a_prefix_and_drops_the_keys() {
        let mut scanner = EscapeScanner::new(DEFAULT_DETACH_KEYS);
        assert_eq!(scanner.feed(b"ls\r"), (b"ls\r".to_vec(), false));
        // ctrl-p alone is held back, then sent when the next key is not ctrl-q.
        assert_eq!(scanner.feed(&[0x10]), (Vec::new(), false));
        assert_eq!(scanner.feed(b"x"), (vec![0x10, b'x'], false));
        // ctrl-p ctrl-p ctrl-q: the first is sent, the last two detach.
        assert_eq!(scanner.feed(&[0x10, 0x10]), (vec![0x10], false));
        assert_eq!(scanner.feed(&[0x11, b'y']), (Vec::new(), true));
        // The sequence split across reads still detaches; what came before it is sent.
        let mut scanner = EscapeScanner::new(DEFAULT_DETACH_KEYS);
        assert_eq!(scanner.feed(&[b'a', 0x10]), (vec![b'a'], false));
        assert_eq!(scanner.feed(&[0x11]), (Vec::new(), true));
        // Without keys (no terminal) everything passes.
        let mut plain = EscapeScanner::new(&[]);
        assert_eq!(plain.feed(&[0x10, 0x11]), (vec![0x10, 0x11], false));
    }
}
