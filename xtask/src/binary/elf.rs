//! Reading the two facts the static check needs from an x86_64 ELF executable: its program
//! interpreter (PT_INTERP) and the shared libraries it needs (DT_NEEDED). Only 64-bit
//! little-endian files are accepted; that is all the engine targets.

use anyhow::{bail, Context, Result};

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_LOAD: u32 = 1;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;

/// What makes an executable depend on the host's dynamic loader and libraries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linkage {
    /// The PT_INTERP path (e.g. /lib64/ld-linux-x86-64.so.2), if any.
    pub interpreter: Option<String>,
    /// The DT_NEEDED library names.
    pub needed: Vec<String>,
}

struct Segment {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

/// Parses `bytes` as an ELF64 little-endian file.
pub fn linkage(bytes: &[u8]) -> Result<Linkage> {
    if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
        bail!("not an ELF file");
    }
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        bail!("not a 64-bit little-endian ELF file");
    }
    let phoff = read_u64(bytes, 32)?;
    let phentsize = u64::from(read_u16(bytes, 54)?);
    let phnum = u64::from(read_u16(bytes, 56)?);
    let segments = (0..phnum)
        .map(|index| {
            let at = phoff + index * phentsize;
            Ok(Segment {
                kind: read_u32(bytes, at)?,
                offset: read_u64(bytes, at + 8)?,
                vaddr: read_u64(bytes, at + 16)?,
                filesz: read_u64(bytes, at + 32)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    let interpreter = segments
        .iter()
        .find(|segment| segment.kind == PT_INTERP)
        .map(|segment| {
            let raw = slice(bytes, segment.offset, segment.filesz)?;
            Ok::<_, anyhow::Error>(
                String::from_utf8_lossy(raw)
                    .trim_end_matches('\0')
                    .to_owned(),
            )
        })
        .transpose()?;

    let mut needed = Vec::new();
    if let Some(dynamic) = segments.iter().find(|segment| segment.kind == PT_DYNAMIC) {
        let entries = slice(bytes, dynamic.offset, dynamic.filesz)?;
        let mut needed_offsets = Vec::new();
        let mut strtab_vaddr = None;
        for entry in entries.chunks_exact(16) {
            let tag = read_u64(entry, 0)?;
            let value = read_u64(entry, 8)?;
            match tag {
                DT_NULL => break,
                DT_NEEDED => needed_offsets.push(value),
                DT_STRTAB => strtab_vaddr = Some(value),
                _ => {}
            }
        }
        for name_offset in needed_offsets {
            let name = strtab_vaddr
                .and_then(|vaddr| file_offset(&segments, vaddr))
                .and_then(|strtab| c_string(bytes, strtab + name_offset))
                .unwrap_or_else(|| format!("<string at {name_offset:#x}>"));
            needed.push(name);
        }
    }
    Ok(Linkage {
        interpreter,
        needed,
    })
}

/// Maps a virtual address to a file offset through the PT_LOAD segments.
fn file_offset(segments: &[Segment], vaddr: u64) -> Option<u64> {
    segments
        .iter()
        .filter(|segment| segment.kind == PT_LOAD)
        .find(|segment| vaddr >= segment.vaddr && vaddr < segment.vaddr + segment.filesz)
        .map(|segment| segment.offset + (vaddr - segment.vaddr))
}

fn c_string(bytes: &[u8], at: u64) -> Option<String> {
    let rest = bytes.get(usize::try_from(at).ok()?..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

fn slice(bytes: &[u8], offset: u64, len: u64) -> Result<&[u8]> {
    let start = usize::try_from(offset)?;
    let end = start
        .checked_add(usize::try_from(len)?)
        .context("ELF segment overflows")?;
    bytes
        .get(start..end)
        .context("ELF segment lies outside the file")
}

fn read_u16(bytes: &[u8], at: u64) -> Result<u16> {
    Ok(u16::from_le_bytes(slice(bytes, at, 2)?.try_into()?))
}

fn read_u32(bytes: &[u8], at: u64) -> Result<u32> {
    Ok(u32::from_le_bytes(slice(bytes, at, 4)?.try_into()?))
}

fn read_u64(bytes: &[u8], at: u64) -> Result<u64> {
    Ok(u64::from_le_bytes(slice(bytes, at, 8)?.try_into()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_host_binary_has_an_interpreter_and_needs_libc() {
        let bytes = std::fs::read("/bin/sh").expect("read /bin/sh");
        let linkage = linkage(&bytes).expect("parse /bin/sh");
        assert!(linkage
            .interpreter
            .as_deref()
            .is_some_and(|path| path.contains("ld-linux")));
        assert!(
            linkage
                .needed
                .iter()
                .any(|name| name.starts_with("libc.so")),
            "{linkage:?}"
        );
        assert!(linkage.interpreter.is_some() && !linkage.needed.is_empty());
    }

    #[test]
    fn busybox_static_is_static() {
        let busybox = crate::test::which("busybox")
            .expect("busybox is missing: run `cargo xtask test`, which installs busybox-static");
        let bytes = std::fs::read(busybox).expect("read busybox");
        let linkage = linkage(&bytes).expect("parse busybox");
        assert_eq!(
            linkage,
            Linkage {
                interpreter: None,
                needed: Vec::new()
            }
        );
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(linkage(b"#!/bin/sh\n").is_err());
        let mut truncated = b"\x7fELF\x02\x01\x01".to_vec();
        truncated.resize(40, 0xff);
        assert!(linkage(&truncated).is_err());
    }
}
