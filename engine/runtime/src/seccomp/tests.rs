//! Unit tests for the seccomp compiler: a small BPF interpreter runs the compiled filters on
//! synthetic syscalls.

use super::*;
use oci_spec::runtime::{LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSyscallBuilder};

/// Runs `program` on a syscall the way the kernel would and returns the action.
fn run(program: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, arg) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_le_bytes());
    }
    let word = |offset: u32| {
        let o = offset as usize;
        u32::from_le_bytes(data[o..o + 4].try_into().unwrap())
    };
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let insn = program[pc];
        pc += 1;
        match insn.code {
            bpf::LD_W_ABS => acc = word(insn.k),
            bpf::AND_K => acc &= insn.k,
            0x06 => return insn.k,
            code => {
                let taken = match code {
                    JEQ_K => acc == insn.k,
                    JGT_K => acc > insn.k,
                    JGE_K => acc >= insn.k,
                    _ => panic!("unexpected opcode {code:#x}"),
                };
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
        }
    }
}

fn profile_with(op: LinuxSeccompOperator, value: u64, value_two: Option<u64>) -> Filter {
    let mut arg = LinuxSeccompArgBuilder::default()
        .index(1usize)
        .value(value)
        .op(op);
    if let Some(two) = value_two {
        arg = arg.value_two(two);
    }
    let rule = LinuxSyscallBuilder::default()
        .names(vec!["mkdirat".to_owned()])
        .action(LinuxSeccompAction::ScmpActErrno)
        .args(vec![arg.build().unwrap()])
        .build()
        .unwrap();
    compile(
        &LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActAllow)
            .syscalls(vec![rule])
            .build()
            .unwrap(),
    )
    .unwrap()
}

const ALLOW: u32 = 0x7fff_0000;
const DENY: u32 = 0x0005_0001;

fn mkdirat(filter: &Filter, arg1: u64) -> u32 {
    let nr = syscalls::number("mkdirat").unwrap();
    run(&filter.0, syscalls::AUDIT_ARCH, nr, [0, arg1, 0, 0, 0, 0])
}

#[test]
fn comparisons_match_64_bit_semantics() {
    let big = 0x1_0000_0005u64;
    let cases = [
        (
            LinuxSeccompOperator::ScmpCmpEq,
            big,
            vec![(big, DENY), (5, ALLOW), (big + 1, ALLOW)],
        ),
        (
            LinuxSeccompOperator::ScmpCmpNe,
            big,
            vec![(big, ALLOW), (5, DENY)],
        ),
        (
            LinuxSeccompOperator::ScmpCmpGt,
            big,
            vec![(big, ALLOW), (big + 1, DENY), (1 << 40, DENY), (6, ALLOW)],
        ),
        (
            LinuxSeccompOperator::ScmpCmpGe,
            big,
            vec![(big, DENY), (big - 1, ALLOW), (1 << 40, DENY)],
        ),
        (
            LinuxSeccompOperator::ScmpCmpLt,
            big,
            vec![(big, ALLOW), (big - 1, DENY), (7, DENY), (1 << 40, ALLOW)],
        ),
        (
            LinuxSeccompOperator::ScmpCmpLe,
            big,
            vec![(big, DENY), (big + 1, ALLOW), (0, DENY)],
        ),
    ];
    for (op, value, checks) in cases {
        let filter = profile_with(op, value, None);
        for (arg, expected) in checks {
            assert_eq!(
                mkdirat(&filter, arg),
                expected,
                "{op:?} {value:#x} vs {arg:#x}"
            );
        }
    }
}

#[test]
fn masked_equality_uses_value_two_as_datum() {
    let filter = profile_with(LinuxSeccompOperator::ScmpCmpMaskedEq, 0x7e02_0000, Some(0));
    assert_eq!(mkdirat(&filter, 0x0001_0011), DENY);
    assert_eq!(mkdirat(&filter, 0x1000_0000), ALLOW);
}

#[test]
fn other_syscalls_and_arches_fall_to_default_and_kill() {
    let filter = profile_with(LinuxSeccompOperator::ScmpCmpEq, 1, None);
    let read = syscalls::number("read").unwrap();
    assert_eq!(run(&filter.0, syscalls::AUDIT_ARCH, read, [0; 6]), ALLOW);
    assert_eq!(run(&filter.0, 0x4000_0003, read, [0; 6]), RET_KILL_PROCESS);
}

#[test]
fn errno_and_default_errno_are_honoured() {
    let rule = LinuxSyscallBuilder::default()
        .names(vec!["getpid".to_owned(), "no_such_call".to_owned()])
        .action(LinuxSeccompAction::ScmpActAllow)
        .build()
        .unwrap();
    let profile = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .default_errno_ret(38u32)
        .syscalls(vec![rule])
        .build()
        .unwrap();
    let filter = compile(&profile).unwrap();
    let getpid = syscalls::number("getpid").unwrap();
    let read = syscalls::number("read").unwrap();
    assert_eq!(run(&filter.0, syscalls::AUDIT_ARCH, getpid, [0; 6]), ALLOW);
    assert_eq!(
        run(&filter.0, syscalls::AUDIT_ARCH, read, [0; 6]),
        0x0005_0026
    );
}

#[test]
fn large_profiles_compile_and_every_rule_is_reached() {
    let names: Vec<String> = syscalls_for_test().into_iter().map(str::to_owned).collect();
    let rule = LinuxSyscallBuilder::default()
        .names(names.clone())
        .action(LinuxSeccompAction::ScmpActAllow)
        .build()
        .unwrap();
    let profile = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .syscalls(vec![rule])
        .build()
        .unwrap();
    let filter = compile(&profile).unwrap();
    assert!(filter.0.len() > 300);
    let last = syscalls::number(names.last().unwrap()).unwrap();
    assert_eq!(run(&filter.0, syscalls::AUDIT_ARCH, last, [0; 6]), ALLOW);
    assert_eq!(run(&filter.0, 0x4000_0003, last, [0; 6]), RET_KILL_PROCESS);
}

fn syscalls_for_test() -> Vec<&'static str> {
    [
        "read",
        "write",
        "openat",
        "close",
        "mmap",
        "munmap",
        "brk",
        "execve",
        "exit_group",
        "clone",
        "wait4",
        "kill",
        "getpid",
        "mkdirat",
        "unlinkat",
        "fstat",
        "lseek",
        "dup",
    ]
    .into_iter()
    .cycle()
    .take(200)
    .collect()
}
