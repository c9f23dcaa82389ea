//! Loading and validating OCI runtime specs: a [`Bundle`] is a spec plus the directory its
//! relative paths (like `root.path`) are resolved against.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccompAction, Spec};

use crate::error::{Context, Error, Result};

/// The file name of the spec inside a bundle directory.
pub const CONFIG_FILE: &str = "config.json";

/// An OCI bundle: a runtime spec and the directory it belongs to.
/// Parses a config.json document; errors name `origin` and the JSON path of a bad field.
///
/// The one place a [`Spec`] is deserialized (config.json, and the copy init receives), so the
/// large generated deserializer is in the binary once.
pub(crate) fn parse_spec(text: &[u8], origin: &str) -> Result<Spec> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." {
            origin.to_owned()
        } else {
            format!("{origin}: {path}")
        };
        Error::spec(field, err.into_inner().to_string())
    })
}

#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
    spec: Spec,
}

impl Bundle {
    /// Loads `dir/config.json`. Errors name the file and the JSON path of a bad field.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = absolute(dir.as_ref())?;
        let config = dir.join(CONFIG_FILE);
        let text = std::fs::read(&config).ctx(|| format!("{}", config.display()))?;
        let spec = parse_spec(&text, &config.display().to_string())?;
        Ok(Bundle { dir, spec })
    }

    /// A bundle built in code. `root.path` in `spec` may be absolute or relative to `dir`.
    pub fn new(dir: impl AsRef<Path>, spec: Spec) -> Result<Self> {
        Ok(Bundle {
            dir: absolute(dir.as_ref())?,
            spec,
        })
    }

    /// The bundle directory (absolute).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The runtime spec.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The root file system: `root.path`, resolved against the bundle directory.
    pub fn rootfs(&self) -> Result<PathBuf> {
        let root = self
            .spec
            .root()
            .as_ref()
            .ok_or_else(|| Error::spec("root", "missing"))?;
        if root.path().as_os_str().is_empty() {
            return Err(Error::spec("root.path", "must not be empty"));
        }
        Ok(self.dir.join(root.path()))
    }

    /// Checks everything that can be checked before any container state is created.
    pub fn validate(&self) -> Result<()> {
        let rootfs = self.rootfs()?;
        if !rootfs.is_dir() {
            return Err(Error::spec(
                "root.path",
                format!("{} is not a directory", rootfs.display()),
            ));
        }
        let process = self
            .spec
            .process()
            .as_ref()
            .ok_or_else(|| Error::spec("process", "missing"))?;
        if process.args().as_ref().is_none_or(|args| args.is_empty()) {
            return Err(Error::spec("process.args", "must not be empty"));
        }
        if !process.cwd().is_absolute() {
            return Err(Error::spec(
                "process.cwd",
                format!("{} is not an absolute path", process.cwd().display()),
            ));
        }
        self.validate_linux()
    }

    fn validate_linux(&self) -> Result<()> {
        let linux = self
            .spec
            .linux()
            .as_ref()
            .ok_or_else(|| Error::spec("linux", "missing"))?;
        let mut seen = HashSet::new();
        for (index, namespace) in linux.namespaces().iter().flatten().enumerate() {
            let field = format!("linux.namespaces[{index}]");
            let typ = namespace.typ();
            if !seen.insert(typ) {
                return Err(Error::spec(field, format!("duplicate namespace {typ}")));
            }
            if matches!(typ, LinuxNamespaceType::User | LinuxNamespaceType::Time) {
                return Err(Error::spec(
                    format!("{field}.type"),
                    format!("{typ} namespaces are not supported"),
                ));
            }
            if let Some(path) = namespace.path() {
                if !path.exists() {
                    return Err(Error::spec(
                        format!("{field}.path"),
                        format!("{} does not exist", path.display()),
                    ));
                }
            }
        }
        if !seen.contains(&LinuxNamespaceType::Mount) {
            return Err(Error::spec(
                "linux.namespaces",
                "a mount namespace is required",
            ));
        }
        if self.spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
            && !seen.contains(&LinuxNamespaceType::Uts)
        {
            return Err(Error::spec(
                "hostname",
                "setting a hostname needs a uts namespace",
            ));
        }
        for key in linux.sysctl().iter().flat_map(|map| map.keys()) {
            crate::namespaces::check_sysctl(key, &seen)?;
        }
        if let Some(path) = linux.cgroups_path() {
            if path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(Error::spec(
                    "linux.cgroupsPath",
                    format!("{} must not contain '..'", path.display()),
                ));
            }
        }
        if let Some(resources) = linux.resources() {
            if let Some(memory) = resources.memory() {
                for (name, value) in [
                    ("limit", memory.limit()),
                    ("reservation", memory.reservation()),
                ] {
                    if let Some(value) = value.filter(|value| *value < 0) {
                        return Err(Error::spec(
                            format!("linux.resources.memory.{name}"),
                            format!("must not be negative (got {value})"),
                        ));
                    }
                }
                if let Some(swap) = memory.swap().filter(|swap| *swap < -1) {
                    return Err(Error::spec(
                        "linux.resources.memory.swap",
                        format!("must be -1 (unlimited) or positive (got {swap})"),
                    ));
                }
            }
            if let Some(cpu) = resources.cpu() {
                if cpu.period() == Some(0) {
                    return Err(Error::spec("linux.resources.cpu.period", "must not be 0"));
                }
            }
        }
        if let Some(seccomp) = linux.seccomp() {
            if seccomp.listener_path().is_some()
                || seccomp.default_action() == LinuxSeccompAction::ScmpActNotify
                || seccomp
                    .syscalls()
                    .iter()
                    .flatten()
                    .any(|rule| rule.action() == LinuxSeccompAction::ScmpActNotify)
            {
                return Err(Error::spec(
                    "linux.seccomp",
                    "SCMP_ACT_NOTIFY and listenerPath are not supported",
                ));
            }
        }
        for (index, mount) in self.spec.mounts().iter().flatten().enumerate() {
            if mount.destination().as_os_str().is_empty() {
                return Err(Error::spec(
                    format!("mounts[{index}].destination"),
                    "must not be empty",
                ));
            }
        }
        Ok(())
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).ctx(|| format!("{}", path.display()))
}

/// The spec `berth-runtime spec` writes: runc's defaults (a `sh` in a read-only `rootfs`, new
/// pid/net/ipc/uts/mount/cgroup namespaces, the usual mounts, masked and read-only paths).
pub fn default_spec() -> Spec {
    let mut spec = Spec::default();
    spec.set_hostname(Some("berth".to_owned()));
    if let Some(process) = spec.process_mut() {
        process.set_terminal(Some(true));
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(edit: impl FnOnce(&mut Spec)) -> (tempfile::TempDir, Bundle) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let mut spec = default_spec();
        edit(&mut spec);
        let bundle = Bundle::new(dir.path(), spec).unwrap();
        (dir, bundle)
    }

    fn error_of(edit: impl FnOnce(&mut Spec)) -> String {
        let (_dir, bundle) = bundle_with(edit);
        bundle.validate().unwrap_err().to_string()
    }

    #[test]
    fn the_default_spec_is_valid() {
        let (_dir, bundle) = bundle_with(|_| {});
        bundle.validate().unwrap();
    }

    #[test]
    fn errors_name_the_field() {
        let linux = |spec: &mut Spec| spec.linux_mut().as_mut().unwrap().clone();
        let err = error_of(|spec| {
            let mut l = linux(spec);
            l.set_cgroups_path(Some("../../etc".into()));
            spec.set_linux(Some(l));
        });
        assert!(err.starts_with("linux.cgroupsPath:"), "{err}");
        let err = error_of(|spec| {
            let mut l = linux(spec);
            l.set_namespaces(Some(vec![]));
            spec.set_linux(Some(l));
        });
        assert!(err.starts_with("linux.namespaces:"), "{err}");
        let err = error_of(|spec| {
            spec.process_mut().as_mut().unwrap().set_args(Some(vec![]));
        });
        assert_eq!(err, "process.args: must not be empty");
        let err = error_of(|spec| {
            spec.process_mut().as_mut().unwrap().set_cwd("rel".into());
        });
        assert!(err.starts_with("process.cwd:"), "{err}");
    }
}
