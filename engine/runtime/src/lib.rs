//! berth's OCI runtime library: creates, starts, signals, waits for and deletes containers
//! described by an OCI runtime-spec `config.json`. `berthd` and `cargo xtask binary` call it;
//! the `berth-runtime` binary is a thin runc-compatible CLI over it.
//!
//! # Model
//!
//! A [`Runtime`] keeps one state directory per container under its root (the CLI's
//! `--root`, `/run/berth-runtime` by default). [`Runtime::create`] clones the container's init
//! as a **direct child of the calling process**, executing the init binary through a
//! handle nothing can write to (CVE-2019-5736): a private read-only overlay of it, or a sealed
//! in-memory copy on kernels without the new mount API. Init sets the container up (namespaces, mounts, pivot_root,
//! cgroup, capabilities, seccomp...) and waits; [`Runtime::start`] makes it exec the user's
//! process, whose pid is [`Container::pid`]. The caller learns the exit code with
//! [`Runtime::wait`] (128 + signal for a killed process) and cleans up with
//! [`Runtime::delete`]. [`Runtime::run`] does all four.
//!
//! # Contract for callers
//!
//! - Stdio comes in [`CreateOptions`] as owned fds (pipes, files, `/dev/null`); `None`
//!   inherits the caller's. The runtime closes its copies once init has them.
//! - Only the process that called [`Runtime::create`] can [`Runtime::wait`]; others (a
//!   restarted daemon, another CLI call) see the status through [`Runtime::state`].
//! - [`Runtime::delete`] refuses a running container unless `force`; it kills a created one,
//!   reaps init if it is the caller's child, and removes the cgroup and the state. A create
//!   whose caller was killed before it saved the state is deleted too: what joined its cgroup
//!   is killed, and the cgroup (every hierarchy) and the state go.
//! - Every error is one [`Error`] line naming the field, path or id; a failed create leaves
//!   no state, cgroup or process behind.
//! - A [`Runtime`] is `Send + Sync`; share one per state root.
//!
//! # The init hook
//!
//! Init is the init binary re-executed with a marker in its environment. That binary must call
//! [`init_hook`] first thing in `main`. By default the init binary is the calling program
//! itself (`/proc/self/exe`); a program that does not call the hook points the runtime at the
//! `berth-runtime` binary with [`Runtime::with_init_binary`].
//!
//! # Example
//!
//! ```no_run
//! use berth_runtime::{Bundle, CreateOptions, Runtime};
//! use oci_spec::runtime::{ProcessBuilder, RootBuilder};
//!
//! fn main() -> Result<(), berth_runtime::Error> {
//!     berth_runtime::init_hook();
//!     let mut spec = berth_runtime::default_spec();
//!     spec.set_root(Some(RootBuilder::default().path("/srv/rootfs").readonly(true).build().unwrap()));
//!     spec.set_process(Some(ProcessBuilder::default()
//!         .args(vec!["echo".into(), "hi".into()])
//!         .cwd("/")
//!         .build()
//!         .unwrap()));
//!     let bundle = Bundle::new("/srv", spec)?;
//!     let runtime = Runtime::new("/run/my-tool");
//!     let status = runtime.run("build-1", &bundle, CreateOptions::default())?;
//!     std::process::exit(status.code());
//! }
//! ```

mod capabilities;
mod cgroups;
mod console;
mod container;
mod error;
mod fsutil;
mod in_root;
mod logger;
mod namespaces;
mod process;
mod rlimits;
mod rootfs;
mod seccomp;
mod signal;
mod spec;
mod state;
mod syscall;
pub mod test_pause;
mod user;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use cgroups::Stats;
pub use container::{Container, CreateOptions, ExecProcess, ExitStatus};
pub use error::{Error, Result};
pub use in_root::resolve_in_root;
pub use logger::Logger;
pub use oci_spec;
pub use process::init::init_hook;
pub use signal::{parse_signal, Signal};
pub use spec::{default_spec, Bundle, CONFIG_FILE};
pub use state::{State, Status};

/// The CLI's default state root.
pub const DEFAULT_ROOT: &str = "/run/berth-runtime";

/// An OCI runtime rooted at a state directory.
#[derive(Debug)]
pub struct Runtime {
    root: PathBuf,
    init_binary: PathBuf,
    exe: OnceLock<OwnedFd>,
}

impl Runtime {
    /// A runtime keeping container state under `root` and using the calling binary as init.
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime {
            root: root.into(),
            init_binary: PathBuf::from("/proc/self/exe"),
            exe: OnceLock::new(),
        }
    }

    /// Uses `binary` (which calls [`init_hook`], like `berth-runtime`) as the container init.
    pub fn with_init_binary(mut self, binary: impl Into<PathBuf>) -> Runtime {
        self.init_binary = binary.into();
        self
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The unwritable handle on the init binary, made once per runtime.
    fn exe(&self) -> Result<&OwnedFd> {
        if let Some(exe) = self.exe.get() {
            return Ok(exe);
        }
        let scratch = if self.root.is_dir() {
            self.root.clone()
        } else {
            std::env::temp_dir()
        };
        let copy = process::spawn::above_stdio(process::spawn::unwritable_exe(
            &self.init_binary,
            &scratch,
        )?)?;
        Ok(self.exe.get_or_init(|| copy))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_runtime_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Runtime>();
    }
}
