//! The container's init process: the parent side that clones it into new namespaces from a
//! sealed copy of the runtime binary, the messages the two sides exchange, and the init side
//! that sets the container up and finally execs the user's process.

mod channel;
mod exe;
mod exec;
pub(crate) mod init;
pub(crate) mod spawn;
