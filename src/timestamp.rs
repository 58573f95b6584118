//! RFC 3339 timestamps as the Kubernetes API writes them: `metav1.Time` serializes as
//! `2026-11-22T07:41:00Z` (whole seconds, always UTC) and `metav1.MicroTime` as
//! `2026-11-22T07:41:00.123456Z` (always six fraction digits). This module formats both and
//! parses what Go's `time.Parse(time.RFC3339, ..)` accepts (`Z` or a numeric offset, optional
//! fractional seconds). Dependency-free: the calendar arithmetic is Howard Hinnant's
//! days-from-civil algorithm over the proleptic Gregorian calendar.

use std::time::{SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: i64 = 86_400;

/// An instant with microsecond precision: `secs` since the Unix epoch (may be negative) plus
/// `micros` (always `0..1_000_000`, counted forward from `secs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMicros {
    pub secs: i64,
    pub micros: u32,
}

impl UnixMicros {
    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> i64 {
        self.secs * 1_000_000 + i64::from(self.micros)
    }
}

impl From<(i64, u32)> for UnixMicros {
    /// Normalizes `micros >= 1_000_000` into `secs`.
    fn from((secs, micros): (i64, u32)) -> Self {
        UnixMicros { secs: secs + i64::from(micros / 1_000_000), micros: micros % 1_000_000 }
    }
}

impl From<SystemTime> for UnixMicros {
    fn from(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => UnixMicros { secs: after.as_secs() as i64, micros: after.subsec_micros() },
            Err(before) => {
                // Round toward the past so that `micros` stays non-negative.
                let total = before.duration().as_micros() as i64;
                UnixMicros { secs: (-total).div_euclid(1_000_000), micros: (-total).rem_euclid(1_000_000) as u32 }
            }
        }
    }
}

/// `metav1.Time` form: `2026-11-22T07:41:00Z`.
pub fn format_rfc3339(unix_seconds: i64) -> String {
    let (date, time) = split(unix_seconds);
    format!("{date}T{time}Z")
}

/// `metav1.MicroTime` form: `2026-11-22T07:41:00.123456Z`. Takes a [`SystemTime`] or a
/// `(secs, micros)` pair.
pub fn format_rfc3339_micros(instant: impl Into<UnixMicros>) -> String {
    let instant = instant.into();
    let (date, time) = split(instant.secs);
    format!("{date}T{time}.{:06}Z", instant.micros)
}

/// Seconds since the epoch of an RFC 3339 timestamp; any fraction is dropped (rounded toward the
/// past). `None` if the text is not RFC 3339.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    parse_rfc3339_micros(text).map(|instant| instant.secs)
}

/// An RFC 3339 timestamp with microsecond precision (digits past the sixth are truncated).
pub fn parse_rfc3339_micros(text: &str) -> Option<UnixMicros> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut micros = 0u32;
    if rest.first() == Some(&b'.') {
        let count = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        for position in 0..6 {
            micros =
                micros * 10 + rest.get(1 + position).filter(|_| position < count).map_or(0, |c| u32::from(c - b'0'));
        }
        rest = &rest[1 + count..];
    }
    let offset = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (hours, minutes) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let magnitude = hours * 3600 + minutes * 60;
            if *sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset;
    Some(UnixMicros { secs, micros })
}

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |acc, c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
}

/// `("YYYY-MM-DD", "hh:mm:ss")` in UTC.
fn split(unix_seconds: i64) -> (String, String) {
    let days = unix_seconds.div_euclid(SECONDS_PER_DAY);
    let second_of_day = unix_seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let time = format!("{:02}:{:02}:{:02}", second_of_day / 3600, second_of_day % 3600 / 60, second_of_day % 60);
    (format!("{year:04}-{month:02}-{day:02}"), time)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_whole_seconds_in_utc() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_795_333_260), "2026-11-22T07:41:00Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(4_107_542_400), "2100-03-01T00:00:00Z");
        assert_eq!(format_rfc3339(-62_135_596_800), "0001-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn formats_micro_time_from_pairs_and_system_time() {
        assert_eq!(format_rfc3339_micros((1_795_333_260, 123_456)), "2026-11-22T07:41:00.123456Z");
        assert_eq!(format_rfc3339_micros((0, 0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_rfc3339_micros((0, 1_500_000)), "1970-01-01T00:00:01.500000Z");
        let system = UNIX_EPOCH + Duration::new(1_795_333_260, 123_456_789);
        assert_eq!(format_rfc3339_micros(system), "2026-11-22T07:41:00.123456Z");
        let before_epoch = UNIX_EPOCH - Duration::from_micros(1);
        assert_eq!(format_rfc3339_micros(before_epoch), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn parses_z_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("2026-11-22T07:41:00Z"), Some(1_795_333_260));
        assert_eq!(parse_rfc3339("2026-11-22T09:41:00+02:00"), Some(1_795_333_260));
        assert_eq!(parse_rfc3339("2026-11-21T23:11:00-08:30"), Some(1_795_333_260));
        assert_eq!(parse_rfc3339("2026-11-22T07:41:00.999999999Z"), Some(1_795_333_260));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), Some(-62_135_596_800));
        assert_eq!(
            parse_rfc3339_micros("2026-11-22T07:41:00.1234567Z"),
            Some(UnixMicros { secs: 1_795_333_260, micros: 123_456 })
        );
        assert_eq!(parse_rfc3339_micros("1970-01-01T00:00:00.5Z").map(UnixMicros::as_micros), Some(500_000));
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22 07:41:00Z",
            "2026-11-22T07:41:00",
            "2026-11-22T07:41:00z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T07:60:00Z",
            "2026-11-22T07:41:60Z",
            "2026-11-22T07:41:00.Z",
            "2026-11-22T07:41:00+0200",
            "2026-11-22T07:41:00+24:00",
            "2026-11-22T07:41:00Zjunk",
            "2026-1a-22T07:41:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn round_trips_across_eras() {
        for secs in [-62_135_596_800, -1, 0, 1, 68_169_600, 951_868_799, 4_107_542_399, 253_402_300_799] {
            assert_eq!(parse_rfc3339(&format_rfc3339(secs)), Some(secs), "{secs}");
        }
        // Every 997th day from 0001-01-01 to 9999-12-31.
        let mut day = -719_162i64;
        while day <= 2_932_896 {
            let secs = day * SECONDS_PER_DAY + 45_296;
            assert_eq!(parse_rfc3339(&format_rfc3339(secs)), Some(secs));
            day += 997;
        }
    }
}
