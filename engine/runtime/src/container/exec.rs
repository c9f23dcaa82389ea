//! `exec`: another process in a running container, like `runc exec`. It joins every namespace
//! of the container's init and its cgroup, and gets its own user, capabilities, seccomp
//! filter, cwd and stdio from the process spec; it is a child of the caller.

use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use super::create::CreateOptions;
use super::validate_id;
use super::wait::{wait_pid, ExitStatus};
use crate::error::{Error, Result};
use crate::process::spawn::{self, InitConfig, Report, Stdio};
use crate::state::{Record, Status};
use crate::{capabilities, namespaces, Runtime};

/// A process started by [`Runtime::exec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecProcess {
    pid: i32,
}

impl ExecProcess {
    /// Its host pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits for it to exit; only the caller of [`Runtime::exec`] can.
    pub fn wait(&self) -> Result<ExitStatus> {
        wait_pid(self.pid)
    }
}

fn namespace_file(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

impl Runtime {
    /// Starts `process` in running container `id`, which was created from `container_spec`
    /// (its namespaces and seccomp filter apply to the process too). When this returns, the
    /// process has been exec'd, or this fails with the reason (e.g. a missing program).
    /// `options` gives its stdio and, for `process.terminal`, the console socket; the other
    /// options do not apply.
    pub fn exec(
        &self,
        id: &str,
        container_spec: &Spec,
        process: Process,
        options: CreateOptions,
    ) -> Result<ExecProcess> {
        validate_id(id)?;
        let state_dir = self.root.join(id);
        let record = Record::load(&state_dir, id)?;
        let status = record.status();
        if status != Status::Running {
            return Err(Error::InvalidStatus {
                id: id.to_owned(),
                status: status.to_string(),
                operation: "exec",
            });
        }
        let mut spec = container_spec.clone();
        spec.set_process(Some(process));
        // Every namespace the container has, joined through its init.
        if let Some(linux) = spec.linux_mut() {
            if let Some(namespaces) = linux.namespaces_mut() {
                for namespace in namespaces.iter_mut() {
                    let file = namespace_file(namespace.typ());
                    namespace.set_path(Some(format!("/proc/{}/ns/{file}", record.pid).into()));
                }
            }
        }
        let plan = namespaces::plan(&spec);
        let stdio = Stdio {
            stdin: options.stdin,
            stdout: options.stdout,
            stderr: options.stderr,
        };
        let spawned = spawn::spawn(self.exe()?, &plan, stdio)?;
        let mut channel = spawned.channel;
        let config = InitConfig {
            capabilities: capabilities::resolve(
                spec.process()
                    .as_ref()
                    .and_then(|p| p.capabilities().as_ref()),
            ),
            spec,
            rootfs: record.rootfs.clone(),
            bundle: record.bundle.clone(),
            state_dir,
            no_pivot: false,
            console_socket: options.console_socket,
            inherit_terminal: options.inherit_terminal,
            cgroup: record.cgroup.clone(),
            exec: true,
        };
        let outcome =
            spawn::send(&mut channel, &config).and_then(|()| spawn::recv::<Report>(&mut channel));
        let failure = match outcome {
            // The channel closes on exec: the process runs.
            Ok(None) => None,
            Ok(Some(Report::Failed(reason))) => Some(Error::Init(reason)),
            Ok(Some(Report::Ready)) => Some(Error::Init("unexpected report from exec".into())),
            Err(err) => Some(err),
        };
        if let Some(err) = failure {
            let pid = nix::unistd::Pid::from_raw(spawned.pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = wait_pid(spawned.pid);
            return Err(err);
        }
        tracing::debug!(id, pid = spawned.pid, "process exec'd in the container");
        Ok(ExecProcess { pid: spawned.pid })
    }
}
