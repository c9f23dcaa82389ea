//! The API listeners: unix sockets (mode 0660, group `berth` when it exists), sockets handed
//! over by systemd (`fd://`, LISTEN_FDS/LISTEN_PID), and tcp only when asked for: with TLS
//! when configured, with a loud warning otherwise.

use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::sys::socket::{getsockname, AddressFamily, SockaddrLike, SockaddrStorage};
use tokio_rustls::TlsAcceptor;

/// One bound listener.
pub enum Listener {
    /// A unix socket; the path is removed at shutdown when berthd created it.
    Unix(tokio::net::UnixListener, Option<PathBuf>),
    /// A tcp socket: TLS when an acceptor is given, else root-equivalent for anyone who can
    /// reach it.
    Tcp(tokio::net::TcpListener, Option<TlsAcceptor>),
}

/// The first fd systemd passes (SD_LISTEN_FDS_START).
const LISTEN_FDS_START: RawFd = 3;

/// Opens every `-H`/`hosts` address. `group_gid` owns the unix sockets berthd creates; tcp
/// listeners speak TLS through `tls` when it is given.
pub fn open_all(
    hosts: &[String],
    group_gid: u32,
    tls: Option<(&TlsAcceptor, bool)>,
) -> Result<Vec<Listener>> {
    let mut listeners = Vec::new();
    let mut activated = None;
    for host in hosts {
        if let Some(path) = host.strip_prefix("unix://") {
            listeners.push(bind_unix(path, group_gid)?);
        } else if let Some(which) = host.strip_prefix("fd://") {
            let fds = match &activated {
                Some(fds) => fds,
                None => activated.insert(take_activated_fds()?),
            };
            listeners.extend(from_activated(fds, which, tls)?);
        } else if let Some(address) = host.strip_prefix("tcp://") {
            warn_about_tcp(&format!("tcp://{address}"), tls);
            let socket_address = berth_api::host::parse_tcp_address(address)
                .with_context(|| format!("invalid host \"tcp://{address}\""))?;
            let listener = std::net::TcpListener::bind(socket_address)
                .with_context(|| format!("failed to listen on tcp://{address}"))?;
            listener.set_nonblocking(true)?;
            listeners.push(Listener::Tcp(
                tokio::net::TcpListener::from_std(listener)?,
                tls.map(|(acceptor, _)| acceptor.clone()),
            ));
        } else {
            bail!("invalid host \"{host}\": expected unix://PATH, fd:// or tcp://HOST:PORT");
        }
    }
    Ok(listeners)
}

fn bind_unix(path: &str, group_gid: u32) -> Result<Listener> {
    if path.is_empty() || !path.starts_with('/') {
        bail!("invalid host \"unix://{path}\": the socket path must be absolute");
    }
    let path = PathBuf::from(path);
    let parent = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("cannot remove {}", path.display())),
    }
    let listener = bind_private_then_publish(&path, group_gid)?;
    listener.set_nonblocking(true)?;
    Ok(Listener::Unix(
        tokio::net::UnixListener::from_std(listener)?,
        Some(path),
    ))
}

/// Binds the socket in a fresh 0700 directory next to `path`, gives it mode 0660 and owner
/// root:`group_gid` there, then renames it into place: nobody else can connect before the mode
/// is set, whatever the umask (which is process-wide, so cannot be changed safely here).
fn bind_private_then_publish(
    path: &Path,
    group_gid: u32,
) -> Result<std::os::unix::net::UnixListener> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    // Short, so the temporary path fits in sun_path wherever the final one does.
    let private = parent.join(format!(".{}", std::process::id()));
    match std::fs::remove_dir_all(&private) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => {
            return Err(err).with_context(|| format!("cannot remove {}", private.display()))
        }
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .with_context(|| format!("cannot create {}", private.display()))?;
    let staged = private.join("s");
    let result = (|| {
        let listener = std::os::unix::net::UnixListener::bind(&staged)
            .with_context(|| format!("failed to listen on unix://{}", path.display()))?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o660))
            .with_context(|| format!("cannot chmod {}", staged.display()))?;
        std::os::unix::fs::chown(&staged, Some(0), Some(group_gid))
            .with_context(|| format!("cannot chown {}", staged.display()))?;
        std::fs::rename(&staged, path)
            .with_context(|| format!("cannot move the socket to {}", path.display()))?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&private);
    result
}

/// The fds systemd passed to this process, checked and marked close-on-exec; the LISTEN_*
/// variables are removed so children do not see them.
fn take_activated_fds() -> Result<Vec<RawFd>> {
    let pid_matches = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|count| count.parse::<i32>().ok())
        .unwrap_or(0);
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    if !pid_matches || count <= 0 {
        bail!(
            "no sockets found via socket activation: make sure the service was started by systemd"
        );
    }
    let fds: Vec<RawFd> = (LISTEN_FDS_START..LISTEN_FDS_START + count).collect();
    for fd in &fds {
        // SAFETY: fcntl on an fd number; a bad fd only returns EBADF.
        if unsafe { libc::fcntl(*fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            bail!("socket activation fd {fd} is not open");
        }
    }
    Ok(fds)
}

/// `fd://` takes every activated socket; `fd://N` only fd N.
fn from_activated(
    fds: &[RawFd],
    which: &str,
    tls: Option<(&TlsAcceptor, bool)>,
) -> Result<Vec<Listener>> {
    let chosen: Vec<RawFd> = if which.is_empty() {
        fds.to_vec()
    } else {
        let fd: RawFd = which
            .parse()
            .with_context(|| format!("invalid host \"fd://{which}\""))?;
        if !fds.contains(&fd) {
            bail!("too few socket activated files passed in by systemd: fd {fd} not found");
        }
        vec![fd]
    };
    chosen.into_iter().map(|fd| adopt(fd, tls)).collect()
}

fn adopt(fd: RawFd, tls: Option<(&TlsAcceptor, bool)>) -> Result<Listener> {
    let address: SockaddrStorage =
        getsockname(fd).with_context(|| format!("activated fd {fd} is not a socket"))?;
    match address.family() {
        Some(AddressFamily::Unix) => {
            // SAFETY: systemd handed this fd to us; nothing else in berthd owns it.
            let listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
            listener.set_nonblocking(true)?;
            Ok(Listener::Unix(
                tokio::net::UnixListener::from_std(listener)?,
                None,
            ))
        }
        Some(AddressFamily::Inet) | Some(AddressFamily::Inet6) => {
            warn_about_tcp(&format!("socket-activated fd {fd}"), tls);
            // SAFETY: as above.
            let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
            listener.set_nonblocking(true)?;
            Ok(Listener::Tcp(
                tokio::net::TcpListener::from_std(listener)?,
                tls.map(|(acceptor, _)| acceptor.clone()),
            ))
        }
        other => bail!("activated fd {fd} has unsupported address family {other:?}"),
    }
}

/// Says, loudly when it is unsafe, who can use the API on a tcp listener. `tls` carries
/// whether clients are verified.
fn warn_about_tcp(listener: &str, tls: Option<(&TlsAcceptor, bool)>) {
    match tls {
        Some((_, true)) => tracing::info!(listener, "API on tcp with TLS and client verification"),
        Some((_, false)) => {
            tracing::warn!(
                listener,
                "API on tcp with TLS but WITHOUT client verification (--tlsverify): anyone \
                 who can reach it gets root on this host"
            );
            eprintln!(
                "WARNING: berthd API on {listener} with TLS but without --tlsverify: this is \
                 root access for anyone who can reach it"
            );
        }
        None => {
            tracing::warn!(
                listener,
                "API listening on tcp WITHOUT TLS or authentication: anyone who can reach \
                 this address gets root on this host"
            );
            eprintln!(
                "WARNING: berthd API listening on {listener} without TLS: this is root access \
                 for anyone who can reach it"
            );
        }
    }
}

/// The gid of `group` from /etc/group (no NSS, so static binaries work); `None` when absent.
pub fn group_gid(group: &str) -> Result<Option<u32>> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(Some(gid));
    }
    let text = match std::fs::read_to_string("/etc/group") {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).context("cannot read /etc/group"),
    };
    Ok(text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == group)
            .then(|| fields.nth(1)?.parse().ok())
            .flatten()
    }))
}
