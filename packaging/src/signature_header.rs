//! The signature header of a finished package, with the entries rpm 4.11's rpmbuild and rpmsign
//! write: the size, the header digests and header signature that every rpm checks, and the
//! legacy header+payload MD5 digest and RSA signature through which EL7 checks the payload.
//!
//! | tag | name | covers | written |
//! | --- | --- | --- | --- |
//! | 1000 | SIZE | header+payload length | always |
//! | 269 | SHA1 | header | always |
//! | 273 | SHA256 | header | always |
//! | 1004 | MD5 | header+payload | always |
//! | 1007 | PAYLOADSIZE | uncompressed cpio length | always |
//! | 268 | RSA | header (V4 RSA/SHA256 signature) | signed |
//! | 1002 | PGP | header+payload (V4 RSA/SHA256 signature) | signed |
//! | 278 | OPENPGP | header (the same signature, base64, for rpm 6) | signed |
//! | 1008 | RESERVEDSPACE | zeros, room for a later `rpmsign` | always |
//!
//! rpm 4.11 (CentOS 7) ignores the payload SHA256 digest in the main header, so without MD5 and
//! PGP a payload corrupted after signing passes `rpm -K` there and only fails at install. rpm
//! 4.14 and later check the payload digest and skip MD5 and PGP unless asked.

use std::io::Read;

use md5::{Digest, Md5};
use rpm::signature::Signing;
use rpm::{HeaderEntry, IndexData, IndexSignatureTag};

/// Bytes of one index record of a header.
const INDEX_RECORD_BYTES: u64 = 16;

/// Rebuilds the signature header of `package`, whose main header and payload are final:
/// everything in the table above, signed by `signer` (dated `signature_time`) when given.
/// `archive_size` is the uncompressed cpio size. The legacy entries (MD5, PGP, PAYLOADSIZE)
/// take their bytes from the reserved space, so the signature header is as long as without
/// them (under EL7's 8192-byte limit) and padded to 8 bytes.
pub fn rebuild<S>(
    package: &mut rpm::Package,
    signer: Option<S>,
    signature_time: u32,
    archive_size: u32,
) -> Result<(), String>
where
    S: Signing<Signature = Vec<u8>>,
{
    let header_bytes = package
        .metadata
        .header_bytes()
        .map_err(|e| format!("header: {e}"))?;
    let content_size = u32::try_from(header_bytes.len() + package.payload.len())
        .map_err(|_| "header and payload exceed 4 GiB".to_string())?;
    const SIZE: u32 = IndexSignatureTag::RPMSIGTAG_SIZE as u32;
    const PAYLOAD_SIZE: u32 = IndexSignatureTag::RPMSIGTAG_PAYLOADSIZE as u32;
    const MD5: u32 = IndexSignatureTag::RPMSIGTAG_MD5 as u32;
    const PGP: u32 = IndexSignatureTag::RPMSIGTAG_PGP as u32;
    add_entries(
        package,
        vec![(SIZE, IndexData::Int32(vec![content_size]))],
        0,
    )?;
    // Header digests over the final header; SIZE and the reserved space carry over.
    package
        .clear_signatures()
        .map_err(|e| format!("signature header: {e}"))?;

    // MD5 on a second thread while the signer hashes the same bytes and signs: MD5 is the
    // slower of the two (md-5 inlines into this crate, unoptimised in the dev builds that
    // `cargo xtask` runs), and by now the other package's build has usually left a core idle.
    let payload = &package.payload;
    let (md5, signatures) = std::thread::scope(|scope| {
        let md5 = scope.spawn(|| {
            let mut md5 = Md5::new();
            md5.update(&header_bytes);
            md5.update(payload);
            <[u8; 16]>::from(md5.finalize())
        });
        let signatures = signer
            .as_ref()
            .map(|signer| sign_header_and_payload(signer, &header_bytes, payload, signature_time))
            .transpose();
        (md5.join(), signatures)
    });
    let md5 = md5.map_err(|_| "the MD5 digest thread panicked".to_string())?;
    let mut legacy = vec![(MD5, IndexData::Bin(md5.to_vec()))];
    if let Some(signatures) = signatures? {
        package
            .apply_signature(signatures.header)
            .map_err(|e| format!("signature header: {e}"))?;
        legacy.push((PGP, IndexData::Bin(signatures.header_and_payload)));
    }
    legacy.push((PAYLOAD_SIZE, IndexData::Int32(vec![archive_size])));
    add_entries_within_reserved_space(package, legacy)
}

/// The two RSA signatures of a package.
struct Signatures {
    /// Over the main header (RSA and OPENPGP tags).
    header: Vec<u8>,
    /// Over the main header and then the payload (PGP tag).
    header_and_payload: Vec<u8>,
}

fn sign_header_and_payload<S>(
    signer: &S,
    header: &[u8],
    payload: &[u8],
    time: u32,
) -> Result<Signatures, String>
where
    S: Signing<Signature = Vec<u8>>,
{
    let time = rpm::Timestamp(time);
    Ok(Signatures {
        header: signer
            .sign(header, time)
            .map_err(|e| format!("signing the header: {e}"))?,
        header_and_payload: signer
            .sign(header.chain(payload), time)
            .map_err(|e| format!("signing the header and payload: {e}"))?,
    })
}

/// Adds `entries` to the signature header, shrinking the reserved space so that the header,
/// padded to 8 bytes, keeps its length: the reserved space is the last entry and byte-aligned,
/// so every byte taken from it is a byte less in the header. When the reserved space is too
/// small (or absent), it is emptied and the header grows.
fn add_entries_within_reserved_space(
    package: &mut rpm::Package,
    entries: Vec<(u32, IndexData)>,
) -> Result<(), String> {
    const RESERVED_SPACE: u32 = IndexSignatureTag::RPMSIGTAG_RESERVEDSPACE as u32;
    let padded_length = |package: &rpm::Package| {
        let offsets = package.metadata.get_package_segment_offsets();
        offsets.header - offsets.signature_header
    };
    let Ok(reserved) = package
        .metadata
        .signature
        .get_entry_data_as_binary(IndexSignatureTag::RPMSIGTAG_RESERVEDSPACE)
        .map(<[u8]>::len)
    else {
        return add_entries(package, entries, 0);
    };
    let before = padded_length(package);
    add_entries(package, entries, reserved)?;
    // Without the reserved space; adding it back costs its index record and its bytes.
    let without_reserve = padded_length(package);
    let room = before.saturating_sub(without_reserve + INDEX_RECORD_BYTES);
    let keep = usize::try_from(room).unwrap_or(0).min(reserved);
    if keep == 0 {
        return Ok(());
    }
    add_entries(
        package,
        vec![(RESERVED_SPACE, IndexData::Bin(vec![0; keep]))],
        0,
    )
}

/// Sets the signature header entries `added` (replacing entries with the same tags), taking
/// `reserve_bytes` from the reserved space, which is dropped when that empties it.
fn add_entries(
    package: &mut rpm::Package,
    added: Vec<(u32, IndexData)>,
    reserve_bytes: usize,
) -> Result<(), String> {
    const RESERVED_SPACE: u32 = IndexSignatureTag::RPMSIGTAG_RESERVEDSPACE as u32;
    const REGION: u32 = IndexSignatureTag::HEADER_SIGNATURES as u32;
    let entries = package
        .metadata
        .signature
        .get_all_entries()
        .map_err(|e| format!("signature header: {e}"))?;
    let mut rebuilt = Vec::with_capacity(entries.len() + added.len());
    for (existing, value) in entries {
        match (existing, value) {
            (REGION, _) => {}
            (existing, _) if added.iter().any(|(tag, _)| *tag == existing) => {}
            (RESERVED_SPACE, IndexData::Bin(space)) => {
                let keep = space.len().saturating_sub(reserve_bytes);
                if keep > 0 {
                    rebuilt.push(HeaderEntry::new(
                        RESERVED_SPACE,
                        IndexData::Bin(space[..keep].to_vec()),
                    ));
                }
            }
            (existing, value) => rebuilt.push(HeaderEntry::new(existing, value)),
        }
    }
    rebuilt.extend(
        added
            .into_iter()
            .map(|(tag, data)| HeaderEntry::new(tag, data)),
    );
    package.metadata.signature =
        rpm::Header::from_entries(rebuilt, IndexSignatureTag::HEADER_SIGNATURES);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_SIGNER: Option<rpm::signature::pgp::Signer> = None;

    fn package() -> rpm::Package {
        let config = rpm::BuildConfig::v4().compression(rpm::CompressionWithLevel::None);
        rpm::PackageBuilder::new("t", "1.0", "MIT", "noarch", "test package")
            .using_config(config)
            .build()
            .expect("build")
    }

    fn padded_length(package: &rpm::Package) -> u64 {
        let offsets = package.metadata.get_package_segment_offsets();
        offsets.header - offsets.signature_header
    }

    fn has(package: &rpm::Package, tag: IndexSignatureTag) -> bool {
        package.metadata.signature.entry_is_present(tag)
    }

    #[test]
    fn the_legacy_entries_take_their_bytes_from_the_reserved_space() {
        let mut expected = package();
        expected.clear_signatures().expect("clear");
        let mut rebuilt = package();
        rebuild(&mut rebuilt, NO_SIGNER, 1, 100).expect("rebuild");
        assert_eq!(padded_length(&rebuilt), padded_length(&expected));
        assert!(has(&rebuilt, IndexSignatureTag::RPMSIGTAG_MD5));
        assert!(has(&rebuilt, IndexSignatureTag::RPMSIGTAG_PAYLOADSIZE));
        assert!(!has(&rebuilt, IndexSignatureTag::RPMSIGTAG_PGP));
    }

    #[test]
    fn a_reserved_space_too_small_is_dropped_and_the_header_grows() {
        let mut small = package();
        const RESERVED: u32 = IndexSignatureTag::RPMSIGTAG_RESERVEDSPACE as u32;
        add_entries(&mut small, vec![(RESERVED, IndexData::Bin(vec![0; 8]))], 0).expect("add");
        small.clear_signatures().expect("clear");
        let before = padded_length(&small);
        rebuild(&mut small, NO_SIGNER, 1, 100).expect("rebuild");
        assert!(!has(&small, IndexSignatureTag::RPMSIGTAG_RESERVEDSPACE));
        assert!(has(&small, IndexSignatureTag::RPMSIGTAG_MD5));
        assert!(padded_length(&small) > before);
        assert_eq!(padded_length(&small) % 8, 0);
        // It reads back whole.
        let mut bytes = Vec::new();
        small.write(&mut bytes).expect("write");
        let read = rpm::Package::parse(&mut bytes.as_slice()).expect("parse");
        assert_eq!(read.payload, small.payload);
        assert!(has(&read, IndexSignatureTag::RPMSIGTAG_MD5));
    }
}
