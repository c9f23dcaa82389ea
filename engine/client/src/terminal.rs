//! The client's own terminal for `run -t`: its size, and raw mode while attached (restored
//! on drop), so keys reach the container's terminal unchanged.

use std::io::IsTerminal;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::sys::termios::{self, SetArg, Termios};

/// Our terminal's `(height, width)`, if stdout is one.
pub fn size() -> Option<(u16, u16)> {
    size_of(std::io::stdout().as_fd())
}

/// The `ConsoleSize` docker sends with `-t` (`[height, width]`); `None` without `-t` or when
/// stdout is no terminal.
pub fn console_size(tty: bool) -> Option<[u16; 2]> {
    tty.then(size)
        .flatten()
        .map(|(height, width)| [height, width])
}

fn size_of(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut size = libc_winsize();
    // SAFETY: TIOCGWINSZ writes one winsize struct to a valid pointer.
    let result = unsafe { nix::libc::ioctl(fd.as_raw_fd(), nix::libc::TIOCGWINSZ, &mut size) };
    (result == 0 && size.ws_row > 0).then_some((size.ws_row, size.ws_col))
}

fn libc_winsize() -> nix::libc::winsize {
    nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// Whether our stdin is a terminal.
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Stdin in raw mode until dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts stdin into raw mode; `None` when stdin is not a terminal.
    pub fn enable() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}
