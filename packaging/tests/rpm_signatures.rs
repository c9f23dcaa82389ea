//! The legacy header+payload checks EL7 relies on (issue 14): a payload corrupted after signing
//! fails `rpm -K`, both as rpm 4.18 checks packages and as rpm 4.11 (CentOS 7) does, which
//! ignores the payload SHA256 digest and sees only the MD5 digest and the PGP signature.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_packaging::builder;
use berth_packaging::signing::SigningKey;
use common::*;

/// rpm verify flags that skip what rpm 4.11 does not know: the header SHA256 digest
/// (RPMVSF_NOSHA256HEADER, 1 << 9) and the payload digests (RPMVSF_NOPAYLOAD, 1 << 16).
/// What is left is what CentOS 7's `rpm -K` checks.
const EL7_VERIFY_FLAGS: &str = "_pkgverify_flags 0x10200";

/// Builds berth-engine from stand-ins into `dir`/out, signed with `key` when given.
fn build_engine(dir: &Path, key: Option<&SigningKey>) -> PathBuf {
    let sources = stand_in_sources(dir);
    let package = builder::build_package(
        &definition("berth-engine"),
        &sources,
        &settings("1.0.0"),
        key,
    )
    .unwrap();
    builder::write_package(&package, &dir.join("out")).unwrap()
}

/// A copy of `rpm` with one byte in the middle of its payload flipped.
fn with_payload_byte_flipped(rpm: &Path) -> PathBuf {
    let payload_start = rpm::PackageMetadata::open(rpm)
        .unwrap()
        .get_package_segment_offsets()
        .payload as usize;
    let mut bytes = std::fs::read(rpm).unwrap();
    assert!(bytes.len() > payload_start, "{}: no payload", rpm.display());
    let middle = payload_start + (bytes.len() - payload_start) / 2;
    bytes[middle] ^= 0x01;
    let tampered = rpm.with_file_name("tampered.rpm");
    std::fs::write(&tampered, bytes).unwrap();
    tampered
}

/// `rpm --dbpath DB -Kv [--define FLAGS] RPM`.
fn rpm_check(db: &Path, rpm: &Path, define: Option<&str>) -> Output {
    let mut cmd = Command::new("rpm");
    cmd.arg("--dbpath").arg(db).arg("-Kv");
    if let Some(define) = define {
        cmd.args(["--define", define]);
    }
    cmd.arg(rpm).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether `rpm -Kv` printed a line starting with `prefix` and ending with `verdict`.
fn reports(out: &Output, prefix: &str, verdict: &str) -> bool {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .any(|l| l.starts_with(prefix) && l.contains(verdict))
}

#[test]
fn a_payload_corrupted_after_signing_fails_rpm_k_as_el7_checks_it() {
    require_tool("rpm");
    let dir = tempfile::tempdir().unwrap();
    let key = test_key();
    let rpm = build_engine(dir.path(), Some(&key));
    let db = rpmdb_with_key(dir.path(), &key);
    let tampered = with_payload_byte_flipped(&rpm);

    // As rpm 4.11 checks: only the header+payload signature and MD5 digest cover the payload,
    // and both verify on the intact package.
    let intact = rpm_check(&db, &rpm, Some(EL7_VERIFY_FLAGS));
    assert!(intact.status.success(), "{}", text(&intact));
    assert!(
        reports(&intact, "V4 RSA/SHA256 Signature, key ID", ": OK"),
        "{}",
        text(&intact)
    );
    assert!(reports(&intact, "MD5 digest", ": OK"), "{}", text(&intact));
    let broken = rpm_check(&db, &tampered, Some(EL7_VERIFY_FLAGS));
    assert!(!broken.status.success(), "{}", text(&broken));
    assert!(
        reports(&broken, "V4 RSA/SHA256 Signature, key ID", ": BAD"),
        "{}",
        text(&broken)
    );
    assert!(reports(&broken, "MD5 digest", ": BAD"), "{}", text(&broken));
    // The header signature still verifies: only the payload was touched.
    assert!(
        reports(&broken, "Header V4 RSA/SHA256 Signature", ": OK"),
        "{}",
        text(&broken)
    );

    // As rpm 4.18 checks by default: every check runs, the payload ones fail.
    let broken = rpm_check(&db, &tampered, None);
    assert!(!broken.status.success(), "{}", text(&broken));
    for prefix in [
        "Payload SHA256 digest",
        "V4 RSA/SHA256 Signature",
        "MD5 digest",
    ] {
        assert!(
            reports(&broken, prefix, ": BAD"),
            "no `{prefix}: BAD` in\n{}",
            text(&broken)
        );
    }
}

#[test]
fn unsigned_packages_carry_the_md5_digest() {
    require_tool("rpm");
    let dir = tempfile::tempdir().unwrap();
    let rpm = build_engine(dir.path(), None);
    let db = dir.path().join("rpmdb");
    std::fs::create_dir_all(&db).unwrap();

    let intact = rpm_check(&db, &rpm, Some(EL7_VERIFY_FLAGS));
    assert!(intact.status.success(), "{}", text(&intact));
    assert!(reports(&intact, "MD5 digest", ": OK"), "{}", text(&intact));
    let broken = rpm_check(
        &db,
        &with_payload_byte_flipped(&rpm),
        Some(EL7_VERIFY_FLAGS),
    );
    assert!(!broken.status.success(), "{}", text(&broken));
    assert!(reports(&broken, "MD5 digest", ": BAD"), "{}", text(&broken));
}

#[test]
fn the_legacy_entries_leave_the_signature_header_small_and_aligned() {
    // PAYLOADSIZE, MD5 and PGP take their bytes from the reserved space: the signature header
    // stays well under EL7's 8192-byte limit, padded to 8 bytes, with room for a later
    // `rpmsign --addsign`.
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(4096, "berth release-size key <test@example.invalid>").unwrap();
    let rpm = build_engine(dir.path(), Some(&key));
    let metadata = rpm::PackageMetadata::open(&rpm).unwrap();
    let offsets = metadata.get_package_segment_offsets();
    let length = offsets.header - offsets.signature_header;
    assert_eq!(length % 8, 0, "signature header of {length} bytes");
    assert!(length < 6000, "signature header of {length} bytes");
    let signature = |tag| {
        metadata
            .signature
            .get_entry_data_as_binary(tag)
            .unwrap()
            .to_vec()
    };
    use rpm::IndexSignatureTag::*;
    assert_eq!(signature(RPMSIGTAG_MD5).len(), 16);
    // A 4096-bit RSA signature packet, as releases use.
    assert!(signature(RPMSIGTAG_PGP).len() > 512);
    let reserved = signature(RPMSIGTAG_RESERVEDSPACE);
    assert!(
        reserved.len() > 2500 && reserved.iter().all(|&b| b == 0),
        "reserved space of {} bytes",
        reserved.len()
    );
}
