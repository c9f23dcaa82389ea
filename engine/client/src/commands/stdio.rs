//! Our stdio joined to a container's or an exec's: a [`Session`] on a hijacked attach or exec
//! stream (our stdin in, its output out, raw mode and terminal resizes while it lasts), and the
//! copying of framed or raw output to our stdout and stderr that logs share.

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

/// A hijacked stream joined to our stdio. Dropping it stops the copying and restores our
/// terminal; [`Session::finish`] waits for the output to end first.
pub struct Session {
    tty: bool,
    copier: Option<JoinHandle<Result<()>>>,
    feeder: Option<JoinHandle<Result<()>>>,
    resizer: Option<JoinHandle<Result<()>>>,
    raw_mode: Option<terminal::RawMode>,
}

impl Session {
    /// Upgrades `response` (a 101 to an attach or exec start; `what` names it in errors) and
    /// starts copying: its output to ours, and with `stdin` ours to it. With `tty` and `stdin`
    /// our terminal goes into raw mode.
    pub async fn open(
        response: Response<Incoming>,
        tty: bool,
        stdin: bool,
        what: &str,
    ) -> Result<Self> {
        let upgraded = hyper::upgrade::on(response)
            .await
            .map_err(|err| anyhow!("{what} failed: {err}"))?;
        let (output, input) = tokio::io::split(TokioIo::new(upgraded));
        let copier = tokio::spawn(copy_output(output, tty));
        let raw_mode = (tty && stdin).then(terminal::RawMode::enable).flatten();
        let feeder = stdin.then(|| tokio::spawn(copy_input(input)));
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

    /// Waits until the output ends (the process exited or closed it), then stops the rest.
    pub async fn finish(mut self) -> Result<()> {
        let Some(copier) = self.copier.take() else {
            return Ok(());
        };
        let copied = copier.await;
        drop(self);
        copied.map_err(|err| anyhow!("output copy failed: {err}"))?
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for task in [&self.copier, &self.feeder, &self.resizer]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
        self.raw_mode.take();
    }
}

/// Sends our stdin to the stream until it ends, then half-closes the stream so the daemon
/// closes the process's stdin. A plain thread reads stdin: a blocked read there cannot hold up
/// the exit.
async fn copy_input<W: tokio::io::AsyncWrite + Unpin>(mut stream: W) -> Result<()> {
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
        stream.write_all(&chunk).await?;
        stream.flush().await?;
    }
    stream.shutdown().await?;
    Ok(())
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
