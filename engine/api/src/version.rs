//! Engine API versions: the advertised one, the oldest accepted, and the `/vX.Y` path prefix.

use std::fmt;
use std::str::FromStr;

/// The API version berthd advertises (docker 29 clients refuse anything older).
pub const API_VERSION: &str = "1.44";
/// The oldest API version berthd accepts in a `/vX.Y` prefix.
pub const MIN_API_VERSION: &str = "1.24";

/// An Engine API version such as 1.44.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    /// Major number (always 1 so far).
    pub major: u32,
    /// Minor number.
    pub minor: u32,
}

/// A version string that is not `MAJOR.MINOR`.
#[derive(Debug, thiserror::Error)]
#[error("invalid API version {0:?}")]
pub struct InvalidApiVersion(String);

impl FromStr for ApiVersion {
    type Err = InvalidApiVersion;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidApiVersion(text.to_owned());
        let (major, minor) = text.split_once('.').ok_or_else(invalid)?;
        Ok(ApiVersion {
            major: major.parse().map_err(|_| invalid())?,
            minor: minor.parse().map_err(|_| invalid())?,
        })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl ApiVersion {
    /// The advertised version.
    pub fn current() -> Self {
        ApiVersion {
            major: 1,
            minor: 44,
        }
    }

    /// The oldest accepted version.
    pub fn minimum() -> Self {
        ApiVersion {
            major: 1,
            minor: 24,
        }
    }
}

/// Splits a request path into its optional `/vX.Y` prefix and the rest.
///
/// `/v1.44/containers/json` gives `(Some("1.44"), "/containers/json")`; `/_ping` gives
/// `(None, "/_ping")`.
pub fn split_version_prefix(path: &str) -> (Option<&str>, &str) {
    if let Some(rest) = path.strip_prefix("/v") {
        let end = rest.find('/').unwrap_or(rest.len());
        let candidate = &rest[..end];
        if !candidate.is_empty() && candidate.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return (Some(candidate), &rest[end..]);
        }
    }
    (None, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_versions() {
        let v: ApiVersion = "1.44".parse().unwrap();
        assert_eq!(v, ApiVersion::current());
        assert!("1.9".parse::<ApiVersion>().unwrap() < ApiVersion::minimum());
        assert!("1".parse::<ApiVersion>().is_err());
        assert_eq!(API_VERSION, ApiVersion::current().to_string());
        assert_eq!(MIN_API_VERSION, ApiVersion::minimum().to_string());
    }

    #[test]
    fn splits_prefix() {
        assert_eq!(
            split_version_prefix("/v1.44/containers/json"),
            (Some("1.44"), "/containers/json")
        );
        assert_eq!(split_version_prefix("/_ping"), (None, "/_ping"));
        assert_eq!(split_version_prefix("/version"), (None, "/version"));
        assert_eq!(split_version_prefix("/v1.24"), (Some("1.24"), ""));
    }
}
