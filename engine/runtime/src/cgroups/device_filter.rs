//! `linux.resources.devices` on cgroup v2, which has no devices controller: the rules are
//! compiled into a `BPF_PROG_TYPE_CGROUP_DEVICE` program and attached to the container's
//! cgroup (Linux 4.15+), with the same meaning as cgroup v1's devices.allow/deny lists.
//!
//! The program reads the request (device type, access, major, minor) and tries the rules from
//! the last to the first; the first that matches answers (allow 1, deny 0). A request no rule
//! matches is allowed, as a v1 cgroup starts out allowing everything until a rule like
//! `a *:* rwm` denies it.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{Context, Error, Result};

/// One rule in a form the compiler uses: `None` matches any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub allow: bool,
    /// 1 block, 2 char (the kernel's BPF_DEVCG_DEV_*).
    pub kind: Option<u32>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Bits: 1 mknod, 2 read, 4 write (the kernel's BPF_DEVCG_ACC_*).
    pub access: u32,
}

impl Rule {
    /// From an OCI rule.
    pub fn from_oci(rule: &LinuxDeviceCgroup) -> Rule {
        let kind = match rule.typ() {
            Some(LinuxDeviceType::B) => Some(1),
            Some(LinuxDeviceType::C | LinuxDeviceType::U) => Some(2),
            _ => None,
        };
        let number = |n: Option<i64>| n.filter(|n| *n >= 0).map(|n| n as u32);
        Rule {
            allow: rule.allow(),
            kind,
            major: number(rule.major()),
            minor: number(rule.minor()),
            access: access_bits(rule.access().as_deref().unwrap_or("rwm")),
        }
    }

    /// From the v1 syntax, `c 1:3 rwm` or `b *:* m`, always allowing.
    pub fn allowing(text: &str) -> Option<Rule> {
        let mut parts = text.split_whitespace();
        let kind = match parts.next()? {
            "a" => None,
            "b" => Some(1),
            "c" => Some(2),
            _ => return None,
        };
        let (major, minor) = parts.next()?.split_once(':')?;
        let number = |n: &str| {
            if n == "*" {
                Ok(None)
            } else {
                n.parse().map(Some)
            }
        };
        Some(Rule {
            allow: true,
            kind,
            major: number(major).ok()?,
            minor: number(minor).ok()?,
            access: access_bits(parts.next()?),
        })
    }
}

fn access_bits(access: &str) -> u32 {
    access.chars().fold(0, |bits, c| match c {
        'm' => bits | 1,
        'r' => bits | 2,
        'w' => bits | 4,
        _ => bits,
    })
}

/// One eBPF instruction: opcode, dst and src registers, offset, immediate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const AND32_K: u8 = 0x54; // dst &= imm
const RSH32_K: u8 = 0x74; // dst >>= imm
const MOV64_K: u8 = 0xb7; // dst = imm
const MOV64_X: u8 = 0xbf; // dst = src
const AND64_K: u8 = 0x57; // dst &= imm
const JEQ_K: u8 = 0x15; // if dst == imm: pc += off
const JNE_K: u8 = 0x55; // if dst != imm: pc += off
const JSET_K: u8 = 0x45; // if dst & imm: pc += off
const EXIT: u8 = 0x95;

/// Compiles `rules` into the program's instructions.
fn compile(rules: &[Rule]) -> Vec<Insn> {
    // r1 is the context: { u32 access_type; u32 major; u32 minor; }, access_type being
    // (access << 16) | type.
    let mut program = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND32_K, 2, 0, 0, 0xffff), // r2 = type
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH32_K, 3, 0, 0, 16), // r3 = access
        insn(LDX_W, 4, 1, 4, 0),    // r4 = major
        insn(LDX_W, 5, 1, 8, 0),    // r5 = minor
    ];
    for rule in rules.iter().rev() {
        // Instructions that jump past the rest of the block when the rule does not match
        // (their offsets are filled in below), then the answer.
        let mut block: Vec<(Insn, bool)> = Vec::new();
        if let Some(kind) = rule.kind {
            block.push((insn(JNE_K, 2, 0, 0, kind as i32), true));
        }
        let access = (rule.access & 7) as i32;
        if rule.allow && access != 7 {
            // An allow rule covers a request only if it names every access asked for.
            block.push((insn(JSET_K, 3, 0, 0, !access & 7), true));
        } else if !rule.allow && access != 7 {
            // A deny rule refuses a request that asks for any access it names.
            block.push((insn(MOV64_X, 6, 3, 0, 0), false));
            block.push((insn(AND64_K, 6, 0, 0, access), false));
            block.push((insn(JEQ_K, 6, 0, 0, 0), true));
        }
        if let Some(major) = rule.major {
            block.push((insn(JNE_K, 4, 0, 0, major as i32), true));
        }
        if let Some(minor) = rule.minor {
            block.push((insn(JNE_K, 5, 0, 0, minor as i32), true));
        }
        let matches_all = !block.iter().any(|(_, jumps)| *jumps);
        block.push((insn(MOV64_K, 0, 0, 0, i32::from(rule.allow)), false));
        block.push((insn(EXIT, 0, 0, 0, 0), false));
        let length = block.len();
        for (index, (mut instruction, jumps)) in block.into_iter().enumerate() {
            if jumps {
                instruction.off = (length - index - 1) as i16;
            }
            program.push(instruction);
        }
        if matches_all {
            // Nothing after it can be reached (the verifier refuses dead code).
            return program;
        }
    }
    program.push(insn(MOV64_K, 0, 0, 0, 1));
    program.push(insn(EXIT, 0, 0, 0, 0));
    program
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

fn bpf(command: libc::c_long, attr: &mut [u8]) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a zeroed bpf_attr of `attr.len()` bytes that outlives the call, and
    // every pointer stored in it points at live memory.
    let result = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            command,
            attr.as_mut_ptr(),
            attr.len() as libc::c_uint,
        )
    };
    if result < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(result)
}

fn put_u32(attr: &mut [u8], offset: usize, value: u32) {
    attr[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
}

fn put_u64(attr: &mut [u8], offset: usize, value: u64) {
    attr[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
}

/// Loads `program` as a cgroup device filter; with `log`, the verifier writes its log there.
fn load(program: &[Insn], log: Option<&mut Vec<u8>>) -> std::io::Result<libc::c_long> {
    let license = c"GPL";
    let mut attr = [0u8; 72];
    put_u32(&mut attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE);
    put_u32(&mut attr, 4, program.len() as u32);
    put_u64(&mut attr, 8, program.as_ptr() as u64);
    put_u64(&mut attr, 16, license.as_ptr() as u64);
    if let Some(log) = log {
        put_u32(&mut attr, 24, 1); // log_level
        put_u32(&mut attr, 28, log.len() as u32);
        put_u64(&mut attr, 32, log.as_mut_ptr() as u64);
    }
    attr[48..54].copy_from_slice(b"berth\0");
    put_u32(&mut attr, 68, BPF_CGROUP_DEVICE); // expected_attach_type
    bpf(BPF_PROG_LOAD, &mut attr)
}

/// Loads the program for `rules` and attaches it to the cgroup v2 directory `dir`. The
/// program stays attached until the cgroup is removed.
pub(crate) fn attach(dir: &Path, rules: &[Rule]) -> Result<()> {
    let program = compile(rules);
    let loaded = load(&program, None).map_err(|err| {
        // Load again with the verifier's log, only to say why.
        let mut log = vec![0u8; 64 * 1024];
        let _ = load(&program, Some(&mut log));
        let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
        let verifier = String::from_utf8_lossy(&log[..end]).trim().to_owned();
        Error::Init(format!(
            "linux.resources.devices: loading the cgroup v2 device filter: {err} {verifier}"
        ))
    })?;
    // SAFETY: BPF_PROG_LOAD returned a new fd that nobody else owns.
    let program_fd = unsafe { OwnedFd::from_raw_fd(loaded as i32) };
    let cgroup = std::fs::File::open(dir).ctx(|| format!("opening {}", dir.display()))?;
    let mut attach = [0u8; 20];
    put_u32(&mut attach, 0, cgroup.as_raw_fd() as u32);
    put_u32(&mut attach, 4, program_fd.as_raw_fd() as u32);
    put_u32(&mut attach, 8, BPF_CGROUP_DEVICE);
    put_u32(&mut attach, 12, BPF_F_ALLOW_MULTI);
    bpf(BPF_PROG_ATTACH, &mut attach).ctx(|| {
        format!(
            "linux.resources.devices: attaching the device filter to {}",
            dir.display()
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests;
