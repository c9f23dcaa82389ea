//! PAX sparse tar entries (GNU tar's `--format=pax --sparse`, formats 0.0, 0.1 and 1.0):
//! reading their sparse map from the `GNU.sparse.*` records (or, for 1.0, from the head of
//! the entry's data) and writing the file with its holes left unwritten, as Go's
//! archive/tar expands them for dockerd. GNU (`S` type) sparse entries are expanded by the
//! tar crate itself.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The most a 1.0 sparse map (at the head of the data) may take.
const MAP_TEXT_MAX: u64 = 1 << 20;
const BLOCK: u64 = 512;

/// What the `GNU.sparse.*` records of a PAX entry say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaxSparse {
    /// The real name (0.1 and 1.0 store the entry as `GNUSparseFile.N/name`).
    pub name: Option<PathBuf>,
    /// The size of the expanded file.
    pub real_size: u64,
    /// `(offset, length)` data segments; `None` for 1.0, whose map leads the data.
    pub map: Option<Vec<(u64, u64)>>,
}

fn number(key: &str, value: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("{key} is not a number"))
}

/// The sparse description of an entry from its PAX records, or `None` for a plain entry.
pub(crate) fn from_pax(records: &[(String, Vec<u8>)]) -> Result<Option<PaxSparse>, String> {
    let get = |key: &str| {
        records
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    };
    let major = get("GNU.sparse.major");
    let minor = get("GNU.sparse.minor");
    // 0.0 repeats offset/numbytes records; 0.1 has one comma-separated map.
    let mut pairs: Vec<u64> = Vec::new();
    for (key, value) in records {
        match key.as_str() {
            "GNU.sparse.offset" | "GNU.sparse.numbytes" => pairs.push(number(key, value)?),
            "GNU.sparse.map" => {
                let text = std::str::from_utf8(value)
                    .map_err(|_| "GNU.sparse.map is not text".to_string())?;
                for field in text.split(',').filter(|f| !f.is_empty()) {
                    pairs.push(number("GNU.sparse.map", field.as_bytes())?);
                }
            }
            _ => {}
        }
    }
    let version_1_0 = match (major, minor) {
        (Some(b"1"), Some(b"0")) => true,
        (Some(b"0"), Some(b"0" | b"1")) => false,
        (None, None) if !pairs.is_empty() || get("GNU.sparse.size").is_some() => false,
        (None, None) => return Ok(None),
        (major, minor) => {
            return Err(format!(
                "unsupported GNU sparse format {}.{}",
                String::from_utf8_lossy(major.unwrap_or(b"?")),
                String::from_utf8_lossy(minor.unwrap_or(b"?"))
            ))
        }
    };
    let real_size = match get("GNU.sparse.size").or_else(|| get("GNU.sparse.realsize")) {
        Some(v) => number("GNU.sparse.size", v)?,
        None => return Err("sparse entry without GNU.sparse.size or realsize".into()),
    };
    let name = get("GNU.sparse.name")
        .filter(|n| !n.is_empty())
        .map(|n| PathBuf::from(OsStr::from_bytes(n)));
    let map = if version_1_0 {
        None
    } else {
        let map = pairs_to_map(&pairs, real_size)?;
        if let Some(blocks) = get("GNU.sparse.numblocks") {
            if number("GNU.sparse.numblocks", blocks)? != map.len() as u64 {
                return Err(format!(
                    "GNU.sparse.numblocks says {} segments but the map has {}",
                    String::from_utf8_lossy(blocks),
                    map.len()
                ));
            }
        }
        Some(map)
    };
    Ok(Some(PaxSparse {
        name,
        real_size,
        map,
    }))
}

/// Checks a flat offset/length list: pairs, in order, not overlapping, inside the file.
fn pairs_to_map(pairs: &[u64], real_size: u64) -> Result<Vec<(u64, u64)>, String> {
    if !pairs.len().is_multiple_of(2) {
        return Err("sparse map has an offset without a length".into());
    }
    let mut map = Vec::with_capacity(pairs.len() / 2);
    let mut end = 0u64;
    for pair in pairs.chunks(2) {
        let (offset, length) = (pair[0], pair[1]);
        let segment_end = offset
            .checked_add(length)
            .ok_or_else(|| "sparse map segment overflows".to_string())?;
        if offset < end || segment_end > real_size {
            return Err(format!(
                "sparse map segment {offset}+{length} overlaps another or ends past the size {real_size}"
            ));
        }
        end = segment_end;
        map.push((offset, length));
    }
    Ok(map)
}

/// Reads the 1.0 map at the head of the data: decimal numbers, one a line (the count, then
/// offset and length pairs), padded to a 512-byte block. Returns the map and the bytes it
/// took.
fn read_map_1_0(data: &mut impl Read, real_size: u64) -> Result<(Vec<(u64, u64)>, u64), String> {
    let mut consumed = 0u64;
    let mut line = || -> Result<u64, String> {
        let mut digits = Vec::new();
        loop {
            let mut byte = [0u8; 1];
            data.read_exact(&mut byte)
                .map_err(|e| format!("sparse map: {e}"))?;
            consumed += 1;
            if consumed > MAP_TEXT_MAX {
                return Err(format!("sparse map is longer than {MAP_TEXT_MAX} bytes"));
            }
            if byte[0] == b'\n' {
                break;
            }
            digits.push(byte[0]);
        }
        number("sparse map", &digits)
    };
    let count = line()?;
    let mut pairs = Vec::new();
    for _ in 0..count.saturating_mul(2) {
        pairs.push(line()?);
    }
    let map = pairs_to_map(&pairs, real_size)?;
    let padding = (BLOCK - consumed % BLOCK) % BLOCK;
    io::copy(&mut data.take(padding), &mut io::sink()).map_err(|e| format!("sparse map: {e}"))?;
    Ok((map, consumed + padding))
}

/// Writes a PAX sparse entry's `data` (`data_len` bytes) into `file`: each segment at its
/// offset, holes left unwritten, then the file extended to its real size. Every data byte
/// must belong to a segment, and every segment must be there.
pub(crate) fn write(
    sparse: &PaxSparse,
    data: &mut impl Read,
    data_len: u64,
    file: &mut File,
) -> Result<(), String> {
    let (map, map_len) = match &sparse.map {
        Some(map) => (map.clone(), 0),
        None => read_map_1_0(data, sparse.real_size)?,
    };
    let stored: u64 = map.iter().map(|(_, length)| length).sum();
    if map_len.checked_add(stored) != Some(data_len) {
        return Err(format!(
            "sparse map describes {stored} bytes of data but the entry holds {}",
            data_len.saturating_sub(map_len)
        ));
    }
    for (offset, length) in map {
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| e.to_string())?;
        let copied = io::copy(&mut data.take(length), file).map_err(|e| e.to_string())?;
        if copied != length {
            return Err(format!(
                "sparse data ended after {copied} of {length} bytes"
            ));
        }
    }
    file.set_len(sparse.real_size).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn versions_0_0_0_1_and_1_0_are_recognized() {
        let v00 = from_pax(&records(&[
            ("GNU.sparse.size", "100"),
            ("GNU.sparse.numblocks", "2"),
            ("GNU.sparse.offset", "10"),
            ("GNU.sparse.numbytes", "5"),
            ("GNU.sparse.offset", "100"),
            ("GNU.sparse.numbytes", "0"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(v00.map, Some(vec![(10, 5), (100, 0)]));
        assert_eq!(v00.name, None);
        let v01 = from_pax(&records(&[
            ("GNU.sparse.size", "100"),
            ("GNU.sparse.name", "a/b"),
            ("GNU.sparse.map", "0,5,50,5"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(v01.map, Some(vec![(0, 5), (50, 5)]));
        assert_eq!(v01.name, Some(PathBuf::from("a/b")));
        let v10 = from_pax(&records(&[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.realsize", "100"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(v10.map, None);
        assert_eq!(from_pax(&records(&[("path", "x")])).unwrap(), None);
    }

    #[test]
    fn bad_maps_are_refused() {
        for bad in [
            vec![("GNU.sparse.size", "10"), ("GNU.sparse.map", "0,20")],
            vec![("GNU.sparse.size", "100"), ("GNU.sparse.map", "50,5,10,5")],
            vec![("GNU.sparse.size", "100"), ("GNU.sparse.map", "5")],
            vec![("GNU.sparse.major", "2"), ("GNU.sparse.minor", "0")],
            vec![("GNU.sparse.map", "0,5")],
            vec![
                ("GNU.sparse.size", "100"),
                ("GNU.sparse.numblocks", "2"),
                ("GNU.sparse.map", "0,5"),
            ],
        ] {
            assert!(from_pax(&records(&bad)).is_err(), "{bad:?}");
        }
    }
}
