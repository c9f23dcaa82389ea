//! `create`: validate the bundle, record the container, make its cgroup, clone init and wait
//! until it is set up and waiting for `start`. On failure nothing is left behind.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{validate_id, Container};
use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::process::spawn::{self, InitConfig, Report, Stdio};
use crate::spec::Bundle;
use crate::state::{proc_stat, Record, CGROUPS_PATH_FILE};
use crate::{capabilities, fsutil, namespaces, Runtime};

/// How to create a container. `Default` inherits the caller's stdio.
#[derive(Debug, Default)]
pub struct CreateOptions {
    /// The container's stdin; `None` inherits the caller's.
    pub stdin: Option<OwnedFd>,
    /// The container's stdout; `None` inherits the caller's.
    pub stdout: Option<OwnedFd>,
    /// The container's stderr; `None` inherits the caller's.
    pub stderr: Option<OwnedFd>,
    /// Where to write init's host pid.
    pub pid_file: Option<PathBuf>,
    /// A unix socket that receives the pty master when `process.terminal` is set.
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// With `process.terminal` but no console socket, keep the given stdio instead of failing.
    pub inherit_terminal: bool,
}

/// Undoes a half-made container when dropped while armed.
struct Cleanup {
    state_dir: PathBuf,
    cgroup: Option<Cgroup>,
    pid: Option<i32>,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
        }
        if let Some(cgroup) = &self.cgroup {
            cgroup.remove();
        }
        let _ = fs::remove_dir_all(&self.state_dir);
    }
}

impl Runtime {
    /// Creates container `id` from `bundle`: when this returns, init is set up inside the
    /// container and waits for [`Runtime::start`]. Init is a child of the calling process.
    pub fn create(&self, id: &str, bundle: &Bundle, options: CreateOptions) -> Result<Container> {
        validate_id(id)?;
        bundle.validate()?;
        let spec = bundle.spec();
        let rootfs = bundle.rootfs()?;
        let rootfs = rootfs
            .canonicalize()
            .ctx(|| format!("root.path {}", rootfs.display()))?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .ctx(|| format!("creating state root {}", self.root.display()))?;
        let state_dir = self.root.join(id);
        match fs::create_dir(&state_dir) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists(id.to_owned()))
            }
            Err(err) => return Err(err).ctx(|| format!("creating {}", state_dir.display())),
        }
        let mut cleanup = Cleanup {
            state_dir: state_dir.clone(),
            cgroup: None,
            pid: None,
            armed: true,
        };

        let linux = spec.linux().as_ref();
        let cgroups_path = linux
            .and_then(|l| l.cgroups_path().clone())
            .unwrap_or_else(|| Path::new("/").join(id));
        let resources = linux.and_then(|l| l.resources().as_ref());
        let intent = state_dir.join(CGROUPS_PATH_FILE);
        fs::write(&intent, cgroups_path.as_os_str().as_bytes())
            .ctx(|| format!("writing {}", intent.display()))?;
        let cgroup = Cgroup::create(&cgroups_path, resources).map_err(|err| {
            Error::Init(format!(
                "linux.cgroupsPath ({}): {err}",
                cgroups_path.display()
            ))
        })?;
        cleanup.cgroup = Some(cgroup.clone());

        let plan = namespaces::plan(spec);
        let stdio = Stdio {
            stdin: options.stdin,
            stdout: options.stdout,
            stderr: options.stderr,
        };
        let spawned = spawn::spawn(self.exe()?, &plan, stdio)?;
        cleanup.pid = Some(spawned.pid);
        let mut channel = spawned.channel;
        // Init joins the cgroup itself, first thing (see Cgroup::join_self).
        let config = InitConfig {
            spec: spec.clone(),
            rootfs: rootfs.clone(),
            bundle: bundle.dir().to_path_buf(),
            state_dir: state_dir.clone(),
            no_pivot: options.no_pivot,
            console_socket: options.console_socket,
            inherit_terminal: options.inherit_terminal,
            cgroup: cgroup.clone(),
            capabilities: capabilities::resolve(
                spec.process()
                    .as_ref()
                    .and_then(|p| p.capabilities().as_ref()),
            ),
            exec: false,
        };
        spawn::send(&mut channel, &config)?;
        match spawn::recv::<Report>(&mut channel)? {
            Some(Report::Ready) => {}
            Some(Report::Failed(reason)) => return Err(Error::Init(reason)),
            None => return Err(Error::Init("container init exited during setup".to_owned())),
        }
        let start_time = proc_stat(spawned.pid)
            .map(|stat| stat.start_time)
            .ok_or_else(|| Error::Init("container init exited during setup".to_owned()))?;
        let record = Record {
            oci_version: spec.version().clone(),
            id: id.to_owned(),
            pid: spawned.pid,
            start_time,
            bundle: bundle.dir().to_path_buf(),
            rootfs,
            created: fsutil::now_rfc3339(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            started: false,
            own_pid_namespace: plan
                .clone_flags
                .contains(nix::sched::CloneFlags::CLONE_NEWPID),
            cgroup,
        };
        crate::test_pause::pause_at("runtime-create-before-state");
        record.save(&state_dir)?;
        if let Some(pid_file) = &options.pid_file {
            fsutil::write_atomic(pid_file, spawned.pid.to_string().as_bytes())?;
        }
        cleanup.armed = false;
        tracing::debug!(id, pid = spawned.pid, "container created");
        Ok(Container {
            id: id.to_owned(),
            pid: spawned.pid,
        })
    }
}
