//! A tiny classic-BPF assembler: instructions with forward jumps to labels, resolved into the
//! 8-bit jump offsets the kernel expects.

use crate::error::{Error, Result};

pub(super) const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub(super) const AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub(super) const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub(super) const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
pub(super) const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// Where a conditional jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// The next instruction.
    Next,
    /// A label bound later in the program.
    Label(usize),
}

#[derive(Debug)]
enum Insn {
    Stmt {
        code: u16,
        k: u32,
    },
    Jump {
        code: u16,
        k: u32,
        jt: Target,
        jf: Target,
    },
}

/// A program under construction.
#[derive(Debug, Default)]
pub(super) struct Assembler {
    insns: Vec<Insn>,
    /// For each label, the index of the instruction it points at.
    labels: Vec<Option<usize>>,
}

impl Assembler {
    pub fn label(&mut self) -> Target {
        self.labels.push(None);
        Target::Label(self.labels.len() - 1)
    }

    /// Points `label` at the next instruction emitted.
    pub fn bind(&mut self, label: Target) {
        if let Target::Label(id) = label {
            self.labels[id] = Some(self.insns.len());
        }
    }

    pub fn load(&mut self, offset: u32) {
        self.insns.push(Insn::Stmt {
            code: LD_W_ABS,
            k: offset,
        });
    }

    pub fn and(&mut self, mask: u32) {
        self.insns.push(Insn::Stmt {
            code: AND_K,
            k: mask,
        });
    }

    pub fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.insns.push(Insn::Jump { code, k, jt, jf });
    }

    pub fn ret(&mut self, action: u32) {
        self.insns.push(Insn::Stmt {
            code: RET_K,
            k: action,
        });
    }

    /// Resolves labels into offsets.
    pub fn finish(self) -> Result<Vec<libc::sock_filter>> {
        let offset = |from: usize, target: Target| -> Result<u8> {
            let to = match target {
                Target::Next => return Ok(0),
                Target::Label(id) => {
                    self.labels[id].ok_or_else(|| Error::Init("seccomp: unbound label".into()))?
                }
            };
            to.checked_sub(from + 1)
                .and_then(|distance| u8::try_from(distance).ok())
                .ok_or_else(|| Error::spec("linux.seccomp", "rule too large for a BPF jump"))
        };
        let mut program = Vec::with_capacity(self.insns.len());
        for (index, insn) in self.insns.iter().enumerate() {
            program.push(match *insn {
                Insn::Stmt { code, k } => libc::sock_filter {
                    code,
                    jt: 0,
                    jf: 0,
                    k,
                },
                Insn::Jump { code, k, jt, jf } => libc::sock_filter {
                    code,
                    jt: offset(index, jt)?,
                    jf: offset(index, jf)?,
                    k,
                },
            });
        }
        if program.len() > 4096 {
            return Err(Error::spec(
                "linux.seccomp",
                format!(
                    "{} BPF instructions exceed the kernel's 4096",
                    program.len()
                ),
            ));
        }
        Ok(program)
    }
}
