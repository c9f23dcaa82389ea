//! `process.terminal`: a pseudo-terminal made inside the container whose master end is sent
//! over `--console-socket` (SCM_RIGHTS) and whose slave end becomes init's controlling
//! terminal and stdio.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::Box as ConsoleSize;

use crate::error::{Context, Result};

/// Connects to the console socket; done before the root changes.
pub(crate) fn connect(path: &Path) -> Result<UnixStream> {
    UnixStream::connect(path).ctx(|| format!("--console-socket {}", path.display()))
}

/// Makes the pty, hands the master to the console socket and takes the slave as stdio.
pub(crate) fn setup(socket: &UnixStream, size: Option<ConsoleSize>) -> Result<()> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "opening /dev/ptmx".to_owned())?;
    grantpt(&master).ctx(|| "grantpt".to_owned())?;
    unlockpt(&master).ctx(|| "unlockpt".to_owned())?;
    let name = ptsname_r(&master).ctx(|| "ptsname".to_owned())?;
    if let Some(size) = size {
        let winsize = libc::winsize {
            ws_row: size.height() as u16,
            ws_col: size.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize struct.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &winsize) };
    }
    let slave: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&name)
        .ctx(|| format!("opening {name}"))?
        .into();
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(name.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .ctx(|| "sending the pty master to the console socket".to_owned())?;
    drop(master);
    nix::unistd::setsid().ctx(|| "setsid".to_owned())?;
    // SAFETY: TIOCSCTTY on a terminal fd we own.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| "making the pty the controlling terminal".to_owned());
    }
    for target in 0..3 {
        // SAFETY: dup2 onto stdio.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(std::io::Error::last_os_error()).ctx(|| "dup2 of the pty".to_owned());
        }
    }
    Ok(())
}

use std::os::unix::fs::OpenOptionsExt;
