//! Mount options as they appear in `mounts[].options`: flags to set or clear, propagation
//! changes, bind/rbind, and the rest passed to the file system as data.

use nix::mount::MsFlags;

/// Parsed mount options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    pub flags: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub bind: bool,
    pub recursive: bool,
    pub data: Vec<String>,
}

impl Options {
    pub fn parse(options: &[String]) -> Options {
        let mut parsed = Options {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            bind: false,
            recursive: false,
            data: Vec::new(),
        };
        for option in options {
            let (set, clear) = match option.as_str() {
                "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
                "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
                "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
                "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
                "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
                "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
                "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
                "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
                "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
                "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
                "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
                "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
                "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
                "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
                "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
                "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
                "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
                "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
                "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
                "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
                "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
                "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
                "bind" => {
                    parsed.bind = true;
                    continue;
                }
                "rbind" => {
                    parsed.bind = true;
                    parsed.recursive = true;
                    continue;
                }
                "tmpcopyup" => continue,
                other => {
                    if let Some(flag) = propagation(other) {
                        parsed.propagation.push(flag);
                    } else {
                        parsed.data.push(other.to_owned());
                    }
                    continue;
                }
            };
            parsed.flags = (parsed.flags | set) & !clear;
        }
        parsed
    }
}

/// The flags of a propagation keyword (`private`, `rslave`, ...).
pub(crate) fn propagation(keyword: &str) -> Option<MsFlags> {
    let (recursive, base) = match keyword.strip_prefix('r') {
        Some(base) if base != "o" && base != "w" => (MsFlags::MS_REC, base),
        _ => (MsFlags::empty(), keyword),
    };
    let flag = match base {
        "private" => MsFlags::MS_PRIVATE,
        "shared" => MsFlags::MS_SHARED,
        "slave" => MsFlags::MS_SLAVE,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        _ => return None,
    };
    Some(flag | recursive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(options: &[&str]) -> Vec<String> {
        options.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_flags_propagation_and_data() {
        let parsed = Options::parse(&strings(&[
            "rbind",
            "ro",
            "nosuid",
            "rslave",
            "mode=755",
            "size=65536k",
            "rw",
        ]));
        assert!(parsed.bind && parsed.recursive);
        assert_eq!(parsed.flags, MsFlags::MS_NOSUID);
        assert_eq!(parsed.propagation, [MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert_eq!(parsed.data, ["mode=755", "size=65536k"]);
    }

    #[test]
    fn propagation_keywords() {
        assert_eq!(propagation("private"), Some(MsFlags::MS_PRIVATE));
        assert_eq!(
            propagation("runbindable"),
            Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC)
        );
        assert_eq!(propagation("ro"), None);
        assert_eq!(propagation("relatime"), None);
    }
}
