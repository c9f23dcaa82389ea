//! The RPM payload: xz compression on every core, and the header and signature header entries
//! that describe the compressed payload.
//!
//! rpm-rs compresses on one thread. berth instead has rpm-rs write the cpio archive
//! uncompressed, compresses it here with liblzma's multi-threaded encoder, and then rewrites what
//! depends on the payload: the compressor, flags and payload digest in the header, and the whole
//! signature header ([`crate::signature_header`]). The xz block size is fixed, so the bytes do
//! not depend on how many cores the build machine has.

use rpm::{HeaderEntry, IndexData, IndexTag};
use sha2::{Digest, Sha256};

/// The xz level berth's RPMs use unless told otherwise. Measured on the engine package (16 MB
/// of static binaries, 2 cores): level 0 compresses in 0.7 s and is 6% larger than level 2,
/// which takes 2.4 s; `cargo xtask rpm` has a 2-second budget.
pub const DEFAULT_XZ_LEVEL: u32 = 0;

/// Uncompressed bytes per xz block. Blocks are compressed in parallel; a fixed size keeps the
/// output identical whatever the thread count. 4 MiB costs under 1% of ratio against one block.
pub const XZ_BLOCK_BYTES: u64 = 4 << 20;

/// Compresses `data` as one xz stream of independent blocks (CRC64 checks), on up to
/// `threads` threads. The output depends only on `data` and `level`.
pub fn xz_compress(data: &[u8], level: u32, threads: u32) -> Result<Vec<u8>, String> {
    xz_compress_digested(data, level, threads).map(|(compressed, _)| compressed)
}

/// Like [`xz_compress`], also returning the SHA-256 of the compressed bytes, hashed as the
/// encoder writes them instead of in a second pass.
pub fn xz_compress_digested(
    data: &[u8],
    level: u32,
    threads: u32,
) -> Result<(Vec<u8>, [u8; 32]), String> {
    use std::io::Write;
    let stream = liblzma::stream::MtStreamBuilder::new()
        .threads(threads.max(1))
        .block_size(XZ_BLOCK_BYTES)
        .preset(level)
        .check(liblzma::stream::Check::Crc64)
        .encoder()
        .map_err(|e| format!("xz encoder (level {level}): {e}"))?;
    let output = Sha256Writer {
        bytes: Vec::new(),
        sha256: Sha256::new(),
    };
    let mut encoder = liblzma::write::XzEncoder::new_stream(output, stream);
    let output = encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|e| format!("xz compression: {e}"))?;
    Ok((output.bytes, output.sha256.finalize().into()))
}

/// Collects written bytes and their SHA-256.
struct Sha256Writer {
    bytes: Vec<u8>,
    sha256: Sha256,
}

impl std::io::Write for Sha256Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        self.sha256.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The number of threads to compress with: every core this process may run on.
pub fn default_threads() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1)
}

/// Replaces the uncompressed cpio payload of `package` (built by rpm-rs with
/// `CompressionWithLevel::None`) by its xz compression at `level`, updates the header to match,
/// and rebuilds the signature header ([`crate::signature_header::rebuild`]), signed by `signer`
/// (dated `signature_time`) when given.
pub fn compress_xz<S>(
    package: &mut rpm::Package,
    level: u32,
    threads: u32,
    signer: Option<S>,
    signature_time: u32,
) -> Result<(), String>
where
    S: rpm::signature::Signing<Signature = Vec<u8>>,
{
    let compressor = package
        .metadata
        .header
        .get_entry_data_as_string(IndexTag::RPMTAG_PAYLOADCOMPRESSOR)
        .ok();
    if let Some(compressor) = compressor {
        return Err(format!(
            "payload is already compressed ({compressor}); build it uncompressed"
        ));
    }
    let archive_size = u32::try_from(package.payload.len()).map_err(|_| {
        format!(
            "cpio archive of {} bytes exceeds 4 GiB",
            package.payload.len()
        )
    })?;
    let (compressed, digest) = xz_compress_digested(&package.payload, level, threads)?;
    let digest = hex::encode(digest);

    const COMPRESSOR: u32 = IndexTag::RPMTAG_PAYLOADCOMPRESSOR as u32;
    const FLAGS: u32 = IndexTag::RPMTAG_PAYLOADFLAGS as u32;
    const DIGEST: u32 = IndexTag::RPMTAG_PAYLOADSHA256 as u32;
    const REGION: u32 = IndexTag::RPMTAG_HEADERIMMUTABLE as u32;
    let entries = package
        .metadata
        .header
        .get_all_entries()
        .map_err(|e| format!("header: {e}"))?;
    let mut rebuilt: Vec<HeaderEntry> = entries
        .into_iter()
        .filter(|(tag, _)| !matches!(*tag, REGION | COMPRESSOR | FLAGS | DIGEST))
        .map(|(tag, data)| HeaderEntry::new(tag, data))
        .collect();
    rebuilt.extend([
        HeaderEntry::new(COMPRESSOR, IndexData::StringTag("xz".to_string())),
        HeaderEntry::new(FLAGS, IndexData::StringTag(level.to_string())),
        HeaderEntry::new(DIGEST, IndexData::StringArray(vec![digest])),
    ]);
    package.metadata.header = rpm::Header::from_entries(rebuilt, IndexTag::RPMTAG_HEADERIMMUTABLE);
    package.payload = compressed;

    crate::signature_header::rebuild(package, signer, signature_time, archive_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        // Compressible but not trivially so: a slowly changing byte pattern.
        (0..len)
            .map(|i| ((i / 7) as u8).wrapping_mul(31) ^ (i % 251) as u8)
            .collect()
    }

    #[test]
    fn the_output_does_not_depend_on_the_thread_count() {
        let data = sample(9 << 20);
        let one = xz_compress(&data, 0, 1).expect("one thread");
        let four = xz_compress(&data, 0, 4).expect("four threads");
        assert_eq!(one, four);
        let mut round_trip = Vec::new();
        std::io::copy(
            &mut liblzma::read::XzDecoder::new(one.as_slice()),
            &mut round_trip,
        )
        .expect("decompress");
        assert!(round_trip == data, "round trip changed the data");
    }

    #[test]
    fn the_digest_hashed_while_writing_is_the_digest_of_the_output() {
        let data = sample(9 << 20);
        let (compressed, digest) = xz_compress_digested(&data, 0, 2).expect("compress");
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&compressed)));
    }
}
