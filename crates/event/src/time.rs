//! Event time: CloudTrail writes `eventTime` as RFC 3339 in UTC (`2024-08-01T12:23:55Z`).

use chrono::{DateTime, Utc};

/// Parses an `eventTime` value; `None` when it is not RFC 3339.
#[must_use]
pub fn parse_event_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// Renders a time the way CloudTrail does, to the second when there is no fraction.
#[must_use]
pub fn format_event_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudtrail_time_round_trips() {
        let t = parse_event_time("2024-08-01T12:23:55Z").expect("valid time");
        assert_eq!(format_event_time(t), "2024-08-01T12:23:55Z");
    }

    #[test]
    fn garbage_time_is_none() {
        assert!(parse_event_time("yesterday").is_none());
    }
}
