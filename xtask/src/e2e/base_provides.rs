//! The "base provides" RPM: the e2e host is Debian, so its rpmdb starts empty and dnf could not
//! resolve berth-engine's Requires (/bin/sh, systemd, /usr/sbin/groupadd...). This RPM, built
//! at run time with rpmbuild from a spec written here, provides exactly what the host's Debian
//! packages really supply: each capability is listed only if the file that proves it exists in
//! the host, and named capabilities carry the Debian package's upstream version.

use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use super::check;
use super::host::SystemdHost;
use super::scratch::ScratchDir;

const PACKAGE_NAME: &str = "berth-e2e-host-base";

/// (capability, Debian package that supplies it, file in the host that proves it)
const PROVIDES: &[(&str, &str, &str)] = &[
    ("/bin/sh", "dash", "/bin/sh"),
    ("/bin/bash", "bash", "/bin/bash"),
    ("/usr/bin/bash", "bash", "/usr/bin/bash"),
    ("bash", "bash", "/bin/bash"),
    ("/bin/kill", "procps", "/bin/kill"),
    ("/usr/bin/kill", "procps", "/usr/bin/kill"),
    ("procps-ng", "procps", "/bin/ps"),
    ("/usr/sbin/groupadd", "passwd", "/usr/sbin/groupadd"),
    ("/usr/sbin/useradd", "passwd", "/usr/sbin/useradd"),
    ("/usr/sbin/usermod", "passwd", "/usr/sbin/usermod"),
    ("shadow-utils", "passwd", "/usr/sbin/groupadd"),
    ("systemd", "systemd", "/lib/systemd/systemd"),
    ("systemd-units", "systemd", "/bin/systemctl"),
    ("/bin/systemctl", "systemd", "/bin/systemctl"),
    ("/usr/bin/systemctl", "systemd", "/usr/bin/systemctl"),
    ("coreutils", "coreutils", "/bin/cat"),
    ("glibc", "libc6", "/lib/x86_64-linux-gnu/libc.so.6"),
    ("tar", "tar", "/bin/tar"),
    ("xz", "xz-utils", "/usr/bin/xz"),
    ("iproute", "iproute2", "/sbin/ip"),
];

/// Builds the base-provides RPM for this host and installs it with `rpm -i`.
pub fn install(sh: &Shell, host: &SystemdHost) -> Result<()> {
    if cmd!(sh, "which rpmbuild")
        .quiet()
        .ignore_stdout()
        .run()
        .is_err()
    {
        bail!("rpmbuild is missing: run `cargo xtask test --tools-only` (Debian package rpm)");
    }
    let supplied = survey(host)?;
    let spec = spec(&supplied);
    let dir = ScratchDir::new(&std::env::temp_dir(), "berth-e2e-base")?;
    let spec_path = dir.path().join(format!("{PACKAGE_NAME}.spec"));
    std::fs::write(&spec_path, &spec)?;
    let topdir_macro = format!("_topdir {}", dir.path().display());
    let output = cmd!(
        sh,
        "rpmbuild -bb --define {topdir_macro} --define '_build_id_links none' {spec_path}"
    )
    .env("LC_ALL", "C")
    .quiet()
    .ignore_status()
    .output()
    .context("running rpmbuild")?;
    if !output.status.success() {
        bail!(
            "rpmbuild of the base-provides RPM failed:\n{}\n{}\nspec:\n{spec}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let rpm = dir
        .path()
        .join(format!("RPMS/noarch/{PACKAGE_NAME}-1-1.noarch.rpm"));
    host.copy_in(&rpm, "/tmp/base-provides.rpm")?;
    host.must(&["rpm", "-i", "/tmp/base-provides.rpm"])?;
    for (capability, _) in supplied
        .iter()
        .filter(|(cap, _)| ["/bin/sh", "systemd", "/usr/sbin/groupadd"].contains(&cap.as_str()))
    {
        check(&format!("the host's rpmdb knows who provides {capability}"));
        host.must(&["rpm", "-q", "--whatprovides", capability])?;
    }
    Ok(())
}

/// Which capabilities the host really has, with the upstream version of their Debian package.
fn survey(host: &SystemdHost) -> Result<Vec<(String, String)>> {
    let mut script = String::new();
    for (capability, package, evidence) in PROVIDES {
        let _ = writeln!(
            script,
            "if [ -e {evidence} ]; then printf '%s\\t%s\\n' '{capability}' \"$(dpkg-query -W -f='${{Version}}' {package})\"; \
             else echo 'missing {capability} ({evidence})' >&2; fi"
        );
    }
    let outcome = host.run(&["sh", "-c", &script])?;
    if !outcome.success {
        bail!("surveying the host's packages failed: {}", outcome.stderr);
    }
    for line in outcome.stderr.lines() {
        println!("e2e: not provided, the host lacks it: {line}");
    }
    let mut supplied = Vec::new();
    for line in outcome.stdout.lines() {
        let (capability, version) = line.split_once('\t').context("unexpected survey output")?;
        supplied.push((capability.to_string(), rpm_version(version)));
    }
    Ok(supplied)
}

/// The upstream part of a Debian version, in characters rpm accepts ("1:252.38-1~deb12u1" → "252.38").
fn rpm_version(debian: &str) -> String {
    let without_epoch = debian.split_once(':').map_or(debian, |(_, rest)| rest);
    without_epoch
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect()
}

fn spec(supplied: &[(String, String)]) -> String {
    let mut spec = format!(
        "Name: {PACKAGE_NAME}\nVersion: 1\nRelease: 1\nSummary: What the e2e host's Debian packages supply\n\
         License: Apache-2.0\nBuildArch: noarch\n"
    );
    for (capability, version) in supplied {
        if capability.starts_with('/') || version.is_empty() {
            let _ = writeln!(spec, "Provides: {capability}");
        } else {
            let _ = writeln!(spec, "Provides: {capability} = {version}");
        }
    }
    spec.push_str(
        "\n%description\nStands in the rpmdb of the berth e2e host for the Debian packages that really \
         supply these files and capabilities.\n\n%files\n",
    );
    spec
}

#[cfg(test)]
mod tests {
    use super::{rpm_version, spec};

    #[test]
    fn debian_versions_become_rpm_versions() {
        assert_eq!(rpm_version("252.38-1~deb12u1"), "252.38");
        assert_eq!(rpm_version("1:4.13+dfsg1-1"), "4.13");
        assert_eq!(rpm_version(""), "");
    }

    #[test]
    fn paths_are_unversioned_and_names_versioned() {
        let text = spec(&[
            ("/bin/sh".into(), "0.5.12".into()),
            ("systemd".into(), "252.38".into()),
        ]);
        assert!(text.contains("Provides: /bin/sh\n"));
        assert!(text.contains("Provides: systemd = 252.38\n"));
        assert!(text.contains("%files\n"));
    }
}
