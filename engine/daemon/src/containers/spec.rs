//! The OCI runtime spec of a container, built the way Docker builds it: image config merged
//! with the request, Docker's default capabilities (only those the host has), masked and
//! read-only paths, Docker's seccomp profile (see the security module), the device rules (see
//! the devices module), cgroup limits (under the `berth` parent, or in a systemd scope), bind
//! mounts, /etc/hosts and friends, and ulimits; `--privileged` lifts the confinement.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use berth_api::container::{ContainerConfig, HostConfig, Ulimit};
use berth_runtime::oci_spec::runtime::{
    Capability, LinuxBlockIoBuilder, LinuxBuilder, LinuxCapabilities, LinuxCapabilitiesBuilder,
    LinuxCpuBuilder, LinuxMemoryBuilder, LinuxNamespace, LinuxNamespaceType, LinuxPidsBuilder,
    LinuxResourcesBuilder, MountBuilder, PosixRlimitBuilder, PosixRlimitType, ProcessBuilder,
    RootBuilder, Spec, UserBuilder,
};

use super::record::Record;
use super::security::{self, HostFacts};
use super::{devices, etc_files};

const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Merges a create request with the image's config as Docker does; returns the config, the
/// executable and its arguments.
pub fn merge_config(
    mut request: ContainerConfig,
    image: &ContainerConfig,
) -> Result<(ContainerConfig, String, Vec<String>)> {
    let mut env = image.env.clone();
    for entry in request.env.drain(..) {
        let key = entry.split('=').next().unwrap_or("").to_owned();
        env.retain(|existing| existing.split('=').next() != Some(key.as_str()));
        env.push(entry);
    }
    request.env = env;
    // An entrypoint given at create replaces the image's entrypoint and its Cmd.
    if request.entrypoint.is_none() {
        request.entrypoint = image.entrypoint.clone();
        if request.cmd.as_ref().is_none_or(Vec::is_empty) {
            request.cmd = image.cmd.clone();
        }
    }
    if request.working_dir.is_empty() {
        request.working_dir = image.working_dir.clone();
    }
    if request.user.is_empty() {
        request.user = image.user.clone();
    }
    for (key, value) in &image.labels {
        request
            .labels
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
    if request.stop_signal.is_none() {
        request.stop_signal = image.stop_signal.clone();
    }
    for (path, value) in &image.volumes {
        request
            .volumes
            .entry(path.clone())
            .or_insert_with(|| value.clone());
    }
    let mut argv: Vec<String> = request
        .entrypoint
        .iter()
        .flatten()
        .chain(request.cmd.iter().flatten())
        .cloned()
        .collect();
    if argv.first().is_none_or(String::is_empty) {
        bail!("no command specified");
    }
    let path = argv.remove(0);
    Ok((request, path, argv))
}

/// A parsed `-v SRC:DST[:ro]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// An absolute host path, or a volume's name.
    pub source: String,
    pub destination: String,
    pub read_only: bool,
}

impl Bind {
    /// The volume this bind mounts, if its source is a name rather than a path.
    pub fn volume(&self) -> Option<&str> {
        (!self.source.starts_with('/')).then_some(self.source.as_str())
    }
}

/// Parses a bind: `SOURCE:DEST[:MODE]`, where SOURCE is an absolute host path or a volume
/// name.
pub fn parse_bind(text: &str) -> Result<Bind> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, destination, mode) = match parts.as_slice() {
        [path] if path.starts_with('/') => bail!("invalid volume specification: '{text}': an anonymous volume has no name to bind; it is made at create"),
        [source, destination] => (*source, *destination, ""),
        [source, destination, mode] => (*source, *destination, *mode),
        _ => bail!("invalid volume specification: '{text}'"),
    };
    if !source.starts_with('/') && !crate::volumes::valid_name(source) {
        bail!("invalid volume specification: '{text}': \"{source}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path");
    }
    if !destination.starts_with('/') {
        bail!("invalid volume specification: '{text}': mount path must be absolute");
    }
    let mut read_only = false;
    for option in mode.split(',').filter(|option| !option.is_empty()) {
        match option {
            "ro" => read_only = true,
            "rw" | "z" | "Z" | "rprivate" | "private" => {}
            other => bail!("invalid mode: {other}"),
        }
    }
    Ok(Bind {
        source: source.to_owned(),
        destination: destination.to_owned(),
        read_only,
    })
}

/// Folds `--mount`s into the forms the rest of create knows: a bind or a named volume becomes
/// a bind, an unnamed volume an anonymous `Volumes` path, a tmpfs a `Tmpfs` entry. Other
/// mount types are refused, naming the type.
pub fn fold_mounts(
    host: &mut HostConfig,
    volumes: &mut std::collections::BTreeMap<String, serde_json::Value>,
) -> Result<()> {
    for mount in host.mounts.clone() {
        let target = mount.target.as_str();
        if !target.starts_with('/') {
            bail!("invalid mount config for type \"{}\": invalid mount path: '{target}' mount path must be absolute", mount.kind);
        }
        let mode = if mount.read_only { ":ro" } else { "" };
        match mount.kind.as_str() {
            "bind" => {
                if !mount.source.starts_with('/') {
                    bail!("invalid mount config for type \"bind\": invalid mount path: '{}' mount path must be absolute", mount.source);
                }
                host.binds.push(format!("{}:{target}{mode}", mount.source));
            }
            "volume" if mount.source.is_empty() => {
                volumes.insert(target.to_owned(), serde_json::json!({}));
            }
            "volume" => host.binds.push(format!("{}:{target}{mode}", mount.source)),
            "tmpfs" => {
                let mut options = Vec::new();
                if let Some(tmpfs) = &mount.tmpfs_options {
                    if tmpfs.size_bytes > 0 {
                        options.push(format!("size={}", tmpfs.size_bytes));
                    }
                    if tmpfs.mode != 0 {
                        options.push(format!("mode={:o}", tmpfs.mode));
                    }
                }
                host.tmpfs.insert(target.to_owned(), options.join(","));
            }
            other => bail!(
                "mount type \"{other}\" is not supported by berthd: use bind, volume or tmpfs"
            ),
        }
    }
    for (path, options) in &host.tmpfs {
        if !path.starts_with('/') {
            bail!("invalid tmpfs mount: '{path}' mount path must be absolute");
        }
        for option in options.split(',').filter(|option| !option.is_empty()) {
            let known = ["size=", "mode=", "uid=", "gid=", "nr_inodes="]
                .iter()
                .any(|prefix| option.starts_with(prefix))
                || matches!(
                    option,
                    "ro" | "rw" | "exec" | "noexec" | "suid" | "nosuid" | "dev" | "nodev"
                );
            if !known {
                bail!("invalid tmpfs option for {path}: {option}");
            }
        }
    }
    Ok(())
}

/// The image's text file at `path`, resolved inside `rootfs` (a symlink cannot lead to a host
/// file); empty when missing, not a regular file or over 4 MiB (a link to a device or a FIFO
/// would never end).
fn image_file(rootfs: &Path, path: &str) -> String {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    const LIMIT: u64 = 4 << 20;
    let Ok(resolved) = berth_runtime::resolve_in_root(rootfs, Path::new(path)) else {
        return String::new();
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(resolved);
    let Ok(file) = file else {
        return String::new();
    };
    if !file
        .metadata()
        .is_ok_and(|meta| meta.is_file() && meta.len() <= LIMIT)
    {
        return String::new();
    }
    let mut text = String::new();
    let _ = file.take(LIMIT).read_to_string(&mut text);
    text
}

/// Resolves `user[:group]` against the container's /etc/passwd and /etc/group.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>, String)> {
    let (user_part, group_part) = match user.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (user, None),
    };
    let passwd = image_file(rootfs, "/etc/passwd");
    let entry = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() >= 7 && (fields[0] == user_part || fields[2] == user_part));
    let (uid, mut gid, home) = match (&entry, user_part.parse::<u32>()) {
        (Some(fields), _) => (
            fields[2].parse().unwrap_or(0),
            fields[3].parse().unwrap_or(0),
            fields[5].to_owned(),
        ),
        (None, Ok(uid)) => (uid, 0, "/".to_owned()),
        (None, Err(_)) if user_part.is_empty() => (0, 0, "/root".to_owned()),
        (None, Err(_)) => {
            bail!("unable to find user {user_part}: no matching entries in passwd file")
        }
    };
    if let Some(group) = group_part {
        let groups = image_file(rootfs, "/etc/group");
        gid = match groups
            .lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields.len() >= 3 && (fields[0] == group || fields[2] == group))
        {
            Some(fields) => fields[2].parse().unwrap_or(0),
            None => group.parse().map_err(|_| {
                anyhow::anyhow!("unable to find group {group}: no matching entries in group file")
            })?,
        };
    }
    Ok((uid, gid, Vec::new(), home))
}

/// Limits and ulimits merged: the container's override the daemon's defaults by name.
fn merged_ulimits(defaults: &[Ulimit], container: &[Ulimit]) -> Vec<Ulimit> {
    let mut merged: Vec<Ulimit> = defaults
        .iter()
        .filter(|limit| !container.iter().any(|own| own.name == limit.name))
        .cloned()
        .collect();
    merged.extend(container.iter().cloned());
    merged
}

/// The OCI capability sets (bounding, effective, permitted) for `names` (`CAP_…`).
pub fn linux_capabilities(names: &BTreeSet<String>) -> Result<LinuxCapabilities> {
    // oci-spec names capabilities without the CAP_ prefix.
    let capabilities = names
        .iter()
        .map(|name| {
            Capability::from_str(name.trim_start_matches("CAP_"))
                .map_err(|_| anyhow::anyhow!("capability {name} is unknown to oci-spec"))
        })
        .collect::<Result<HashSet<Capability>>>()?;
    Ok(LinuxCapabilitiesBuilder::default()
        .bounding(capabilities.clone())
        .effective(capabilities.clone())
        .permitted(capabilities)
        .inheritable(HashSet::new())
        .ambient(HashSet::new())
        .build()?)
}

/// Builds the spec for `record` whose rootfs is mounted at `rootfs`, in the cgroup at
/// `cgroups_path`; its hostname, hosts and resolv.conf files are written into `container_dir`.
/// `--shm-size`: the size of the /dev/shm tmpfs (64 MiB by default, as with dockerd).
fn set_shm_size(mounts: &mut [berth_runtime::oci_spec::runtime::Mount], bytes: i64) {
    for mount in mounts
        .iter_mut()
        .filter(|mount| mount.destination() == Path::new("/dev/shm"))
    {
        let mut options: Vec<String> = mount
            .options()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|option| !option.starts_with("size="))
            .collect();
        options.push(format!("size={bytes}"));
        mount.set_options(Some(options));
    }
}

pub fn build(
    record: &Record,
    rootfs: &Path,
    container_dir: &Path,
    cgroups_path: &Path,
    default_ulimits: &[Ulimit],
) -> Result<Spec> {
    let host = &record.host_config;
    let config = &record.config;
    let host_network = host.network_mode == "host";
    let hostname = if !config.hostname.is_empty() {
        config.hostname.clone()
    } else if host_network {
        nix::unistd::gethostname()
            .context("cannot read the host's hostname")?
            .to_string_lossy()
            .into_owned()
    } else {
        record.id[..12].to_owned()
    };
    let (uid, gid, additional_gids, home) = resolve_user(rootfs, &config.user)?;

    let mut env = config.env.clone();
    if !env.iter().any(|entry| entry.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_owned());
    }
    env.push(format!("HOSTNAME={hostname}"));
    if config.tty && !env.iter().any(|entry| entry.starts_with("TERM=")) {
        env.push("TERM=xterm".to_owned());
    }
    if !env.iter().any(|entry| entry.starts_with("HOME=")) {
        env.push(format!("HOME={home}"));
    }

    let privileges = security::resolve(host, HostFacts::read())?;
    let capabilities = linux_capabilities(&privileges.capabilities)?;

    let mut rlimits = Vec::new();
    for limit in merged_ulimits(default_ulimits, &host.ulimits) {
        let kind = PosixRlimitType::from_str(&format!("RLIMIT_{}", limit.name.to_uppercase()))
            .map_err(|_| anyhow::anyhow!("invalid ulimit type: {}", limit.name))?;
        rlimits.push(
            PosixRlimitBuilder::default()
                .typ(kind)
                .soft(limit.soft.max(0) as u64)
                .hard(limit.hard.max(0) as u64)
                .build()?,
        );
    }

    let cwd = if config.working_dir.is_empty() {
        "/".to_owned()
    } else {
        config.working_dir.clone()
    };
    let mut args = vec![record.path.clone()];
    args.extend(record.args.iter().cloned());
    let mut process = ProcessBuilder::default()
        .terminal(config.tty)
        .args(args)
        .env(env)
        .cwd(PathBuf::from(cwd))
        .user(
            UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .additional_gids(additional_gids)
                .build()?,
        )
        .capabilities(capabilities)
        .no_new_privileges(privileges.no_new_privileges);
    if !rlimits.is_empty() {
        process = process.rlimits(rlimits);
    }
    if host.oom_score_adj != 0 {
        // Create checked the range, -1000 to 1000.
        process = process.oom_score_adj(i32::try_from(host.oom_score_adj).context("OomScoreAdj")?);
    }
    if let Some([height, width]) = host.console_size.filter(|size| config.tty && size[0] > 0) {
        process = process.console_size(
            berth_runtime::oci_spec::runtime::BoxBuilder::default()
                .height(u64::from(height))
                .width(u64::from(width))
                .build()?,
        );
    }

    let mut spec = berth_runtime::default_spec();
    spec.set_hostname(Some(hostname.clone()));
    spec.set_process(Some(process.build()?));
    spec.set_root(Some(
        RootBuilder::default()
            .path(rootfs.to_path_buf())
            .readonly(host.readonly_rootfs)
            .build()?,
    ));

    let mut mounts = spec.mounts().clone().unwrap_or_default();
    if host.shm_size > 0 {
        set_shm_size(&mut mounts, host.shm_size);
    }
    if host.privileged {
        // A privileged container may write /sys and its cgroups, as with dockerd.
        for mount in &mut mounts {
            if matches!(mount.typ().as_deref(), Some("sysfs" | "cgroup")) {
                let options = mount.options().clone().unwrap_or_default();
                mount.set_options(Some(options.into_iter().filter(|o| o != "ro").collect()));
            }
        }
    }
    mounts.extend(etc_files::write(
        container_dir,
        &hostname,
        host_network,
        &etc_files::HostFiles::default(),
    )?);
    for bind in &host.binds {
        let mut bind = parse_bind(bind)?;
        if let Some(name) = bind.volume() {
            let mountpoint = record
                .volumes
                .get(name)
                .with_context(|| format!("volume {name} has no mountpoint recorded"))?;
            crate::volumes::copy_up(rootfs, &bind.destination, Path::new(mountpoint))?;
            bind.source = mountpoint.clone();
        }
        std::fs::create_dir_all(&bind.source)
            .with_context(|| format!("cannot create bind source {}", bind.source))?;
        let mut options = vec!["rbind".to_owned(), "rprivate".to_owned()];
        if bind.read_only {
            options.push("ro".to_owned());
        }
        mounts.push(
            MountBuilder::default()
                .destination(PathBuf::from(&bind.destination))
                .typ("bind")
                .source(PathBuf::from(&bind.source))
                .options(options)
                .build()?,
        );
    }
    for (path, options) in &host.tmpfs {
        // docker's defaults for --tmpfs: no devices or setuid; exec unless asked otherwise.
        let mut all: Vec<String> = ["nosuid", "nodev", "noexec"]
            .iter()
            .map(|option| (*option).to_owned())
            .collect();
        for option in options.split(',').filter(|option| !option.is_empty()) {
            let opposite = match option {
                "exec" => Some("noexec"),
                "suid" => Some("nosuid"),
                "dev" => Some("nodev"),
                _ => None,
            };
            all.retain(|existing| Some(existing.as_str()) != opposite);
            all.push(option.to_owned());
        }
        mounts.push(
            MountBuilder::default()
                .destination(PathBuf::from(path))
                .typ("tmpfs")
                .source(PathBuf::from("tmpfs"))
                .options(all)
                .build()?,
        );
    }
    spec.set_mounts(Some(mounts));

    let mut namespaces: Vec<LinuxNamespace> = Vec::new();
    let mut kinds = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ];
    if host.network_mode != "host" {
        kinds.push(LinuxNamespaceType::Network);
    }
    for kind in kinds {
        let mut namespace = LinuxNamespace::default();
        namespace.set_typ(kind);
        namespaces.push(namespace);
    }

    let mut resources = LinuxResourcesBuilder::default();
    if host.memory > 0 {
        let mut memory = LinuxMemoryBuilder::default().limit(host.memory);
        // Memory plus swap, as in the OCI spec; -1 is unlimited swap. Create set the default
        // (twice the memory) or dropped it where the host cannot enforce one.
        if host.memory_swap != 0 {
            memory = memory.swap(host.memory_swap);
        }
        resources = resources.memory(memory.build()?);
    }
    if host.nano_cpus > 0 || host.cpu_shares > 0 || host.cpu_period > 0 || host.cpu_quota != 0 {
        let mut cpu = LinuxCpuBuilder::default();
        if host.nano_cpus > 0 {
            const PERIOD: u64 = 100_000;
            cpu = cpu
                .period(PERIOD)
                .quota(host.nano_cpus * PERIOD as i64 / 1_000_000_000);
        }
        // Create refused CpuPeriod and CpuQuota beside NanoCpus.
        if host.cpu_period > 0 {
            cpu = cpu.period(host.cpu_period as u64);
        }
        if host.cpu_quota != 0 {
            cpu = cpu.quota(host.cpu_quota);
        }
        if host.cpu_shares > 0 {
            cpu = cpu.shares(host.cpu_shares as u64);
        }
        resources = resources.cpu(cpu.build()?);
    }
    if host.blkio_weight > 0 {
        // Create checked the range (10 to 1000) and dropped it where the host has no weight.
        let weight = u16::try_from(host.blkio_weight).context("BlkioWeight")?;
        resources = resources.block_io(LinuxBlockIoBuilder::default().weight(weight).build()?);
    }
    if let Some(limit) = host.pids_limit.filter(|limit| *limit > 0) {
        resources = resources.pids(LinuxPidsBuilder::default().limit(limit).build()?);
    }
    resources = resources.devices(devices::cgroup_rules(host.privileged)?);
    let (masked, readonly): (&[&str], &[&str]) = if host.privileged {
        (&[], &[])
    } else {
        (MASKED_PATHS, READONLY_PATHS)
    };

    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources.build()?)
        .cgroups_path(cgroups_path.to_path_buf())
        .masked_paths(masked.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>())
        .readonly_paths(readonly.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>());
    if host.privileged {
        linux = linux.devices(devices::host_devices(Path::new("/dev"))?);
    }
    if let Some(seccomp) = privileges.seccomp {
        linux = linux.seccomp(seccomp);
    }
    spec.set_linux(Some(linux.build()?));
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn merge_follows_docker() {
        let image = ContainerConfig {
            env: vec!["PATH=/bin".into(), "A=image".into()],
            cmd: strings(&["/hello"]),
            working_dir: "/work".into(),
            user: "nobody".into(),
            ..Default::default()
        };
        let request = ContainerConfig {
            env: vec!["A=mine".into()],
            ..Default::default()
        };
        let (merged, path, args) = merge_config(request, &image).unwrap();
        assert_eq!(merged.env, vec!["PATH=/bin", "A=mine"]);
        assert_eq!((path.as_str(), args.len()), ("/hello", 0));
        assert_eq!(merged.working_dir, "/work");
        assert_eq!(merged.user, "nobody");

        let with_entrypoint = ContainerConfig {
            entrypoint: strings(&["/bin/sh", "-c"]),
            ..Default::default()
        };
        let image = ContainerConfig {
            entrypoint: strings(&["/ignored"]),
            cmd: strings(&["ignored-too"]),
            ..Default::default()
        };
        let (_, path, args) = merge_config(with_entrypoint, &image).unwrap();
        assert_eq!((path.as_str(), args), ("/bin/sh", vec!["-c".to_owned()]));

        let cmd_only = ContainerConfig {
            cmd: strings(&["echo", "hi"]),
            ..Default::default()
        };
        let (_, path, args) = merge_config(cmd_only, &image).unwrap();
        assert_eq!(
            (path.as_str(), args),
            ("/ignored", vec!["echo".to_owned(), "hi".to_owned()])
        );

        assert!(merge_config(ContainerConfig::default(), &ContainerConfig::default()).is_err());
    }

    #[test]
    fn image_volumes_join_the_requested_ones() {
        let image = ContainerConfig {
            cmd: Some(vec!["true".to_owned()]),
            volumes: [("/var/lib/db".to_owned(), serde_json::json!({}))].into(),
            ..Default::default()
        };
        let request = ContainerConfig {
            volumes: [("/cache".to_owned(), serde_json::json!({}))].into(),
            ..Default::default()
        };
        let (merged, _, _) = merge_config(request, &image).unwrap();
        assert_eq!(
            merged.volumes.keys().collect::<Vec<_>>(),
            ["/cache", "/var/lib/db"]
        );
        assert!(parse_bind("/cache").is_err());
    }

    #[test]
    fn binds_parse() {
        let bind = parse_bind("/srv/data:/data:ro").unwrap();
        assert_eq!(
            (
                bind.source.as_str(),
                bind.destination.as_str(),
                bind.read_only
            ),
            ("/srv/data", "/data", true)
        );
        assert_eq!(parse_bind("named:/data").unwrap().volume(), Some("named"));
        assert_eq!(parse_bind("/srv/data:/data").unwrap().volume(), None);
        assert!(parse_bind("no$pe:/data").is_err());
        assert!(parse_bind("x:/data").is_err());
        assert!(parse_bind("/a:relative").is_err());
        assert!(parse_bind("/a:/b:bogus").is_err());
    }

    #[test]
    fn users_resolve_from_the_rootfs() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        std::fs::write(
            root.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nweb:x:33:34::/var/www:/bin/false\n",
        )
        .unwrap();
        std::fs::write(root.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        assert_eq!(resolve_user(root.path(), "").unwrap().0, 0);
        let (uid, gid, _, home) = resolve_user(root.path(), "web").unwrap();
        assert_eq!((uid, gid, home.as_str()), (33, 34, "/var/www"));
        let (uid, gid, _, _) = resolve_user(root.path(), "1000:staff").unwrap();
        assert_eq!((uid, gid), (1000, 50));
        assert!(resolve_user(root.path(), "ghost").is_err());
    }

    #[test]
    fn etc_passwd_symlinked_to_a_host_file_is_not_read() {
        let host = tempfile::tempdir().unwrap();
        let host_passwd = host.path().join("passwd");
        std::fs::write(&host_passwd, "web:x:33:34::/var/www:/bin/false\n").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        std::os::unix::fs::symlink(&host_passwd, root.path().join("etc/passwd")).unwrap();
        let host_group = host.path().join("group");
        std::fs::write(&host_group, "staff:x:50:\n").unwrap();
        std::os::unix::fs::symlink(&host_group, root.path().join("etc/group")).unwrap();
        let err = resolve_user(root.path(), "web").unwrap_err().to_string();
        assert!(err.contains("unable to find user web"), "{err}");
        let err = resolve_user(root.path(), "0:staff")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unable to find group staff"), "{err}");
    }
}
