//! The built RPMs, read back with the real rpm and rpmlint: every EL7 rule from issue 4
//! (payload, rpmlib caps, digests, signature header, RSA signature), the file list, scriptlets,
//! dependencies, reproducibility and bad input.

mod common;

use std::path::Path;
use std::process::Command;

use berth_packaging::builder::{self, BuildError};
use common::*;

/// The rpmlib() capabilities rpm 4.11.3 (CentOS 7) provides.
const RPM_411_RPMLIB: &[&str] = &[
    "VersionedDependencies",
    "CompressedFileNames",
    "PayloadIsBzip2",
    "PayloadIsXz",
    "PayloadIsLzma",
    "PayloadFilesHavePrefix",
    "ExplicitPackageProvide",
    "HeaderLoadSortsTags",
    "ScriptletInterpreterArgs",
    "PartialHardlinkSets",
    "ConcurrentAccess",
    "BuiltinLuaScripts",
    "FileDigests",
    "FileCaps",
    "ScriptletExpansion",
    "TildeInVersions",
];

/// Tags of the signature header: (tag, type, offset, count), and the data size. Checks that
/// the main header starts right after it, padded to 8 bytes.
fn signature_header(rpm: &Path) -> (Vec<(u32, u32, u32, u32)>, u32) {
    let bytes = std::fs::read(rpm).unwrap();
    assert_eq!(&bytes[..4], &[0xed, 0xab, 0xee, 0xdb], "lead magic");
    let sig = &bytes[96..];
    assert_eq!(&sig[..3], &[0x8e, 0xad, 0xe8], "signature header magic");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let count = be(&sig[8..12]) as usize;
    let data_size = be(&sig[12..16]);
    let end = 16 + 16 * count + data_size as usize;
    let padded = end.next_multiple_of(8);
    assert!(
        sig[end..padded].iter().all(|&b| b == 0),
        "{}: signature header padding is not zeros",
        rpm.display()
    );
    assert_eq!(
        &sig[padded..padded + 3],
        &[0x8e, 0xad, 0xe8],
        "{}: no main header at the 8-byte boundary after the signature header",
        rpm.display()
    );
    let entries = (0..count)
        .map(|i| {
            let e = &sig[16 + 16 * i..32 + 16 * i];
            (be(&e[0..4]), be(&e[4..8]), be(&e[8..12]), be(&e[12..16]))
        })
        .collect();
    (entries, data_size)
}

#[test]
fn packages_meet_the_el7_format_rules() {
    require_tool("rpm");
    let dir = tempfile::tempdir().unwrap();
    let sources = stand_in_sources(dir.path());
    let key = test_key();
    let rpms = build_both(
        &sources,
        &settings("1.0.0"),
        Some(&key),
        &dir.path().join("out"),
    );
    let db = rpmdb_with_key(dir.path(), &key);
    for rpm in &rpms {
        let name = rpm.display();
        // Payload: xz, never zstd; cpio.
        assert_eq!(rpm_query(rpm, "%{PAYLOADCOMPRESSOR}"), "xz", "{name}");
        assert_eq!(rpm_query(rpm, "%{PAYLOADFORMAT}"), "cpio", "{name}");
        // Only rpmlib() capabilities rpm 4.11 knows; no rich or weak dependencies.
        let requires = stdout(
            Command::new("rpm")
                .args(["-qp", "--nosignature", "--requires"])
                .arg(rpm),
        );
        for line in requires.lines() {
            assert!(!line.starts_with('('), "{name}: rich dependency {line}");
            if let Some(cap) = line.strip_prefix("rpmlib(") {
                let cap = cap.split(')').next().unwrap();
                assert!(
                    RPM_411_RPMLIB.contains(&cap),
                    "{name}: rpmlib({cap}) is unknown to rpm 4.11"
                );
            }
        }
        for weak in ["--recommends", "--suggests", "--supplements", "--enhances"] {
            let out = stdout(
                Command::new("rpm")
                    .args(["-qp", "--nosignature", weak])
                    .arg(rpm),
            );
            assert!(out.trim().is_empty(), "{name}: {weak}: {out}");
        }
        // SHA-256 file digests (algorithm 8).
        assert_eq!(rpm_query(rpm, "%{FILEDIGESTALGO}"), "8", "{name}");
        // Signature header: SHA1 (269), SHA256 (273) header digests, RSA header signature (268),
        // and what rpm 4.11's rpmbuild and rpmsign add: SIZE (1000), the header+payload RSA
        // signature (PGP, 1002) and MD5 digest (1004); at most 32 tags and under 8192 data
        // bytes.
        let (tags, data_size) = signature_header(rpm);
        let has = |tag| tags.iter().any(|t| t.0 == tag);
        for tag in [269, 273, 268, 1000, 1002, 1004] {
            assert!(has(tag), "{name}: no tag {tag} in signature tags {tags:?}");
        }
        assert!(tags.len() <= 32, "{name}: {} signature tags", tags.len());
        assert!(
            data_size < 8192,
            "{name}: signature header data is {data_size} bytes"
        );
        // rpm -Kv: both RSA signatures (header; header+payload) and all digests verify.
        let check = stdout(
            Command::new("rpm")
                .arg("--dbpath")
                .arg(&db)
                .arg("-Kv")
                .arg(rpm),
        );
        let lines: Vec<&str> = check.lines().map(str::trim).collect();
        let verified = |prefix: &str| {
            lines
                .iter()
                .any(|l| l.starts_with(prefix) && l.ends_with(": OK"))
        };
        for prefix in [
            "Header V4 RSA/SHA256 Signature, key ID",
            "Header SHA1 digest",
            "Header SHA256 digest",
            "Payload SHA256 digest",
            "V4 RSA/SHA256 Signature, key ID",
            "MD5 digest",
        ] {
            assert!(verified(prefix), "{name}: no `{prefix}...: OK` in\n{check}");
        }
        assert!(
            !check.contains("NOKEY") && !check.contains("BAD") && !check.contains("NOTOK"),
            "{check}"
        );
        // The signature header records the cpio size (PAYLOADSIZE, read back as ARCHIVESIZE),
        // and rpm2cpio copies exactly that much and exits 0.
        assert!(has(1007), "{name}: no PAYLOADSIZE in {tags:?}");
        let cpio = Command::new("rpm2cpio").arg(rpm).output().unwrap();
        assert!(
            cpio.status.success(),
            "{name}: rpm2cpio: {}",
            String::from_utf8_lossy(&cpio.stderr)
        );
        assert_eq!(
            rpm_query(rpm, "%{ARCHIVESIZE}"),
            cpio.stdout.len().to_string(),
            "{name}"
        );
        // Every file root:root with the fixed mtime.
        let owners = rpm_query(rpm, "[%{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEMTIMES}\n]");
        for line in owners.lines() {
            assert_eq!(line, format!("root:root {SOURCE_DATE}"), "{name}");
        }
        // Metadata the issue lists.
        for tag in [
            "NAME",
            "SUMMARY",
            "DESCRIPTION",
            "URL",
            "VENDOR",
            "PACKAGER",
            "GROUP",
            "LICENSE",
            "CHANGELOGTEXT",
        ] {
            let value = rpm_query(rpm, &format!("%{{{tag}}}"));
            assert!(
                !value.is_empty() && value != "(none)",
                "{name}: {tag} is empty"
            );
        }
        assert_eq!(
            rpm_query(rpm, "%{VERSION}-%{RELEASE}.%{ARCH}"),
            "1.0.0-1.el7.x86_64"
        );
    }
}

#[test]
fn engine_ships_units_config_and_dirs_with_scriptlets() {
    require_tool("rpm");
    let dir = tempfile::tempdir().unwrap();
    let sources = stand_in_sources(dir.path());
    let rpms = build_both(
        &sources,
        &settings("1.2.0-rc.1"),
        None,
        &dir.path().join("out"),
    );
    let engine = &rpms[0];
    assert!(
        engine.ends_with("berth-engine-1.2.0~rc.1-1.el7.x86_64.rpm"),
        "{}",
        engine.display()
    );

    let files = rpm_query(
        engine,
        "[%{FILEMODES:perms} %{FILEFLAGS:fflags} %{FILENAMES}\n]",
    );
    let expected = [
        "drwxr-xr-x  /etc/berth",
        "-rw-r--r-- cn /etc/berth/daemon.json",
        "-rwxr-xr-x  /usr/bin/berth-runtime",
        "-rwxr-xr-x  /usr/bin/berthd",
        "-rw-r--r--  /usr/lib/systemd/system/berth.service",
        "-rw-r--r--  /usr/lib/systemd/system/berth.socket",
        "drwxr-xr-x  /usr/share/doc/berth-engine",
        "-rw-r--r-- d /usr/share/doc/berth-engine/sbom.spdx.json",
        "drwx--x---  /var/lib/berth",
    ];
    assert_eq!(files.lines().collect::<Vec<_>>(), expected);

    let requires = rpm_query(
        engine,
        "[%{REQUIRENAME} %{REQUIREFLAGS:deptype} %{REQUIREVERSION}\n]",
    );
    for line in [
        "berth-cli manual 1.2.0~rc.1-1.el7",
        "/usr/sbin/groupadd pre ",
        "systemd post ",
        "systemd preun ",
        "systemd postun ",
    ] {
        assert!(
            requires.lines().any(|l| l == line),
            "missing `{line}` in\n{requires}"
        );
    }
    let requires_plain = stdout(Command::new("rpm").args(["-qp", "--requires"]).arg(engine));
    assert!(
        requires_plain.contains("berth-cli = 1.2.0~rc.1-1.el7"),
        "{requires_plain}"
    );

    let provides = stdout(Command::new("rpm").args(["-qp", "--provides"]).arg(engine));
    assert!(
        provides.contains("bundled(crate(serde)) = 1.0.200"),
        "{provides}"
    );
    assert!(
        provides.contains("bundled(crate(nix)) = 0.32.0"),
        "{provides}"
    );
    assert!(
        !provides.contains("bundled(crate(clap))"),
        "clap is linked into berth only:\n{provides}"
    );
    assert_eq!(
        rpm_query(engine, "%{LICENSE}"),
        "Apache-2.0 AND (Apache-2.0 OR MIT) AND MIT"
    );

    let scripts = stdout(Command::new("rpm").args(["-qp", "--scripts"]).arg(engine));
    for needle in [
        "preinstall scriptlet (using /bin/sh):",
        "groupadd --system berth",
        "systemctl preset berth.service berth.socket",
        "systemctl --no-reload disable berth.service berth.socket",
        "systemctl stop berth.service berth.socket",
        "systemctl try-restart berth.service",
    ] {
        assert!(scripts.contains(needle), "missing `{needle}` in\n{scripts}");
    }

    let info = stdout(Command::new("rpm").args(["-qip"]).arg(engine));
    assert!(info.contains("Name        : berth-engine"), "{info}");

    let cli = &rpms[1];
    let files = stdout(Command::new("rpm").args(["-qlp"]).arg(cli));
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        [
            "/usr/bin/berth",
            "/usr/share/bash-completion/completions/berth",
            "/usr/share/doc/berth-cli",
            "/usr/share/doc/berth-cli/sbom.spdx.json",
            "/usr/share/licenses/berth-cli/LICENSE",
            "/usr/share/man/man1/berth.1.gz",
            "/usr/share/man/man8/berthd.8.gz",
        ]
    );
    let scripts = stdout(Command::new("rpm").args(["-qp", "--scripts"]).arg(cli));
    assert!(
        scripts.trim().is_empty(),
        "berth-cli has no scriptlets: {scripts}"
    );
}

#[test]
fn same_inputs_give_byte_identical_rpms() {
    let key = test_key();
    let build = |bump_mtimes: bool| {
        let dir = tempfile::tempdir().unwrap();
        let sources = stand_in_sources(dir.path());
        if bump_mtimes {
            // Input files with other mtimes must not change the output.
            std::thread::sleep(std::time::Duration::from_millis(1100));
            let bin = sources.binaries.join("berthd");
            std::fs::write(&bin, std::fs::read(&bin).unwrap()).unwrap();
        }
        let rpms = build_both(
            &sources,
            &settings("1.0.0"),
            Some(&key),
            &dir.path().join("out"),
        );
        let bytes: Vec<Vec<u8>> = rpms.iter().map(|p| std::fs::read(p).unwrap()).collect();
        bytes
    };
    let first = build(false);
    let second = build(true);
    assert!(first == second, "two builds from the same inputs differ");
}

#[test]
fn rpmlint_reports_no_errors() {
    require_tool("rpmlint");
    require_tool("rpm");
    let dir = tempfile::tempdir().unwrap();
    let sources = stand_in_sources_elf(dir.path());
    let key = test_key();
    let rpms = build_both(
        &sources,
        &settings("1.0.0"),
        Some(&key),
        &dir.path().join("out"),
    );
    // rpmlint checks signatures against the rpm database; give it one that knows the key.
    let db = rpmdb_with_key(dir.path(), &key);
    std::fs::write(
        dir.path().join(".rpmmacros"),
        format!("%_dbpath {}\n", db.display()),
    )
    .unwrap();
    let out = Command::new("rpmlint")
        .env("HOME", dir.path())
        .arg("-c")
        .arg(project_root().join("rpm/rpmlint.toml"))
        .args(&rpms)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .find(|l| l.contains("packages and 0 specfiles checked"))
        .unwrap_or_else(|| panic!("no rpmlint summary:\n{text}"));
    assert!(
        summary.contains(" 0 errors,"),
        "rpmlint found errors:\n{text}"
    );
    // Every warning left is one rpm/README.md explains.
    let readme = std::fs::read_to_string(project_root().join("rpm/README.md")).unwrap();
    for line in text.lines().filter(|l| l.contains(": W: ")) {
        let id = line
            .split(": W: ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        assert!(
            readme.contains(&format!("`{id}`")),
            "rpm/README.md does not explain rpmlint warning {id}"
        );
    }
}

#[test]
fn missing_binary_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let sources = stand_in_sources(dir.path());
    std::fs::remove_file(sources.binaries.join("berthd")).unwrap();
    let err = builder::build_package(
        &definition("berth-engine"),
        &sources,
        &settings("1.0.0"),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, BuildError::MissingInput { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("binaries/berthd") && msg.contains("/usr/bin/berthd"),
        "{msg}"
    );
}

#[test]
fn malformed_definition_points_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(project_root().join("rpm/berth-engine.toml"))
        .unwrap()
        .replace("mode = 0o710", "mode = \"0710\"");
    std::fs::write(&path, &text).unwrap();
    let line = text.lines().position(|l| l.contains("\"0710\"")).unwrap() + 1;
    let err = berth_packaging::definition::PackageDefinition::load(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("{}:{line}:", path.display())),
        "{err}"
    );
}
