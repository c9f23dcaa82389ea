//! A reader that goes away (`berth images | head -1`) ends berth quietly, killed by SIGPIPE as
//! docker is, instead of a "failed printing to stdout" panic (exit 101) or an error line.

use std::os::fd::BorrowedFd;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// Installs the panic hook that turns a failed print to a closed stdout or stderr into the
/// quiet SIGPIPE death; other panics print as before.
pub fn install() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") && output_reader_gone() {
            die_of_sigpipe();
        }
        default(info);
    }));
}

/// Ends berth quietly when `err` comes from writing to stdout or stderr after its reader went.
pub fn exit_if_caused(err: &anyhow::Error) {
    let broken_pipe = err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe && output_reader_gone() {
        die_of_sigpipe();
    }
}

/// Whether stdout or stderr is a pipe or socket whose reading end is closed.
fn output_reader_gone() -> bool {
    [1, 2].into_iter().any(|fd| {
        // SAFETY: fds 1 and 2 stay open for the life of the process; poll only reads them.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
        poll(&mut fds, PollTimeout::ZERO).is_ok()
            && fds[0]
                .revents()
                .is_some_and(|events| events.contains(PollFlags::POLLERR))
    })
}

/// Dies of SIGPIPE with the default action, as a Go program such as docker does.
fn die_of_sigpipe() -> ! {
    use nix::sys::signal::{raise, signal, SigHandler, Signal};
    // SAFETY: restores SIGPIPE's default action; no handler of ours is replaced.
    unsafe {
        let _ = signal(Signal::SIGPIPE, SigHandler::SigDfl);
    }
    let _ = raise(Signal::SIGPIPE);
    std::process::exit(141)
}
