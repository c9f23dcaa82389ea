//! The stdio of a container (or of a process exec'd in one) as berthd holds it: pipes for stdout and stderr, or with `Tty` a
//! pseudo-terminal whose master berth-runtime sends over a console socket; a pipe for stdin
//! with `OpenStdin` (/dev/null otherwise); and the writer and terminal that attach and resize
//! use while the container runs.

use std::fs::File;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use berth_api::stream::StreamKind;
use berth_runtime::CreateOptions;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

/// How the container's output reaches the daemon.
pub struct Output {
    pub fd: OwnedFd,
    pub kind: StreamKind,
}

/// What the daemon keeps once the container exists.
pub struct Attached {
    pub outputs: Vec<Output>,
    /// Writes to the container's stdin (the pipe, or the terminal).
    pub stdin: Option<File>,
    /// The terminal's master, for resizes.
    pub terminal: Option<File>,
}

/// The daemon's ends, made before create and taken up after it.
pub enum Pending {
    Pipes {
        stdout: OwnedFd,
        stderr: OwnedFd,
        stdin: Option<OwnedFd>,
    },
    Terminal {
        listener: UnixListener,
        path: PathBuf,
    },
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("cannot create a pipe")
}

/// Makes the pipes, or with `tty` the console socket at `console_socket`: the process's ends
/// for the runtime, and the daemon's.
pub fn prepare(
    tty: bool,
    open_stdin: bool,
    console_socket: &Path,
) -> Result<(CreateOptions, Pending)> {
    if tty {
        let path = console_socket.to_path_buf();
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        let options = CreateOptions {
            console_socket: Some(path.clone()),
            ..Default::default()
        };
        return Ok((options, Pending::Terminal { listener, path }));
    }
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let (stdin_read, stdin_write) = if open_stdin {
        let (read, write) = pipe()?;
        (read, Some(write))
    } else {
        let null = File::open("/dev/null").context("cannot open /dev/null")?;
        (null.into(), None)
    };
    let options = CreateOptions {
        stdin: Some(stdin_read),
        stdout: Some(stdout_write),
        stderr: Some(stderr_write),
        ..Default::default()
    };
    let pending = Pending::Pipes {
        stdout: stdout_read,
        stderr: stderr_read,
        stdin: stdin_write,
    };
    Ok((options, pending))
}

impl Pending {
    /// The daemon's ends once the runtime has created the container (and, with a terminal,
    /// sent its master).
    pub fn attach(self) -> Result<Attached> {
        match self {
            Pending::Pipes {
                stdout,
                stderr,
                stdin,
            } => Ok(Attached {
                outputs: vec![
                    Output {
                        fd: stdout,
                        kind: StreamKind::Stdout,
                    },
                    Output {
                        fd: stderr,
                        kind: StreamKind::Stderr,
                    },
                ],
                stdin: stdin.map(File::from),
                terminal: None,
            }),
            Pending::Terminal { listener, path } => {
                let master = receive_master(&listener);
                let _ = std::fs::remove_file(&path);
                let master = File::from(master?);
                let output = master
                    .try_clone()
                    .context("cannot duplicate the terminal")?;
                Ok(Attached {
                    outputs: vec![Output {
                        fd: output.into(),
                        kind: StreamKind::Stdout,
                    }],
                    stdin: Some(
                        master
                            .try_clone()
                            .context("cannot duplicate the terminal")?,
                    ),
                    terminal: Some(master),
                })
            }
        }
    }
}

/// Takes the pty master that init sent before it reported ready, so it is already queued.
fn receive_master(listener: &UnixListener) -> Result<OwnedFd> {
    listener.set_nonblocking(true)?;
    let (stream, _) = listener
        .accept()
        .map_err(|err| anyhow!("the runtime sent no terminal: {err}"))?;
    stream.set_nonblocking(false)?;
    let mut name = [0u8; 128];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let message = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .context("cannot receive the terminal from the runtime")?;
    for control in message.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = control {
            let mut fds = fds.into_iter();
            if let Some(fd) = fds.next() {
                for extra in fds {
                    // SAFETY: received fds are ours to close.
                    drop(unsafe { OwnedFd::from_raw_fd(extra) });
                }
                // SAFETY: a fresh fd received over SCM_RIGHTS, owned by nobody else.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    bail!("the runtime's console message carried no terminal")
}

/// Sets the terminal's size, as `TIOCSWINSZ` on the master.
pub fn resize(terminal: &File, height: u16, width: u16) -> std::io::Result<()> {
    let size = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize struct from a valid pointer.
    if unsafe { libc::ioctl(terminal.as_raw_fd(), libc::TIOCSWINSZ, &size) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
