//! seccomp in pure Rust: `linux.seccomp` (default action, per-syscall actions, argument
//! conditions) compiled by hand into a classic BPF filter and installed with prctl.

mod bpf;
mod syscalls;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator};

use crate::error::{Error, Result};
use bpf::{Assembler, Target, JEQ_K, JGE_K, JGT_K};

const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARGS: u32 = 16;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const EPERM: u32 = 1;

/// A compiled filter, ready to install.
#[derive(Debug)]
pub(crate) struct Filter(Vec<libc::sock_filter>);

fn action(action: LinuxSeccompAction, errno: Option<u32>) -> u32 {
    let errno = errno.unwrap_or(EPERM) & 0xffff;
    match action {
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace => {
            action.as_u32(Some(errno))
        }
        other => other.as_u32(None),
    }
}

/// Compiles a profile. Syscall names unknown to this architecture are skipped (as runc does).
pub(crate) fn compile(profile: &LinuxSeccomp) -> Result<Filter> {
    let mut asm = Assembler::default();
    // Foreign architectures and (on x86_64) x32 syscalls, which carry bit 30 and would bypass
    // rules written for native numbers, are killed. Kept at the top: BPF jumps reach 255.
    let native_arch = asm.label();
    asm.load(OFFSET_ARCH);
    asm.jump(JEQ_K, syscalls::AUDIT_ARCH, native_arch, Target::Next);
    asm.ret(RET_KILL_PROCESS);
    asm.bind(native_arch);
    asm.load(OFFSET_NR);
    if cfg!(target_arch = "x86_64") {
        let native_call = asm.label();
        asm.jump(JGE_K, 0x4000_0000, Target::Next, native_call);
        asm.ret(RET_KILL_PROCESS);
        asm.bind(native_call);
    }
    for (index, rule) in profile.syscalls().iter().flatten().enumerate() {
        let ret = action(rule.action(), rule.errno_ret());
        let args = rule.args().as_deref().unwrap_or_default();
        for (arg_index, arg) in args.iter().enumerate() {
            if arg.index() > 5 {
                return Err(Error::spec(
                    format!("linux.seccomp.syscalls[{index}].args[{arg_index}].index"),
                    format!("{} is not a syscall argument (0-5)", arg.index()),
                ));
            }
        }
        for name in rule.names() {
            let Some(number) = syscalls::number(name) else {
                tracing::debug!(syscall = %name, "seccomp: unknown syscall skipped");
                continue;
            };
            let skip = asm.label();
            asm.jump(JEQ_K, number, Target::Next, skip);
            for arg in args {
                condition(&mut asm, arg, skip);
            }
            asm.ret(ret);
            asm.bind(skip);
            if !args.is_empty() {
                asm.load(OFFSET_NR);
            }
        }
    }
    asm.ret(action(
        profile.default_action(),
        profile.default_errno_ret(),
    ));
    asm.finish().map(Filter)
}

/// Emits code that falls through when `arg` holds and jumps to `fail` otherwise. 64-bit
/// arguments are compared as high then low 32-bit words (little-endian layout).
fn condition(asm: &mut Assembler, arg: &LinuxSeccompArg, fail: Target) {
    let low = OFFSET_ARGS + 8 * arg.index() as u32;
    let high = low + 4;
    let value = arg.value();
    let (value_high, value_low) = ((value >> 32) as u32, value as u32);
    let pass = asm.label();
    match arg.op() {
        LinuxSeccompOperator::ScmpCmpEq => {
            asm.load(high);
            asm.jump(JEQ_K, value_high, Target::Next, fail);
            asm.load(low);
            asm.jump(JEQ_K, value_low, Target::Next, fail);
        }
        LinuxSeccompOperator::ScmpCmpNe => {
            asm.load(high);
            asm.jump(JEQ_K, value_high, Target::Next, pass);
            asm.load(low);
            asm.jump(JEQ_K, value_low, fail, Target::Next);
        }
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            let datum = arg.value_two().unwrap_or(0);
            asm.load(high);
            asm.and(value_high);
            asm.jump(JEQ_K, (datum >> 32) as u32, Target::Next, fail);
            asm.load(low);
            asm.and(value_low);
            asm.jump(JEQ_K, datum as u32, Target::Next, fail);
        }
        LinuxSeccompOperator::ScmpCmpGt | LinuxSeccompOperator::ScmpCmpGe => {
            asm.load(high);
            asm.jump(JGT_K, value_high, pass, Target::Next);
            asm.jump(JEQ_K, value_high, Target::Next, fail);
            asm.load(low);
            let code = if arg.op() == LinuxSeccompOperator::ScmpCmpGt {
                JGT_K
            } else {
                JGE_K
            };
            asm.jump(code, value_low, Target::Next, fail);
        }
        LinuxSeccompOperator::ScmpCmpLt | LinuxSeccompOperator::ScmpCmpLe => {
            asm.load(high);
            asm.jump(JGE_K, value_high, Target::Next, pass);
            asm.jump(JEQ_K, value_high, Target::Next, fail);
            asm.load(low);
            let code = if arg.op() == LinuxSeccompOperator::ScmpCmpLt {
                JGE_K
            } else {
                JGT_K
            };
            asm.jump(code, value_low, fail, Target::Next);
        }
    }
    asm.bind(pass);
}

/// Installs the filter on the calling thread. Needs no_new_privs or CAP_SYS_ADMIN.
pub(crate) fn install(filter: &Filter) -> Result<()> {
    let program = libc::sock_fprog {
        len: filter.0.len() as u16,
        filter: filter.0.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `program` points at a live, well-formed BPF program for the duration of the call.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &program as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(Error::Sys {
            context: "installing the seccomp filter".to_owned(),
            errno: nix::errno::Errno::last(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
