//! sd_notify: tells systemd (Type=notify) when the API serves and when berthd stops, through
//! the datagram socket in $NOTIFY_SOCKET (a leading `@` names an abstract socket).

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` (e.g. "READY=1") when $NOTIFY_SOCKET is set; failures are logged, not fatal.
pub fn notify(state: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let target = target.to_string_lossy().into_owned();
    if let Err(err) = send(&target, state) {
        tracing::warn!(socket = target, state, error = %err, "sd_notify failed");
    }
}

fn send(target: &str, state: &str) -> std::io::Result<()> {
    let address = match target.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
        None => SocketAddr::from_pathname(target)?,
    };
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(state.as_bytes(), &address)?;
    Ok(())
}
