//! A minimal D-Bus client, enough to drive systemd's manager: a connection to systemd's
//! private socket (no bus daemon needed) or to a bus (with `Hello`), SASL EXTERNAL
//! authentication, method calls whose arguments are strings and `a(sv)` property lists of
//! string, boolean, `au` and `t` values, and the reply or error matched by serial. Messages are
//! little-endian; anything else in a reply is refused.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;

const FIELD_PATH: u8 = 1;
const FIELD_INTERFACE: u8 = 2;
const FIELD_MEMBER: u8 = 3;
const FIELD_ERROR_NAME: u8 = 4;
const FIELD_REPLY_SERIAL: u8 = 5;
const FIELD_DESTINATION: u8 = 6;
const FIELD_SIGNATURE: u8 = 8;

/// Replies bigger than this are refused (systemd's are a few hundred bytes).
const MAX_MESSAGE: usize = 1 << 20;

/// A property value in an `a(sv)` list.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    U32Array(Vec<u32>),
    U64(u64),
}

/// A method argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Str(String),
    /// `a(sv)`.
    Properties(Vec<(String, Value)>),
    /// `a(sa(sv))`, always empty here (StartTransientUnit's auxiliary units).
    NoAuxUnits,
}

/// A method call to make.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub destination: Option<&'a str>,
    pub path: &'a str,
    pub interface: &'a str,
    pub member: &'a str,
    pub args: Vec<Arg>,
}

/// What the peer answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A method return; its first string or object path argument, if any.
    Return(Option<String>),
    /// An error: its name and message.
    Error { name: String, message: String },
}

/// An authenticated connection.
pub struct Connection {
    stream: UnixStream,
    serial: u32,
}

impl Connection {
    /// Connects to the socket at `path` and authenticates as this process's uid.
    pub fn open(path: &Path) -> Result<Connection> {
        let mut stream =
            UnixStream::connect(path).with_context(|| format!("connect to {}", path.display()))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        let uid = nix::unistd::geteuid().as_raw().to_string();
        let hex_uid: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        stream.write_all(format!("\0AUTH EXTERNAL {hex_uid}\r\n").as_bytes())?;
        let answer = read_line(&mut stream)?;
        if !answer.starts_with("OK ") {
            bail!("{}: authentication refused: {answer}", path.display());
        }
        stream.write_all(b"BEGIN\r\n")?;
        Ok(Connection { stream, serial: 0 })
    }

    /// Connects to a bus (not a peer socket): authenticates, then says Hello.
    pub fn open_bus(path: &Path) -> Result<Connection> {
        let mut connection = Connection::open(path)?;
        let hello = Call {
            destination: Some("org.freedesktop.DBus"),
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member: "Hello",
            args: Vec::new(),
        };
        match connection.call(&hello)? {
            Reply::Return(_) => Ok(connection),
            Reply::Error { name, message } => bail!("Hello: {name}: {message}"),
        }
    }

    /// Sends `call` and waits for its reply, skipping signals and other messages.
    pub fn call(&mut self, call: &Call) -> Result<Reply> {
        self.serial += 1;
        let serial = self.serial;
        let message = encode_call(call, serial);
        self.stream
            .write_all(&message)
            .with_context(|| format!("send {}.{}", call.interface, call.member))?;
        loop {
            let message = read_message(&mut self.stream)
                .with_context(|| format!("reply to {}.{}", call.interface, call.member))?;
            if let Some(reply) = decode_reply(&message, serial)? {
                return Ok(reply);
            }
        }
    }
}

fn read_line(stream: &mut UnixStream) -> Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if line.len() > 512 {
            bail!("authentication line too long");
        }
        stream
            .read_exact(&mut byte)
            .context("read authentication reply")?;
        line.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&line[..line.len() - 2]).into_owned())
}

/// Little-endian marshaling with alignment counted from the start of the buffer.
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn align(&mut self, to: usize) {
        while !self.buf.len().is_multiple_of(to) {
            self.buf.push(0);
        }
    }
    fn u8(&mut self, value: u8) {
        self.buf.push(value);
    }
    fn u32(&mut self, value: u32) {
        self.align(4);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }
    fn u64(&mut self, value: u64) {
        self.align(8);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }
    fn string(&mut self, value: &str) {
        self.u32(value.len() as u32);
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.push(0);
    }
    fn signature(&mut self, value: &str) {
        self.u8(value.len() as u8);
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.push(0);
    }
    /// An array: the length, padding to the elements' alignment, then `elements`.
    fn array(&mut self, element_alignment: usize, elements: impl FnOnce(&mut Writer)) {
        self.align(4);
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.align(element_alignment);
        let start = self.buf.len();
        elements(self);
        let length = (self.buf.len() - start) as u32;
        self.buf[at..at + 4].copy_from_slice(&length.to_le_bytes());
    }
    fn variant(&mut self, value: &Value) {
        match value {
            Value::Str(text) => {
                self.signature("s");
                self.string(text);
            }
            Value::Bool(flag) => {
                self.signature("b");
                self.u32(u32::from(*flag));
            }
            Value::U32Array(items) => {
                self.signature("au");
                self.array(4, |w| items.iter().for_each(|item| w.u32(*item)));
            }
            Value::U64(number) => {
                self.signature("t");
                self.u64(*number);
            }
        }
    }
    fn properties(&mut self, properties: &[(String, Value)]) {
        self.array(8, |w| {
            for (name, value) in properties {
                w.align(8);
                w.string(name);
                w.variant(value);
            }
        });
    }
}

fn body_signature(args: &[Arg]) -> String {
    args.iter()
        .map(|arg| match arg {
            Arg::Str(_) => "s",
            Arg::Properties(_) => "a(sv)",
            Arg::NoAuxUnits => "a(sa(sv))",
        })
        .collect()
}

fn encode_call(call: &Call, serial: u32) -> Vec<u8> {
    // The body starts 8-aligned in the message, so aligning within it is the same.
    let mut body = Writer::default();
    for arg in &call.args {
        match arg {
            Arg::Str(text) => body.string(text),
            Arg::Properties(properties) => body.properties(properties),
            Arg::NoAuxUnits => body.array(8, |_| {}),
        }
    }
    let signature = body_signature(&call.args);

    let mut message = Writer::default();
    message.buf.extend_from_slice(&[b'l', METHOD_CALL, 0, 1]);
    message.u32(body.buf.len() as u32);
    message.u32(serial);
    message.array(8, |w| {
        let mut field = |code: u8, type_code: &str, value: &str| {
            w.align(8);
            w.u8(code);
            w.signature(type_code);
            if type_code == "g" {
                w.signature(value);
            } else {
                w.string(value);
            }
        };
        field(FIELD_PATH, "o", call.path);
        field(FIELD_INTERFACE, "s", call.interface);
        field(FIELD_MEMBER, "s", call.member);
        if let Some(destination) = call.destination {
            field(FIELD_DESTINATION, "s", destination);
        }
        if !signature.is_empty() {
            field(FIELD_SIGNATURE, "g", &signature);
        }
    });
    message.align(8);
    message.buf.extend_from_slice(&body.buf);
    message.buf
}

fn padded(length: usize, to: usize) -> usize {
    length.div_ceil(to) * to
}

fn read_message(stream: &mut UnixStream) -> Result<Vec<u8>> {
    let mut fixed = [0u8; 16];
    stream.read_exact(&mut fixed)?;
    if fixed[0] != b'l' {
        bail!("big-endian D-Bus messages are not supported");
    }
    let word =
        |at: usize| u32::from_le_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]]);
    let body_length = word(4) as usize;
    let fields_length = word(12) as usize;
    let total = padded(16 + fields_length, 8) + body_length;
    if total > MAX_MESSAGE {
        bail!("D-Bus message of {total} bytes is too large");
    }
    let mut message = fixed.to_vec();
    message.resize(total, 0);
    stream.read_exact(&mut message[16..])?;
    Ok(message)
}

/// Little-endian reading with alignment counted from the start of the message.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn align(&mut self, to: usize) {
        self.at = padded(self.at, to);
    }
    fn take(&mut self, count: usize) -> Result<&[u8]> {
        let end = self
            .at
            .checked_add(count)
            .filter(|end| *end <= self.buf.len());
        let Some(end) = end else {
            bail!("truncated D-Bus message");
        };
        let bytes = &self.buf[self.at..end];
        self.at = end;
        Ok(bytes)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        self.align(4);
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
    fn string(&mut self) -> Result<String> {
        let length = self.u32()? as usize;
        let text = String::from_utf8_lossy(self.take(length)?).into_owned();
        self.take(1)?;
        Ok(text)
    }
    fn signature(&mut self) -> Result<String> {
        let length = self.u8()? as usize;
        let text = String::from_utf8_lossy(self.take(length)?).into_owned();
        self.take(1)?;
        Ok(text)
    }
}

/// The reply to `serial` in `message`, or `None` when the message is something else.
fn decode_reply(message: &[u8], serial: u32) -> Result<Option<Reply>> {
    let kind = message[1];
    let mut reader = Reader {
        buf: message,
        at: 12,
    };
    let fields_length = reader.u32()? as usize;
    let fields_end = 16 + fields_length;
    let (mut reply_serial, mut error_name, mut signature) = (None, None, String::new());
    while reader.at < fields_end {
        reader.align(8);
        if reader.at >= fields_end {
            break;
        }
        let code = reader.u8()?;
        let type_code = reader.signature()?;
        match type_code.as_str() {
            "u" => {
                let value = reader.u32()?;
                if code == FIELD_REPLY_SERIAL {
                    reply_serial = Some(value);
                }
            }
            "s" | "o" => {
                let value = reader.string()?;
                if code == FIELD_ERROR_NAME {
                    error_name = Some(value);
                }
            }
            "g" => {
                let value = reader.signature()?;
                if code == FIELD_SIGNATURE {
                    signature = value;
                }
            }
            other => bail!("unexpected D-Bus header field type {other:?}"),
        }
    }
    if reply_serial != Some(serial) || !matches!(kind, METHOD_RETURN | ERROR) {
        return Ok(None);
    }
    reader.at = padded(fields_end, 8);
    let first_string = match signature.chars().next() {
        Some('s' | 'o') => Some(reader.string()?),
        _ => None,
    };
    Ok(Some(if kind == ERROR {
        Reply::Error {
            name: error_name.unwrap_or_default(),
            message: first_string.unwrap_or_default(),
        }
    } else {
        Reply::Return(first_string)
    }))
}

#[cfg(test)]
mod tests;
