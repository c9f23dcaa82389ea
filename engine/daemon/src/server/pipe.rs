//! Bridges between async HTTP bodies and the blocking `Read`/`Write` the image archive code
//! takes: a request body read as `Read`, and a `Write` that feeds a streamed response.

use std::io::{Read, Write};

use bytes::{Buf, Bytes};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;

/// A request body read from a blocking thread.
pub struct BodyReader {
    receiver: mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl BodyReader {
    /// Starts forwarding `body` and returns the reader (use it inside `spawn_blocking`).
    pub fn new(mut body: Incoming) -> Self {
        let (sender, receiver) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Some(frame) = body.frame().await {
                let chunk = match frame {
                    Ok(frame) => match frame.into_data() {
                        Ok(data) => Ok(data),
                        Err(_) => continue,
                    },
                    Err(err) => Err(std::io::Error::other(err)),
                };
                let failed = chunk.is_err();
                if sender.send(chunk).await.is_err() || failed {
                    break;
                }
            }
        });
        BodyReader {
            receiver,
            current: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let count = buffer.len().min(self.current.len());
        buffer[..count].copy_from_slice(&self.current[..count]);
        self.current.advance(count);
        Ok(count)
    }
}

/// A `Write` whose bytes become chunks of a streamed response (use it in a blocking thread).
pub struct ChannelWriter {
    sender: mpsc::Sender<Bytes>,
}

impl ChannelWriter {
    /// Writes into `sender`.
    pub fn new(sender: mpsc::Sender<Bytes>) -> Self {
        ChannelWriter { sender }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.sender
            .blocking_send(Bytes::copy_from_slice(data))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
