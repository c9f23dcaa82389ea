//! Safe layer extraction: unpacks a (gzip, zstd or plain) layer tarball into an overlay2-style
//! diff directory, hashing the uncompressed stream to give its diff_id.
//!
//! Nothing is written outside the destination: entries with absolute paths or `..` are
//! refused, parent directories are walked with `lstat` so a symlink extracted earlier is never
//! followed, hardlink targets must be plain paths inside the layer, and files are created with
//! `O_EXCL` so a final-component symlink is never followed either. Whiteouts become overlay
//! whiteouts: `.wh.x` a 0/0 character device, `.wh..wh..opq` the `trusted.overlay.opaque`
//! xattr, whatever the order of entries in the tar. Sparse files (GNU and PAX 0.0, 0.1 and
//! 1.0) are expanded with their holes kept.

use std::collections::HashSet;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{AtFlags, AT_FDCWD};
use nix::sys::stat::{makedev, mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, Gid, Uid};

use crate::digest::{Digest, HashingReader};
use crate::error::{Error, IoContext, Result};
use crate::sparse;

const WHITEOUT_PREFIX: &str = ".wh.";
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";
/// The overlayfs xattr marking a directory opaque.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What an extraction produced.
#[derive(Debug, Clone)]
pub struct ExtractStats {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Bytes of the uncompressed tar stream.
    pub tar_bytes: u64,
    /// Sum of the sizes of the regular files written.
    pub content_bytes: u64,
}

/// Compression detected from a layer's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

/// Wraps `reader` in the decompressor its magic bytes call for.
pub fn decompress<'a, R: Read + 'a>(reader: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut buffered = BufReader::with_capacity(256 * 1024, reader);
    let head = buffered.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok((
            Compression::Gzip,
            Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        ))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok((
            Compression::Zstd,
            Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
        ))
    } else {
        Ok((Compression::None, Box::new(buffered)))
    }
}

/// True when device nodes may be created: uid 0 in the initial user namespace.
pub fn running_as_real_root() -> bool {
    nix::unistd::geteuid().is_root()
        && fs::read_to_string("/proc/self/uid_map")
            .map(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
            .unwrap_or(false)
}

/// Extracts a layer tarball (any supported compression) into `dest`, an existing empty dir.
pub fn extract_layer<R: Read>(layer: R, dest: &Path) -> Result<ExtractStats> {
    let (_, decompressed) = decompress(layer).at("read layer header for", dest)?;
    let mut hashing = HashingReader::new(decompressed);
    let mut extractor = Extractor::new(dest, true, None);
    {
        let mut archive = tar::Archive::new(&mut hashing);
        let entries = archive.entries().map_err(|e| bad_tar(dest, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| bad_tar(dest, e))?;
            extractor.entry(entry)?;
        }
    }
    let (diff_id, tar_bytes) = hashing.finish().map_err(|e| bad_tar(dest, e))?;
    extractor.finish()?;
    Ok(ExtractStats {
        diff_id,
        tar_bytes,
        content_bytes: extractor.content_bytes,
    })
}

fn bad_tar(dest: &Path, e: io::Error) -> Error {
    Error::BadArchive {
        what: format!("layer tar for {}", dest.display()),
        reason: e.to_string(),
    }
}

/// Extracts a plain (or compressed) tar into the existing directory `dest`, as `docker cp`
/// does: with the same safety as a layer, but `.wh.` names are ordinary files, and with
/// `owner` every entry gets that uid and gid instead of the archive's.
pub fn extract_archive<R: Read>(archive: R, dest: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    let (_, decompressed) = decompress(archive).at("read archive header for", dest)?;
    let mut extractor = Extractor::new(dest, false, owner);
    let mut archive = tar::Archive::new(decompressed);
    let entries = archive.entries().map_err(|e| bad_tar(dest, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| bad_tar(dest, e))?;
        extractor.entry(entry)?;
    }
    extractor.finish()
}

struct Extractor {
    root: PathBuf,
    /// Layer semantics: `.wh.` entries are overlay whiteouts.
    whiteouts: bool,
    /// The uid and gid every entry gets, instead of the archive's.
    owner: Option<(u32, u32)>,
    /// Paths already checked to be real directories; only removing a directory can change
    /// that, and `remove_existing` then forgets them all.
    verified_dirs: HashSet<PathBuf>,
    real_root: bool,
    dir_times: Vec<(PathBuf, i64)>,
    content_bytes: u64,
}

fn unsafe_entry(entry: &Path, reason: impl Into<String>) -> Error {
    Error::UnsafeEntry {
        entry: entry.display().to_string(),
        reason: reason.into(),
    }
}

/// Splits an archive path into plain components, refusing absolute paths and `..`.
fn clean_components(raw: &Path) -> Result<Vec<OsString>> {
    let mut out = Vec::new();
    for component in raw.components() {
        match component {
            Component::Normal(c) => out.push(c.to_os_string()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry(raw, "absolute path"))
            }
            Component::ParentDir => return Err(unsafe_entry(raw, "path contains '..'")),
        }
    }
    Ok(out)
}

impl Extractor {
    fn new(root: &Path, whiteouts: bool, owner: Option<(u32, u32)>) -> Self {
        Extractor {
            root: root.to_path_buf(),
            whiteouts,
            owner,
            real_root: running_as_real_root(),
            dir_times: Vec::new(),
            verified_dirs: HashSet::new(),
            content_bytes: 0,
        }
    }

    /// Walks `components` below the root, each one an existing real directory (created when
    /// missing and `create` is set). A symlink or non-directory on the way is refused.
    fn walk_dirs(
        &mut self,
        entry: &Path,
        components: &[OsString],
        create: bool,
    ) -> Result<PathBuf> {
        let mut current = self.root.clone();
        for c in components {
            current.push(c);
            if self.verified_dirs.contains(&current) {
                continue;
            }
            match fs::symlink_metadata(&current) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(unsafe_entry(
                        entry,
                        format!(
                            "parent {} is a symlink; refusing to write through it",
                            rel(&self.root, &current)
                        ),
                    ))
                }
                Ok(_) => {
                    return Err(unsafe_entry(
                        entry,
                        format!("parent {} is not a directory", rel(&self.root, &current)),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    fs::create_dir(&current).at("create directory", &current)?;
                    self.verified_dirs.insert(current.clone());
                }
                Err(e) => return Err(Error::io("inspect", &current, e)),
            }
        }
        Ok(current)
    }

    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<()> {
        let header_path = entry
            .path()
            .map_err(|e| bad_tar(&self.root, e))?
            .into_owned();
        let records = pax_records(&mut entry, &header_path)?;
        let sparse =
            sparse::from_pax(&records).map_err(|reason| unsafe_entry(&header_path, reason))?;
        // PAX sparse 0.1 and 1.0 store the file as `GNUSparseFile.N/name`.
        let raw_path = match sparse.as_ref().and_then(|s| s.name.clone()) {
            Some(name) => name,
            None => header_path,
        };
        let components = clean_components(&raw_path)?;
        let Some((name, parents)) = components.split_last() else {
            return Ok(()); // the layer root itself ("./")
        };
        let parent = self.walk_dirs(&raw_path, parents, true)?;
        let name_bytes = name.as_bytes();

        if self.whiteouts && name_bytes == WHITEOUT_OPAQUE.as_bytes() {
            return set_xattr(&parent, OVERLAY_OPAQUE_XATTR, b"y");
        }
        if self.whiteouts && name_bytes.starts_with(WHITEOUT_META_PREFIX.as_bytes()) {
            tracing::debug!(entry = %raw_path.display(), "ignoring whiteout metadata entry");
            return Ok(());
        }
        if let Some(hidden) = name_bytes
            .strip_prefix(WHITEOUT_PREFIX.as_bytes())
            .filter(|_| self.whiteouts)
        {
            if hidden.is_empty() || hidden == b"." || hidden == b".." {
                return Err(unsafe_entry(
                    &raw_path,
                    "whiteout names no file in its directory",
                ));
            }
            let target = parent.join(OsStr::from_bytes(hidden));
            remove_existing(&target, &mut self.verified_dirs)?;
            mknod(&target, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
                .map_err(|e| Error::io("create whiteout", &target, e.into()))?;
            return Ok(());
        }

        let path = parent.join(name);
        let header = entry.header().clone();
        let kind = header.entry_type();
        let mode = header.mode().map_err(|e| bad_tar(&self.root, e))? & 0o7777;
        let (uid, gid) = match self.owner {
            Some((uid, gid)) => (u64::from(uid), u64::from(gid)),
            None => (
                header.uid().map_err(|e| bad_tar(&self.root, e))?,
                header.gid().map_err(|e| bad_tar(&self.root, e))?,
            ),
        };
        let mtime = header.mtime().map_err(|e| bad_tar(&self.root, e))? as i64;
        let xattrs = pax_xattrs(&records, &raw_path)?;
        if sparse.is_some() && !matches!(kind, tar::EntryType::Regular | tar::EntryType::Continuous)
        {
            return Err(unsafe_entry(
                &raw_path,
                "GNU sparse records on a non-regular file",
            ));
        }

        match kind {
            tar::EntryType::Directory => {
                match fs::symlink_metadata(&path) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        remove_existing(&path, &mut self.verified_dirs)?;
                        fs::create_dir(&path).at("create directory", &path)?;
                    }
                    Err(_) => fs::create_dir(&path).at("create directory", &path)?,
                }
                self.dir_times.push((path.clone(), mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let create = || {
                    OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .custom_flags(libc::O_NOFOLLOW)
                        .open(&path)
                };
                // O_EXCL never follows a final symlink; replace whatever is there and retry.
                let mut file = match create() {
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        remove_existing(&path, &mut self.verified_dirs)?;
                        create()
                    }
                    other => other,
                }
                .at("create", &path)?;
                match &sparse {
                    Some(sparse) => {
                        let data_len = entry.size();
                        sparse::write(sparse, &mut entry, data_len, &mut file)
                            .map_err(|reason| unsafe_entry(&raw_path, reason))?;
                        self.content_bytes += sparse.real_size;
                    }
                    None => {
                        let written = io::copy(&mut entry, &mut file).at("write", &path)?;
                        self.content_bytes += written;
                    }
                }
            }
            tar::EntryType::GNUSparse => {
                // The tar crate reads the GNU sparse map; unpack seeks over the holes and
                // creates the file with O_EXCL, so a symlink there is never followed.
                remove_existing(&path, &mut self.verified_dirs)?;
                let size = entry.size();
                entry
                    .unpack(&path)
                    .map_err(|e| unsafe_entry(&raw_path, format!("sparse file: {e}")))?;
                self.content_bytes += size;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| bad_tar(&self.root, e))?
                    .ok_or_else(|| unsafe_entry(&raw_path, "symlink without target"))?;
                remove_existing(&path, &mut self.verified_dirs)?;
                std::os::unix::fs::symlink(&target, &path).at("create symlink", &path)?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| bad_tar(&self.root, e))?
                    .ok_or_else(|| unsafe_entry(&raw_path, "hardlink without target"))?;
                let target_components = clean_components(&target).map_err(|_| {
                    unsafe_entry(
                        &raw_path,
                        format!(
                            "hardlink target {} leads outside the layer",
                            target.display()
                        ),
                    )
                })?;
                let Some((target_name, target_parents)) = target_components.split_last() else {
                    return Err(unsafe_entry(&raw_path, "hardlink to the layer root"));
                };
                let target_path = self
                    .walk_dirs(&raw_path, target_parents, false)?
                    .join(target_name);
                let meta = fs::symlink_metadata(&target_path).map_err(|_| {
                    unsafe_entry(
                        &raw_path,
                        format!("hardlink target {} is not in the layer", target.display()),
                    )
                })?;
                if meta.is_dir() {
                    return Err(unsafe_entry(&raw_path, "hardlink to a directory"));
                }
                if target_path != path {
                    remove_existing(&path, &mut self.verified_dirs)?;
                    fs::hard_link(&target_path, &path).at("create hardlink", &path)?;
                }
                return Ok(()); // a hardlink shares its target's metadata
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let (flag, dev) = match kind {
                    tar::EntryType::Char => (SFlag::S_IFCHR, true),
                    tar::EntryType::Block => (SFlag::S_IFBLK, true),
                    _ => (SFlag::S_IFIFO, false),
                };
                if dev && !self.real_root {
                    tracing::warn!(entry = %raw_path.display(), "skipping device node: not running as real root");
                    return Ok(());
                }
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                remove_existing(&path, &mut self.verified_dirs)?;
                mknod(
                    &path,
                    flag,
                    Mode::from_bits_truncate(0o600),
                    makedev(u64::from(major), u64::from(minor)),
                )
                .map_err(|e| Error::io("create node", &path, e.into()))?;
            }
            tar::EntryType::XGlobalHeader => return Ok(()),
            other => {
                tracing::warn!(entry = %raw_path.display(), kind = ?other, "skipping unsupported tar entry type");
                return Ok(());
            }
        }

        let is_symlink = kind == tar::EntryType::Symlink;
        fchownat(
            AT_FDCWD,
            &path,
            Some(Uid::from_raw(uid as u32)),
            Some(Gid::from_raw(gid as u32)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| Error::io("chown", &path, e.into()))?;
        if !is_symlink {
            // After chown, which clears setuid/setgid.
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).at("chmod", &path)?;
        }
        for (key, value) in xattrs {
            match set_xattr(&path, &key, &value) {
                Ok(()) => {}
                Err(e) if is_symlink => {
                    tracing::debug!(error = %e, "xattr on symlink not supported")
                }
                Err(e) => return Err(e),
            }
        }
        if kind != tar::EntryType::Directory {
            set_mtime(&path, mtime)?;
        }
        Ok(())
    }

    /// Directory mtimes last, deepest first, since creating children changes them.
    fn finish(&mut self) -> Result<()> {
        self.dir_times
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (path, mtime) in &self.dir_times {
            set_mtime(path, *mtime)?;
        }
        Ok(())
    }
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Removes whatever is at `path` (never following a symlink), so an entry can replace it.
fn remove_existing(path: &Path, verified_dirs: &mut HashSet<PathBuf>) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            verified_dirs.clear();
            fs::remove_dir_all(path).at("remove", path)
        }
        Ok(_) => fs::remove_file(path).at("remove", path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("inspect", path, e)),
    }
}

/// The PAX records of an entry, in order.
fn pax_records<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    raw: &Path,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let Some(extensions) = entry
        .pax_extensions()
        .map_err(|e| unsafe_entry(raw, e.to_string()))?
    else {
        return Ok(out);
    };
    for ext in extensions {
        let ext = ext.map_err(|e| unsafe_entry(raw, e.to_string()))?;
        let Ok(key) = ext.key() else { continue };
        out.push((key.to_string(), ext.value_bytes().to_vec()));
    }
    Ok(out)
}

/// The `SCHILY.xattr.*` PAX records of an entry; overlay's own xattrs are refused.
fn pax_xattrs(records: &[(String, Vec<u8>)], raw: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for (key, value) in records {
        if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
            if name.starts_with("trusted.overlay.") {
                return Err(unsafe_entry(
                    raw,
                    format!("layer may not set overlay xattr {name}"),
                ));
            }
            out.push((name.to_string(), value.clone()));
        }
    }
    Ok(out)
}

pub(crate) fn set_xattr(path: &Path, name: &str, value: &[u8]) -> Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::io("setxattr", path, io::ErrorKind::InvalidInput.into()))?;
    let c_name = CString::new(name)
        .map_err(|_| Error::io("setxattr", path, io::ErrorKind::InvalidInput.into()))?;
    // SAFETY: both strings are NUL-terminated and outlive the call; value is a valid slice.
    let rc = unsafe {
        libc::lsetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::io("setxattr", path, io::Error::last_os_error()))
    }
}

pub(crate) fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
    let c_name = CString::new(name).ok()?;
    // SAFETY: a NULL buffer of size 0 asks for the value's size only.
    let size =
        unsafe { libc::lgetxattr(c_path.as_ptr(), c_name.as_ptr(), std::ptr::null_mut(), 0) };
    if size < 0 {
        return None;
    }
    let mut buf = vec![0u8; size as usize];
    // SAFETY: buffer pointer and length describe a live allocation.
    let n = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}

fn set_mtime(path: &Path, mtime: i64) -> Result<()> {
    let ts = TimeSpec::new(mtime, 0);
    utimensat(AT_FDCWD, path, &ts, &ts, UtimensatFlags::NoFollowSymlink)
        .map_err(|e| Error::io("set mtime", path, e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_components_refuses_escapes() {
        assert!(clean_components(Path::new("/etc/passwd")).is_err());
        assert!(clean_components(Path::new("a/../../b")).is_err());
        assert_eq!(
            clean_components(Path::new("./a/./b/")).unwrap(),
            vec![OsString::from("a"), OsString::from("b")]
        );
        assert!(clean_components(Path::new("./")).unwrap().is_empty());
    }
}
