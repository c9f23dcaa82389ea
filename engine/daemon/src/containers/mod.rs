//! The container service: the in-memory table of containers (by id, name or id prefix), their
//! records under data-root/containers, creation from a Docker create request, and the
//! reconciliation of what a crashed or restarted berthd left behind.

pub mod archive;
pub mod cgroup_support;
mod devices;
pub mod etc_files;
pub mod exec;
pub mod export;
pub mod fanout;
mod lifecycle;
pub mod log_reader;
pub mod logs;
mod names;
pub mod pause;
mod record;
pub mod security;
pub mod select;
pub mod spec;
mod stdio;
mod systemd;
pub mod top;
pub mod validate;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use berth_api::container::ContainerCreateRequest;
use berth_runtime::Runtime;
use tokio::sync::watch;

pub use lifecycle::{kill, remove, restart_on_boot, shutdown, start, stop};
pub use record::{now as now_rfc3339, Record, RootfsRecord, RunState};

/// What waiters watch: bumps on every exit and on removal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phase {
    /// Exits so far.
    pub exits: u64,
    /// Whether the process runs.
    pub running: bool,
    /// The last exit code.
    pub exit_code: i64,
    /// The container is gone.
    pub removed: bool,
}

/// One container in memory.
pub struct Entry {
    pub id: String,
    record: Mutex<Record>,
    phase: watch::Sender<Phase>,
    /// Its live output, to attached clients.
    feed: fanout::Fanout,
    /// Lines written to its json-file log so far (by this berthd), to wake `logs -f`.
    log_written: watch::Sender<u64>,
    /// Serializes start, stop and remove.
    pub operation: tokio::sync::Mutex<()>,
    /// While it runs: the writer to its stdin (with `OpenStdin` or `Tty`), its terminal and
    /// its spec.
    running: Mutex<Running>,
}

/// What berthd holds of a running container.
#[derive(Default)]
struct Running {
    stdin: Option<std::fs::File>,
    terminal: Option<std::fs::File>,
    /// The spec it was created from, for exec.
    spec: Option<Arc<berth_runtime::oci_spec::runtime::Spec>>,
}

/// Why a terminal resize failed.
#[derive(Debug, thiserror::Error)]
pub enum ResizeError {
    #[error("container {0} is not running")]
    NotRunning(String),
    #[error("container {0} has no terminal")]
    NoTerminal(String),
    #[error("cannot resize the terminal of {0}: {1}")]
    Failed(String, std::io::Error),
}

impl Entry {
    fn new(record: Record) -> Arc<Entry> {
        let phase = Phase {
            exits: 0,
            running: record.state.running(),
            exit_code: record.state.exit_code,
            removed: false,
        };
        Arc::new(Entry {
            id: record.id.clone(),
            record: Mutex::new(record),
            phase: watch::Sender::new(phase),
            feed: fanout::Fanout::default(),
            log_written: watch::Sender::new(0),
            operation: tokio::sync::Mutex::new(()),
            running: Mutex::new(Running::default()),
        })
    }

    fn running(&self) -> std::sync::MutexGuard<'_, Running> {
        match self.running.lock() {
            Ok(stdio) => stdio,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Keeps what the running container needs (the default closes it all).
    fn set_running(&self, running: Running) {
        *self.running() = running;
    }

    /// The spec of the running container.
    fn running_spec(&self) -> Option<Arc<berth_runtime::oci_spec::runtime::Spec>> {
        self.running().spec.clone()
    }

    /// A writer to the running container's stdin, if it has one open.
    pub fn stdin(&self) -> Option<std::fs::File> {
        let stdio = self.running();
        stdio
            .stdin
            .as_ref()
            .and_then(|stdin| stdin.try_clone().ok())
    }

    /// Closes the container's stdin (`StdinOnce` after the first attach ends). Writers handed
    /// out by [`Entry::stdin`] must be dropped too for the process to see EOF.
    pub fn close_stdin(&self) {
        self.running().stdin = None;
    }

    /// Resizes the running container's terminal.
    pub fn resize(&self, height: u16, width: u16) -> Result<(), ResizeError> {
        let stdio = self.running();
        if !self.record().state.running() {
            return Err(ResizeError::NotRunning(self.id.clone()));
        }
        let terminal = stdio
            .terminal
            .as_ref()
            .ok_or_else(|| ResizeError::NoTerminal(self.id.clone()))?;
        stdio::resize(terminal, height, width)
            .map_err(|err| ResizeError::Failed(self.id.clone(), err))
    }

    /// A copy of the record.
    pub fn record(&self) -> Record {
        match self.record.lock() {
            Ok(record) => record.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Changes the record, saves it atomically into `dir`, and updates the phase.
    fn update(&self, dir: &std::path::Path, change: impl FnOnce(&mut Record)) {
        let mut record = match self.record.lock() {
            Ok(record) => record,
            Err(poisoned) => poisoned.into_inner(),
        };
        let was_running = record.state.running();
        change(&mut record);
        if let Err(err) = record.save(dir) {
            tracing::error!(container = self.id, error = %format!("{err:#}"), "cannot save container state");
        }
        let running = record.state.running();
        let exit_code = record.state.exit_code;
        self.phase.send_modify(|phase| {
            if was_running && !running {
                phase.exits += 1;
            }
            phase.running = running;
            phase.exit_code = exit_code;
        });
    }

    /// Watches the phase.
    pub fn watch(&self) -> watch::Receiver<Phase> {
        self.phase.subscribe()
    }

    /// Subscribes to the live output of the stdout and stderr as wanted, until the current
    /// run ends (or, before a start, the next). A subscriber that does not read holds the
    /// container back: drop it when the client goes.
    pub fn output(&self, stdout: bool, stderr: bool) -> fanout::Subscription {
        self.feed.subscribe(stdout, stderr)
    }

    /// Wakes on every line written to the json-file log.
    pub fn log_written(&self) -> watch::Receiver<u64> {
        self.log_written.subscribe()
    }
}

/// All containers.
pub struct Containers {
    /// data-root/containers.
    root: PathBuf,
    /// exec-root/containers: runtime bundles.
    bundles: PathBuf,
    /// exec-root/tty: console sockets, named short for the 108-byte limit of a socket path.
    consoles: PathBuf,
    runtime: Runtime,
    entries: Mutex<BTreeMap<String, Arc<Entry>>>,
    /// Exec instances by id.
    execs: exec::Execs,
    shutting_down: AtomicBool,
}

impl Containers {
    /// Opens the table, loading every saved record.
    pub fn open(data_root: &std::path::Path, exec_root: &std::path::Path) -> Result<Self> {
        let root = data_root.join("containers");
        std::fs::create_dir_all(&root)
            .with_context(|| format!("cannot create {}", root.display()))?;
        let bundles = exec_root.join("containers");
        std::fs::create_dir_all(&bundles)
            .with_context(|| format!("cannot create {}", bundles.display()))?;
        let mut entries = BTreeMap::new();
        for dir in std::fs::read_dir(&root)?.flatten() {
            match Record::load(&dir.path()) {
                Ok(record) => {
                    entries.insert(record.id.clone(), Entry::new(record));
                }
                Err(err) => {
                    tracing::warn!(dir = %dir.path().display(), error = %format!("{err:#}"), "skipping unreadable container")
                }
            }
        }
        let consoles = exec_root.join("tty");
        std::fs::create_dir_all(&consoles)
            .with_context(|| format!("cannot create {}", consoles.display()))?;
        Ok(Containers {
            root,
            bundles,
            consoles,
            runtime: Runtime::new(exec_root.join("runtime")),
            entries: Mutex::new(entries),
            execs: Default::default(),
            shutting_down: AtomicBool::new(false),
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Entry>>> {
        match self.entries.lock() {
            Ok(table) => table,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The directory of a container's record and logs.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Where a start with a terminal listens for the runtime's pty master.
    fn console_socket(&self, id: &str) -> PathBuf {
        self.consoles
            .join(format!("c-{}", id.get(..12).unwrap_or(id)))
    }

    /// Every container.
    pub fn all(&self) -> Vec<Arc<Entry>> {
        self.table().values().cloned().collect()
    }

    /// Finds a container by id, name (with or without `/`) or unique id prefix.
    pub fn find(&self, name_or_id: &str) -> Option<Arc<Entry>> {
        let table = self.table();
        if let Some(entry) = table.get(name_or_id) {
            return Some(Arc::clone(entry));
        }
        let name = name_or_id.strip_prefix('/').unwrap_or(name_or_id);
        if let Some(entry) = table.values().find(|entry| entry.record().name == name) {
            return Some(Arc::clone(entry));
        }
        let mut matches = table
            .values()
            .filter(|entry| entry.id.starts_with(name_or_id));
        match (matches.next(), matches.next()) {
            (Some(entry), None) if !name_or_id.is_empty() => Some(Arc::clone(entry)),
            _ => None,
        }
    }

    fn forget(&self, id: &str) {
        self.table().remove(id);
    }

    /// Ids of containers using image `image_id`.
    pub fn users_of(&self, image_id: &str) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|entry| entry.record().image_id == image_id)
            .map(|entry| entry.id.clone())
            .collect()
    }

    /// Registers a new container; fails when the name is taken. An empty name gets a
    /// generated one, picked under the same lock so parallel creates never share it.
    pub fn insert(&self, mut record: Record) -> Result<Arc<Entry>, String> {
        let mut table = self.table();
        if record.name.is_empty() {
            record.name = names::generate(&record.id, |candidate| {
                !table.values().any(|entry| entry.record().name == candidate)
            });
        }
        name_is_free(&table, &record.name)?;
        let dir = self.dir(&record.id);
        std::fs::create_dir_all(&dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
        record.save(&dir).map_err(|err| format!("{err:#}"))?;
        let entry = Entry::new(record);
        table.insert(entry.id.clone(), Arc::clone(&entry));
        Ok(entry)
    }

    /// `docker rename`: gives `entry` the free, valid name `name`.
    pub fn rename(&self, entry: &Arc<Entry>, name: &str) -> Result<(), String> {
        let name = name.trim_start_matches('/');
        if !valid_name(name) {
            return Err(format!(
                "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            ));
        }
        let table = match self.entries.lock() {
            Ok(table) => table,
            Err(poisoned) => poisoned.into_inner(),
        };
        if entry.record().name == name {
            return Ok(());
        }
        name_is_free(&table, name)?;
        entry.update(&self.dir(&entry.id), |record| record.name = name.to_owned());
        Ok(())
    }

    /// The host pids of a running container's processes.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        Ok(self.runtime.pids(id)?)
    }

    /// A usage sample of a running container.
    pub fn stats(&self, id: &str) -> Result<berth_runtime::Stats> {
        Ok(self.runtime.stats(id)?)
    }

    /// Whether berthd is shutting down (no restarts then).
    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

/// Refuses a name another container holds, with dockerd's message.
fn name_is_free(table: &BTreeMap<String, Arc<Entry>>, name: &str) -> Result<(), String> {
    match table.values().find(|entry| entry.record().name == name) {
        Some(holder) => Err(format!(
            "Conflict. The container name \"/{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
            holder.id
        )),
        None => Ok(()),
    }
}

/// A new random 64-hex container id.
pub fn new_id() -> Result<String> {
    let mut bytes = [0u8; 32];
    let mut urandom = std::fs::File::open("/dev/urandom").context("cannot open /dev/urandom")?;
    std::io::Read::read_exact(&mut urandom, &mut bytes).context("cannot read /dev/urandom")?;
    Ok(hex_string(&bytes))
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Checks a user-given name like Docker: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The request's network mode, normalized: Docker's "default" is none here (no bridge yet).
pub fn network_mode(request: &ContainerCreateRequest) -> Result<String, String> {
    match request.host_config.network_mode.as_str() {
        "" | "default" | "none" => Ok("none".to_owned()),
        "host" => Ok("host".to_owned()),
        "bridge" => Err("bridge networking is not supported by berthd yet: use --network none or --network host".to_owned()),
        other => Err(format!(
            "network mode \"{other}\" is not supported by berthd: use --network none or --network host"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids() {
        assert!(valid_name("web-1"));
        assert!(valid_name("a.b_c"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a"));
        assert!(!valid_name("a/b"));
        let id = new_id().unwrap();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn generated_names_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let containers =
            Containers::open(&dir.path().join("data"), &dir.path().join("exec")).unwrap();
        // Ids sharing their first 12 digits derive the same base name.
        let record = |suffix: &str| Record {
            id: format!("{}{suffix}", "ab".repeat(26)),
            name: String::new(),
            created: String::new(),
            image_name: String::new(),
            image_id: String::new(),
            config: Default::default(),
            host_config: Default::default(),
            path: String::new(),
            args: Vec::new(),
            rootfs: RootfsRecord::Dir {
                path: dir.path().join("rootfs"),
            },
            log_path: dir.path().join("log"),
            state: RunState::default(),
            restart_count: 0,
            volumes: Default::default(),
        };
        let first = containers.insert(record("000000000000")).unwrap();
        let second = containers.insert(record("111111111111")).unwrap();
        let (first, second) = (first.record().name, second.record().name);
        assert!(!first.is_empty());
        assert_eq!(second, format!("{first}1"));
        let mut taken = record("222222222222");
        taken.name = first.clone();
        let refused = containers
            .insert(taken)
            .err()
            .expect("a taken name is refused");
        assert!(refused.contains("is already in use"), "{refused}");
    }
}
