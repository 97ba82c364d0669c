//! Timestamps as the ledger and the events write them: RFC 3339 in UTC with a `Z`, and only
//! as many fraction digits as the instant has.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

pub fn format_rfc3339(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// For `#[serde(serialize_with)]`.
pub fn rfc3339_utc<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_rfc3339(time))
}

/// Any RFC 3339 offset is read; the instant is kept in UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn instants_print_in_utc_with_only_the_fraction_they_have() {
        let whole = Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 0).unwrap();
        assert_eq!(format_rfc3339(&whole), "2026-11-20T10:15:00Z");
        let millis = whole + chrono::Duration::milliseconds(250);
        assert_eq!(format_rfc3339(&millis), "2026-11-20T10:15:00.250Z");
        assert_eq!(parse_timestamp("2026-11-20T11:15:00+01:00"), Some(whole));
        assert_eq!(parse_timestamp("2026-11-20 10:15"), None);
    }
}
