//! The multiplexed stream format of attach and logs: an 8-byte header `[type, 0, 0, 0, len BE]`
//! before each payload, type 0 stdin, 1 stdout, 2 stderr.

/// Which stream a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Standard input (only echoed back by some servers).
    Stdin = 0,
    /// Standard output.
    Stdout = 1,
    /// Standard error.
    Stderr = 2,
}

impl StreamKind {
    /// The kind named by a frame header's first byte.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(StreamKind::Stdin),
            1 => Some(StreamKind::Stdout),
            2 => Some(StreamKind::Stderr),
            _ => None,
        }
    }
}

/// Content type of a multiplexed (non-TTY) stream.
pub const MULTIPLEXED_CONTENT_TYPE: &str = "application/vnd.docker.multiplexed-stream";
/// Content type of a raw (TTY) stream.
pub const RAW_CONTENT_TYPE: &str = "application/vnd.docker.raw-stream";

/// Encodes one frame: header plus payload.
pub fn encode_frame(kind: StreamKind, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + payload.len());
    frame.push(kind as u8);
    frame.extend_from_slice(&[0, 0, 0]);
    // Payloads come from pipe reads and log lines, far below 4 GiB.
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Incremental decoder: feed bytes as they arrive, take out whole frames.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
}

/// A header whose type byte is not 0, 1 or 2.
#[derive(Debug, thiserror::Error)]
#[error("bad stream frame header type {0}")]
pub struct BadFrame(pub u8);

impl FrameDecoder {
    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Takes the next complete frame, if one has fully arrived.
    pub fn next_frame(&mut self) -> Result<Option<(StreamKind, Vec<u8>)>, BadFrame> {
        if self.buffer.len() < 8 {
            return Ok(None);
        }
        let kind = StreamKind::from_byte(self.buffer[0]).ok_or(BadFrame(self.buffer[0]))?;
        let len = u32::from_be_bytes([
            self.buffer[4],
            self.buffer[5],
            self.buffer[6],
            self.buffer[7],
        ]) as usize;
        if self.buffer.len() < 8 + len {
            return Ok(None);
        }
        let payload = self.buffer[8..8 + len].to_vec();
        self.buffer.drain(..8 + len);
        Ok(Some((kind, payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_split_frames() {
        let mut bytes = encode_frame(StreamKind::Stdout, b"hello\n");
        bytes.extend(encode_frame(StreamKind::Stderr, b"oops"));
        assert_eq!(&bytes[..8], &[1, 0, 0, 0, 0, 0, 0, 6]);
        let mut decoder = FrameDecoder::default();
        decoder.feed(&bytes[..5]);
        assert!(decoder.next_frame().unwrap().is_none());
        decoder.feed(&bytes[5..]);
        let (kind, payload) = decoder.next_frame().unwrap().unwrap();
        assert_eq!(
            (kind, payload.as_slice()),
            (StreamKind::Stdout, &b"hello\n"[..])
        );
        let (kind, payload) = decoder.next_frame().unwrap().unwrap();
        assert_eq!(
            (kind, payload.as_slice()),
            (StreamKind::Stderr, &b"oops"[..])
        );
        assert!(decoder.next_frame().unwrap().is_none());
    }

    #[test]
    fn rejects_bad_type() {
        let mut decoder = FrameDecoder::default();
        decoder.feed(&[9, 0, 0, 0, 0, 0, 0, 0]);
        assert!(decoder.next_frame().is_err());
    }
}
