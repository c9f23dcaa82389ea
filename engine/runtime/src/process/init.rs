//! The init side: runs in the freshly cloned process (from the unwritable handle on the
//! runtime binary), sets the container up, reports to the runtime, waits for `start` on a
//! socket in the state directory, and execs the user's process. For `exec` it only joins the
//! running container and execs at once.

use std::ffi::{CString, OsString};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};

use nix::sched::CloneFlags;

use super::channel::{self, InitConfig, Report};
use super::exec;
use crate::error::{Context, Error, Result};
use crate::seccomp::{self, Filter};
use crate::state::START_SOCKET;
use crate::syscall::{Kernel, Linux};
use crate::{capabilities, console, namespaces, rlimits, rootfs, user};

/// The environment variable that marks a process as a container init; its value is the fd of
/// the channel to the runtime.
pub(crate) const INIT_ENV: &str = "_BERTH_RUNTIME_INIT";

/// Runs the container init if this process was started as one, and never returns then;
/// otherwise returns at once.
///
/// Call it first thing in `main` of any binary that [`crate::Runtime`] uses as its init
/// binary (by default the calling binary itself, see [`crate::Runtime::with_init_binary`]).
pub fn init_hook() {
    if let Some(value) = std::env::var_os(INIT_ENV) {
        std::process::exit(run(value));
    }
}

/// What init holds between setup and exec.
struct Ready {
    /// Where `start` connects; none for an exec.
    listener: Option<UnixListener>,
    program: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    no_new_privileges: bool,
    late_filter: Option<Filter>,
}

fn run(value: OsString) -> i32 {
    let Some(fd) = value.to_str().and_then(|v| v.parse::<RawFd>().ok()) else {
        eprintln!("berth-runtime: {INIT_ENV} is not an fd number");
        return 127;
    };
    exec::mark_fds_cloexec();
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    // SAFETY: the runtime passed this end of a socketpair at `fd`, and nothing else owns it.
    let mut channel = unsafe { UnixStream::from_raw_fd(fd) };
    let config = match channel::recv::<InitConfig>(&mut channel) {
        Ok(Some(config)) => config,
        _ => return 127,
    };
    let ready = match prepare(&config) {
        Ok(ready) => ready,
        Err(err) => {
            let _ = channel::send(&mut channel, &Report::Failed(err.to_string()));
            return 1;
        }
    };
    if config.exec {
        // The channel is close-on-exec: its EOF tells the runtime the exec worked.
        let err = exec_now(&ready);
        let _ = channel::send(&mut channel, &Report::Failed(err.to_string()));
        return 127;
    }
    if channel::send(&mut channel, &Report::Ready).is_err() {
        return 1;
    }
    drop(channel);
    wait_and_exec(ready)
}

fn prepare(config: &InitConfig) -> Result<Ready> {
    let spec = &config.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::spec("process", "missing"))?;
    // Into the container's cgroup before anything is allocated for it, and before a new cgroup
    // namespace is made, so that namespace is rooted at the container's cgroup.
    config
        .cgroup
        .join_self()
        .map_err(|err| Error::Init(format!("joining the container's cgroup: {err}")))?;
    // The console socket is a host path: connect before a joined mount namespace hides it.
    let console = config
        .console_socket
        .as_deref()
        .map(console::connect)
        .transpose()?;
    let plan = namespaces::plan(spec);
    namespaces::enter_all(&plan.joins)?;
    // Kernels before 4.6 (CentOS 7) have no cgroup namespaces: the container then sees the
    // host's cgroup paths, as with runc on such kernels.
    let new_cgroup = plan.new_cgroup && std::path::Path::new("/proc/self/ns/cgroup").exists();
    if new_cgroup {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
            .ctx(|| "linux.namespaces: new cgroup namespace".to_owned())?;
    } else if plan.new_cgroup {
        tracing::debug!("no cgroup namespaces in this kernel; sharing the host's");
    }
    if config.exec {
        // Joining the mount namespace moved root and cwd into the container's root.
        return finish(config, console);
    }
    if plan.clone_flags.contains(CloneFlags::CLONE_NEWNET) {
        // A new network namespace starts with lo down; runc and dockerd bring it up.
        Linux
            .bring_loopback_up()
            .ctx(|| "linux.namespaces: bringing up lo in the new network namespace".to_owned())?;
    }
    if let Some(hostname) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(hostname).ctx(|| format!("hostname {hostname:?}"))?;
    }
    if let Some(domainname) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        // SAFETY: setdomainname reads `len` bytes of the name.
        if unsafe { libc::setdomainname(domainname.as_ptr().cast(), domainname.len()) } < 0 {
            return Err(std::io::Error::last_os_error())
                .ctx(|| format!("domainname {domainname:?}"));
        }
    }
    let linux = spec.linux().as_ref();
    for (key, value) in linux
        .and_then(|l| l.sysctl().as_ref())
        .into_iter()
        .flatten()
    {
        std::fs::write(namespaces::sysctl_path(key), value)
            .ctx(|| format!("linux.sysctl.{key}"))?;
    }
    if let Some(score) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", score.to_string())
            .ctx(|| "process.oomScoreAdj".to_owned())?;
    }
    // Bound relative to the state directory: a unix socket path is limited to 108 bytes.
    nix::unistd::chdir(&config.state_dir)
        .ctx(|| format!("chdir {}", config.state_dir.display()))?;
    let listener = UnixListener::bind(START_SOCKET)
        .ctx(|| format!("binding {}", config.state_dir.join(START_SOCKET).display()))?;

    let target = rootfs::Target {
        rootfs: &config.rootfs,
        bundle: &config.bundle,
        cgroup: &config.cgroup,
        new_cgroup_namespace: new_cgroup,
    };
    rootfs::prepare(&Linux, spec, &target)?;
    rootfs::enter(&Linux, &config.rootfs, config.no_pivot)?;
    rootfs::finish(&Linux, spec)?;
    let mut ready = finish(config, console)?;
    ready.listener = Some(listener);
    Ok(ready)
}

/// The process's own setup, in the container's root: terminal, cwd, rlimits, environment,
/// seccomp, capabilities and user.
fn finish(config: &InitConfig, console: Option<UnixStream>) -> Result<Ready> {
    let spec = &config.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::spec("process", "missing"))?;
    let linux = spec.linux().as_ref();
    if process.terminal() == Some(true) {
        match &console {
            Some(socket) => console::setup(socket, process.console_size())?,
            None if config.inherit_terminal => {}
            None => {
                return Err(Error::spec(
                    "process.terminal",
                    "a terminal needs --console-socket",
                ))
            }
        }
    }
    drop(console);
    exec::enter_cwd(process.cwd())?;
    rlimits::apply(process.rlimits().as_deref().unwrap_or_default())?;

    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|var| var.starts_with("HOME=")) {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        env.push(format!(
            "HOME={}",
            user::home(&passwd, process.user().uid())
        ));
    }
    let filter = match linux.and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => Some(seccomp::compile(profile)?),
        None => None,
    };
    let no_new_privileges = process.no_new_privileges() == Some(true);
    // Without no_new_privs a filter needs CAP_SYS_ADMIN: install it while init still has it.
    let late_filter = match filter {
        Some(filter) if !no_new_privileges => {
            seccomp::install(&filter)?;
            None
        }
        other => other,
    };
    let caps = config.capabilities;
    capabilities::apply_bounding(&caps)?;
    user::switch(process.user())?;
    capabilities::apply_sets(&caps)?;

    let args = process.args().as_deref().unwrap_or_default();
    let program = exec::find_program(&args[0], &env)?;
    Ok(Ready {
        listener: None,
        program: exec::path_cstring(&program)?,
        argv: exec::cstrings(args.iter().map(String::as_str))?,
        envp: exec::cstrings(env.iter().map(String::as_str))?,
        no_new_privileges,
        late_filter,
    })
}

/// Waits for `start`, then execs. Returns only on failure, with init's exit code.
fn wait_and_exec(ready: Ready) -> i32 {
    let Some(listener) = &ready.listener else {
        return 1;
    };
    let Ok((mut start, _)) = listener.accept() else {
        return 1;
    };
    let mut byte = [0u8; 1];
    if start.read_exact(&mut byte).is_err() {
        return 1;
    }
    let err = exec_now(&ready);
    let _ = start.write_all(err.to_string().as_bytes());
    127
}

/// The last steps (no_new_privs, a late seccomp filter, default signals) and the exec;
/// returns only the error.
fn exec_now(ready: &Ready) -> Error {
    let result = (|| -> Result<()> {
        if ready.no_new_privileges {
            // SAFETY: PR_SET_NO_NEW_PRIVS takes 1.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
                return Err(std::io::Error::last_os_error())
                    .ctx(|| "process.noNewPrivileges".to_owned());
            }
        }
        if let Some(filter) = &ready.late_filter {
            seccomp::install(filter)?;
        }
        exec::reset_signals();
        let argv: Vec<*const libc::c_char> = ready
            .argv
            .iter()
            .map(|arg| arg.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp: Vec<*const libc::c_char> = ready
            .envp
            .iter()
            .map(|var| var.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        // SAFETY: argv and envp are NUL-terminated arrays of live C strings.
        unsafe { libc::execve(ready.program.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        Err(std::io::Error::last_os_error())
            .ctx(|| format!("exec {}", ready.program.to_string_lossy()))
    })();
    match result {
        Err(err) => err,
        Ok(()) => Error::Init("exec returned".to_owned()),
    }
}
