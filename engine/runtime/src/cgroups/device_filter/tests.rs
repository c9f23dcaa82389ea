//! Tests of the device filter: the compiler's output, and the kernel enforcing a loaded
//! filter on a cgroup of this host's cgroup2 tree.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use super::*;

#[test]
fn v1_rule_text_parses() {
    assert_eq!(
        Rule::allowing("c 1:3 rwm"),
        Some(Rule {
            allow: true,
            kind: Some(2),
            major: Some(1),
            minor: Some(3),
            access: 7
        })
    );
    let any_block_mknod = Rule::allowing("b *:* m").unwrap();
    assert_eq!(
        (any_block_mknod.kind, any_block_mknod.major),
        (Some(1), None)
    );
    assert_eq!(any_block_mknod.access, 1);
    assert_eq!(Rule::allowing("x 1:3 rwm"), None);
    assert_eq!(Rule::allowing("c 1:z rwm"), None);
    let deny_all = Rule::from_oci(&LinuxDeviceCgroup::default());
    assert_eq!(
        (deny_all.allow, deny_all.kind, deny_all.access),
        (false, None, 7)
    );
}

#[test]
fn every_rule_block_ends_in_an_exit_and_jumps_stay_inside() {
    let rules = [
        Rule::from_oci(&LinuxDeviceCgroup::default()),
        Rule::allowing("c 1:3 rwm").unwrap(),
        Rule::allowing("c 136:* rw").unwrap(),
    ];
    let program = compile(&rules);
    for (index, instruction) in program.iter().enumerate() {
        if matches!(instruction.code, JNE_K | JSET_K | JEQ_K) {
            let target = index as i64 + 1 + i64::from(instruction.off);
            assert!(target < program.len() as i64);
            // A failed check lands on the next block, just after an exit.
            assert_eq!(program[target as usize - 1].code, EXIT);
        }
    }
    assert_eq!(program.last().map(|i| i.code), Some(EXIT));
}

/// The cgroup v2 tree: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid.
fn cgroup2_root() -> PathBuf {
    for candidate in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        let path = Path::new(candidate);
        if super::super::is_cgroup2(path) {
            return path.to_path_buf();
        }
    }
    panic!("no cgroup2 hierarchy is mounted");
}

/// A cgroup removed when dropped, even when the test fails.
struct TestCgroup(PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn the_kernel_enforces_the_filter() {
    let cgroup =
        TestCgroup(cgroup2_root().join(format!("berth-device-filter-{}", std::process::id())));
    let dir = cgroup.0.clone();
    std::fs::create_dir(&dir).unwrap();
    // Writing /dev/null is refused by a deny rule naming only "w", after its allow rule.
    let no_null_writes = Rule {
        allow: false,
        kind: Some(2),
        major: Some(1),
        minor: Some(3),
        access: 4,
    };
    let rules = [
        Rule::from_oci(&LinuxDeviceCgroup::default()),
        Rule::allowing("c *:* m").unwrap(),
        Rule::allowing("c 1:3 rwm").unwrap(),
        no_null_writes,
    ];
    attach(&dir, &rules).unwrap();
    let nodes = tempfile::tempdir().unwrap();
    let script = "cat /dev/null && echo null:ok; \
        (echo x > /dev/null) 2>/dev/null || echo null-write:denied; \
        head -c1 /dev/zero >/dev/null 2>&1 || echo zero:denied; \
        mknod $0/loop c 10 237 && echo mknod-char:ok; \
        cat $0/loop 2>/dev/null; [ $? -ne 0 ] && echo open-char:denied; \
        mknod $0/disk b 7 0 2>/dev/null || echo mknod-block:denied";
    let procs = dir.join("cgroup.procs");
    let mut command = Command::new("/bin/sh");
    command.args(["-c", script]).arg(nodes.path());
    // SAFETY: the child only writes to a file before exec.
    unsafe {
        command.pre_exec(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&procs)?
                .write_all(b"0")
        });
    }
    let output = command.output().unwrap();
    drop(cgroup);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        text,
        "null:ok\nnull-write:denied\nzero:denied\nmknod-char:ok\nopen-char:denied\nmknod-block:denied\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
