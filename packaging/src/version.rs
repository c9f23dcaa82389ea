//! RPM Version/Release from a Cargo version: releases, pre-releases ("~") and nightlies.

use std::fmt;

/// The Version and Release tags of one build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmVersion {
    pub version: String,
    pub release: String,
}

/// A version that cannot become an RPM version.
#[derive(Debug, thiserror::Error)]
#[error("version {version:?}: {reason}")]
pub struct VersionError {
    version: String,
    reason: &'static str,
}

impl RpmVersion {
    /// A release or pre-release: `1.2.0` → `1.2.0`-`1.el7`, `1.2.0-rc.1` → `1.2.0~rc.1`-`1.el7`.
    pub fn release(cargo_version: &str) -> Result<Self, VersionError> {
        let err = |reason| VersionError {
            version: cargo_version.to_string(),
            reason,
        };
        let without_build = cargo_version.split('+').next().unwrap_or_default();
        let (core, pre) = match without_build.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (without_build, None),
        };
        let numbers: Vec<&str> = core.split('.').collect();
        if numbers.len() != 3
            || numbers
                .iter()
                .any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(err("not a MAJOR.MINOR.PATCH version"));
        }
        let version = match pre {
            Some(pre) => {
                if pre.is_empty()
                    || !pre
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                {
                    return Err(err(
                        "pre-release may hold only letters, digits, '.' and '-'",
                    ));
                }
                // '-' separates Version from Release in an NVR, so it cannot stay.
                format!("{core}~{}", pre.replace('-', "_"))
            }
            None => core.to_string(),
        };
        Ok(RpmVersion {
            version,
            release: "1.el7".to_string(),
        })
    }

    /// A nightly built after the release `cargo_version`, sorting above it and below the next
    /// release: `0.1.0` → `0.1.1~nightly.YYYYMMDD.HHMMSS.g<commit>`, and a pre-release
    /// `0.2.0-rc.1` → `0.2.0~rc.1.nightly.…` (above rc.1, below rc.2 and 0.2.0). Release `0`.
    /// `~` is rpm 4.10's pre-release marker (EL7 has 4.11); `^` would need rpm 4.15.
    pub fn nightly(
        cargo_version: &str,
        unix_time: u64,
        commit: &str,
    ) -> Result<Self, VersionError> {
        if commit.is_empty() || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(VersionError {
                version: commit.to_string(),
                reason: "nightly commit must be a hex abbreviation",
            });
        }
        let released = Self::release(cargo_version)?.version;
        let stamp = utc_stamp(unix_time);
        let (date, time) = stamp.split_at(8);
        let suffix = format!("nightly.{date}.{time}.g{commit}");
        let version = match released.split_once('~') {
            Some(_) => format!("{released}.{suffix}"),
            None => {
                let (head, patch) = released.rsplit_once('.').unwrap_or(("0.0", "0"));
                let next: u64 = patch.parse().map_err(|_| VersionError {
                    version: cargo_version.to_string(),
                    reason: "patch number too large",
                })?;
                format!("{head}.{}~{suffix}", next + 1)
            }
        };
        Ok(RpmVersion {
            version,
            release: "0".to_string(),
        })
    }

    /// `VERSION-RELEASE`, as used in `berth-cli = {evr}`.
    pub fn evr(&self) -> String {
        format!("{}-{}", self.version, self.release)
    }
}

impl fmt::Display for RpmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.version, self.release)
    }
}

/// `YYYYMMDDHHMMSS` in UTC.
pub fn utc_stamp(unix_time: u64) -> String {
    let days = (unix_time / 86_400) as i64;
    let secs = unix_time % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `YYYY-MM-DDThh:mm:ssZ` in UTC, as SPDX's `created` field and RFC 3339 write it.
pub fn utc_rfc3339(unix_time: u64) -> String {
    let days = (unix_time / 86_400) as i64;
    let secs = unix_time % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian calendar.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_and_prerelease() {
        assert_eq!(
            RpmVersion::release("1.2.0").unwrap().to_string(),
            "1.2.0-1.el7"
        );
        assert_eq!(
            RpmVersion::release("1.2.0-rc.1").unwrap().to_string(),
            "1.2.0~rc.1-1.el7"
        );
        assert!(RpmVersion::release("1.2").is_err());
        assert!(RpmVersion::release("1.2.0-rc^1").is_err());
    }

    #[test]
    fn nightly_uses_utc_timestamp() {
        // 2024-02-29 13:14:15 UTC
        let v = RpmVersion::nightly("0.1.0", 1_709_212_455, "abc1234").unwrap();
        assert_eq!(v.to_string(), "0.1.1~nightly.20240229.131415.gabc1234-0");
        let v = RpmVersion::nightly("0.2.0-rc.1", 1_709_212_455, "abc1234").unwrap();
        assert_eq!(v.version, "0.2.0~rc.1.nightly.20240229.131415.gabc1234");
        assert!(RpmVersion::nightly("0.1.0", 0, "not-hex").is_err());
    }

    #[test]
    fn rfc3339_is_utc_with_seconds() {
        assert_eq!(utc_rfc3339(1_709_212_455), "2024-02-29T13:14:15Z");
        assert_eq!(utc_rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
