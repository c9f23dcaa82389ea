//! The messages between the runtime and the container's init: a length-prefixed JSON frame in
//! each direction over a socketpair.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use oci_spec::runtime::Spec;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::capabilities::Sets;
use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};

/// What init needs to set the container up.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct InitConfig {
    #[serde(with = "spec_as_json")]
    pub spec: Spec,
    pub rootfs: PathBuf,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    pub no_pivot: bool,
    pub console_socket: Option<PathBuf>,
    /// With `process.terminal` and no console socket, keep the stdio init was given.
    pub inherit_terminal: bool,
    pub cgroup: Cgroup,
    /// The capability sets, already checked against the host bounding set.
    pub capabilities: Sets,
    /// A process for a running container (`exec`): every namespace is joined, the root is
    /// already set up, and init execs at once instead of waiting for `start`; the channel
    /// closing on exec is its success.
    pub exec: bool,
}

/// The spec travels as a JSON string and is parsed with [`crate::spec::parse_spec`], the same
/// code that reads config.json, instead of a second generated deserializer for [`Spec`].
mod spec_as_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Spec;

    pub fn serialize<S: Serializer>(spec: &Spec, serializer: S) -> Result<S::Ok, S::Error> {
        let json = serde_json::to_string(spec).map_err(serde::ser::Error::custom)?;
        json.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Spec, D::Error> {
        let json = String::deserialize(deserializer)?;
        crate::spec::parse_spec(json.as_bytes(), "the spec sent to init")
            .map_err(serde::de::Error::custom)
    }
}

/// What init answers once set up (or failing to).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Report {
    /// Set up and waiting for `start`.
    Ready,
    /// Setup failed; the one-line reason.
    Failed(String),
}

pub(crate) fn send<T: Serialize>(stream: &mut UnixStream, message: &T) -> Result<()> {
    let body = serde_json::to_vec(message).map_err(|err| Error::Io {
        context: "encoding an init message".to_owned(),
        source: err.into(),
    })?;
    let length = u32::try_from(body.len()).map_err(|_| Error::Init("message too large".into()))?;
    let mut frame = length.to_le_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream
        .write_all(&frame)
        .ctx(|| "sending to the container init".to_owned())
}

/// Reads one message; `None` when the other side closed the socket first.
pub(crate) fn recv<T: DeserializeOwned>(stream: &mut UnixStream) -> Result<Option<T>> {
    let mut length = [0u8; 4];
    match stream.read_exact(&mut length) {
        Ok(()) => {}
        Err(err) if err.kind() == ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err).ctx(|| "reading from the container init".to_owned()),
    }
    let mut body = vec![0u8; u32::from_le_bytes(length) as usize];
    stream
        .read_exact(&mut body)
        .ctx(|| "reading from the container init".to_owned())?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|err| Error::Io {
            context: "decoding an init message".to_owned(),
            source: err.into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        send(&mut a, &Report::Failed("bad".into())).unwrap();
        drop(a);
        match recv::<Report>(&mut b).unwrap() {
            Some(Report::Failed(reason)) => assert_eq!(reason, "bad"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(recv::<Report>(&mut b).unwrap().is_none());
    }
}
