//! Human units the way docker prints and parses them (moby's go-units): "13.3kB", "5 seconds",
//! "About a minute", and sizes such as "512m" for memory or "10m" for log rotation.

use std::time::Duration;

/// Formats a byte count with decimal units and 3 significant digits: `13256` → `13.3kB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    format!("{}{}", three_significant(size), UNITS[unit])
}

/// Formats a byte count with binary units and 4 significant digits, as `docker stats`:
/// `1065353` → `1.016MiB`.
pub fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    format!("{}{}", significant(size, 4), UNITS[unit])
}

/// `%.3g` for values in [0, 1000): 3 significant digits, trailing zeros dropped.
fn three_significant(value: f64) -> String {
    significant(value, 3)
}

/// `%.Ng` for values below 10^N: N significant digits, trailing zeros dropped.
fn significant(value: f64, digits: usize) -> String {
    let whole_digits = if value >= 1.0 {
        (value.log10().floor() as usize) + 1
    } else {
        1
    };
    let decimals = digits.saturating_sub(whole_digits);
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// Formats an elapsed time the way `docker ps` does: "Less than a second", "5 seconds",
/// "About a minute", "3 hours", "2 weeks"...
pub fn human_duration(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    let minutes = seconds / 60;
    let hours = (elapsed.as_secs_f64() / 3600.0).round() as u64;
    match () {
        _ if seconds < 1 => "Less than a second".to_owned(),
        _ if seconds == 1 => "1 second".to_owned(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".to_owned(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".to_owned(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", seconds / 3600 / 24 / 365),
    }
}

/// A size string that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid size: '{0}'")]
pub struct InvalidSize(pub String);

/// Parses a size with binary multipliers (`512m` = 512 MiB), as `docker run --memory` does.
pub fn parse_ram_bytes(text: &str) -> Result<u64, InvalidSize> {
    parse_size(text, 1024)
}

/// Parses a size with decimal multipliers (`10m` = 10 000 000), as json-file `max-size` does.
pub fn parse_human_size(text: &str) -> Result<u64, InvalidSize> {
    parse_size(text, 1000)
}

fn parse_size(text: &str, base: u64) -> Result<u64, InvalidSize> {
    let invalid = || InvalidSize(text.to_owned());
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, suffix) = trimmed.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let suffix = suffix.trim().to_ascii_lowercase();
    let unit = suffix
        .strip_suffix("ib")
        .or_else(|| suffix.strip_suffix('b'))
        .unwrap_or(&suffix);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return Err(invalid()),
    };
    Ok((number * (base.pow(power) as f64)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_sizes_print_like_docker_stats() {
        assert_eq!(binary_size(0), "0B");
        assert_eq!(binary_size(1_065_353), "1.016MiB");
        assert_eq!(binary_size(25_157_357_568), "23.43GiB");
        assert_eq!(binary_size(512 * 1024), "512KiB");
        assert_eq!(binary_size(1000 * 1024), "1000KiB");
    }

    #[test]
    fn sizes_print_like_docker() {
        assert_eq!(human_size(861), "861B");
        assert_eq!(human_size(13_256), "13.3kB");
        assert_eq!(human_size(1_840_000), "1.84MB");
        assert_eq!(human_size(4_000_000), "4MB");
        assert_eq!(human_size(123_456_789), "123MB");
    }

    #[test]
    fn durations_print_like_docker() {
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::from_secs(5)), "5 seconds");
        assert_eq!(human_duration(Duration::from_secs(70)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(3 * 3600)), "3 hours");
        assert_eq!(human_duration(Duration::from_secs(3 * 86_400)), "3 days");
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_ram_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_ram_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_ram_bytes("100").unwrap(), 100);
        assert_eq!(parse_human_size("10m").unwrap(), 10_000_000);
        assert_eq!(parse_human_size("1.5k").unwrap(), 1500);
        assert!(parse_ram_bytes("ten").is_err());
        assert!(parse_ram_bytes("5x").is_err());
    }
}
