//! Timestamps as the Engine API writes them: RFC 3339 with nanoseconds in UTC, and "zero time"
//! `0001-01-01T00:00:00Z` for events that have not happened.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What Docker writes for a timestamp that was never set.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Formats a time as `2006-01-02T15:04:05.999999999Z`.
pub fn format_rfc3339(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let in_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60,
        since_epoch.subsec_nanos()
    )
}

/// Parses an RFC 3339 UTC timestamp (`Z` or `+00:00`, optional fraction) as written by
/// [`format_rfc3339`]; the zero time and anything before 1970 give `None`.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, clock) = text.split_once('T')?;
    let mut date_parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (
        date_parts.next()??,
        date_parts.next()??,
        date_parts.next()??,
    );
    let (clock, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut clock_parts = clock.splitn(3, ':').map(|p| p.parse::<u64>().ok());
    let (hour, minute, second) = (
        clock_parts.next()??,
        clock_parts.next()??,
        clock_parts.next()??,
    );
    let days = days_from_civil(year, month, day);
    if days < 0 || year < 1970 {
        return None;
    }
    let mut nanos = 0u32;
    if !fraction.is_empty() {
        let digits: String = fraction.chars().take(9).collect();
        nanos = format!("{digits:0<9}").parse().ok()?;
    }
    let seconds = days as u64 * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::new(seconds, nanos))
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's civil algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
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

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch, for the API's integer `Created` fields.
pub fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let t = UNIX_EPOCH + Duration::new(1_795_000_000, 5);
        assert_eq!(format_rfc3339(t), "2026-11-18T11:06:40.000000005Z");
    }

    #[test]
    fn parse_inverts_format() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_123, 456_000_000);
        assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_709_208_000))
        );
        assert_eq!(parse_rfc3339(ZERO_TIME), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
