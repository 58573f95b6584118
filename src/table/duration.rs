//! Ages as `kubectl get` prints them: a port of apimachinery's `duration.HumanDuration`
//! (`k8s.io/apimachinery/pkg/util/duration`), which keeps two or three significant figures
//! ("59s", "119s", "2m30s", "15m", "5h2m", "3d4h", "400d", "3y20d"), plus the printers'
//! "<unknown>" convention for a zero timestamp. Durations are in microseconds, the finest
//! precision a Kubernetes timestamp (`MicroTime`) carries.

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

/// `duration.HumanDuration`. A clock skew of under two seconds into the future reads as "0s";
/// anything further ahead is "<invalid>".
pub fn human_duration(micros: i64) -> String {
    // Go: int(d.Seconds()), which truncates toward zero.
    let seconds = micros / SECOND;
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = micros / MINUTE;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = micros / HOUR;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = hours / 24 % 365;
        if dy == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{dy}d", hours / 24 / 365) }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// The printers' `translateTimestampSince`: how long ago `then` was, or "<unknown>" for a
/// missing (zero) timestamp. Both instants are microseconds since the epoch.
pub fn since(then: Option<i64>, now: i64) -> String {
    match then {
        Some(then) => human_duration(now - then),
        None => "<unknown>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: i64) -> String {
        human_duration(s * SECOND)
    }

    #[test]
    fn matches_apimachinery_table() {
        // The cases of apimachinery's duration_test.go TestHumanDuration, plus the boundaries.
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1s"),
            (59, "59s"),
            (60, "60s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (150, "2m30s"),
            (599, "9m59s"),
            (600, "10m"),
            (60 * 60 - 1, "59m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 61, "3h1m"),
            (8 * 3600 - 1, "7h59m"),
            (8 * 3600, "8h"),
            (48 * 3600 - 1, "47h"),
            (48 * 3600, "2d"),
            (50 * 3600, "2d2h"),
            (8 * 86_400 - 1, "7d23h"),
            (8 * 86_400, "8d"),
            (2 * 365 * 86_400 - 1, "729d"),
            (2 * 365 * 86_400, "2y"),
            (2 * 365 * 86_400 + 86_400, "2y1d"),
            (8 * 365 * 86_400 - 1, "7y364d"),
            (8 * 365 * 86_400, "8y"),
            (100 * 365 * 86_400, "100y"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(secs(*seconds), *expected, "{seconds}s");
        }
    }

    #[test]
    fn tolerates_small_clock_skew_only() {
        assert_eq!(human_duration(-SECOND / 2), "0s");
        assert_eq!(human_duration(-SECOND - SECOND / 2), "0s");
        assert_eq!(secs(-1), "0s");
        assert_eq!(secs(-2), "<invalid>");
        assert_eq!(human_duration(59 * SECOND + 999_999), "59s");
    }

    #[test]
    fn since_reports_unknown_for_missing_timestamps() {
        assert_eq!(since(None, 0), "<unknown>");
        assert_eq!(since(Some(0), 300 * SECOND), "5m");
    }
}
