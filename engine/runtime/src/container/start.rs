//! `start`: tell the waiting init (through the socket in the state directory) to exec the
//! user's process; an exec failure comes back on the same connection.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::validate_id;
use crate::error::{Context, Error, Result};
use crate::state::{Record, Status, STARTED_MARKER, START_SOCKET};
use crate::Runtime;

impl Runtime {
    /// Starts a created container: its init execs `process.args`.
    pub fn start(&self, id: &str) -> Result<()> {
        validate_id(id)?;
        let state_dir = self.root.join(id);
        let record = Record::load(&state_dir, id)?;
        let status = record.status();
        if status != Status::Created {
            return Err(Error::InvalidStatus {
                id: id.to_owned(),
                status: status.to_string(),
                operation: "start",
            });
        }
        let socket = state_dir.join(START_SOCKET);
        let mut stream = connect(&socket).ctx(|| format!("connecting to {}", socket.display()))?;
        let marker = state_dir.join(STARTED_MARKER);
        std::fs::File::create(&marker).ctx(|| format!("creating {}", marker.display()))?;
        let _ = std::fs::remove_file(&socket);
        stream
            .write_all(b"s")
            .ctx(|| "signalling the container init".to_owned())?;
        let mut failure = String::new();
        let _ = stream.read_to_string(&mut failure);
        if !failure.is_empty() {
            return Err(Error::Init(failure));
        }
        tracing::debug!(id, "container started");
        Ok(())
    }
}

/// Connects to a unix socket, going through /proc/self/fd when its path is too long for
/// `sockaddr_un`.
fn connect(path: &Path) -> std::io::Result<UnixStream> {
    use std::os::fd::AsRawFd;
    match UnixStream::connect(path) {
        Err(err) if err.kind() == std::io::ErrorKind::InvalidInput => {
            let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
                return Err(err);
            };
            let dir = std::fs::File::open(dir)?;
            let short = Path::new("/proc/self/fd")
                .join(dir.as_raw_fd().to_string())
                .join(name);
            UnixStream::connect(short)
        }
        other => other,
    }
}
