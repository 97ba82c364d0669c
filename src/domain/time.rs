//! Timestamps as the ledger and the events write them: RFC 3339 in UTC with a `Z`, and only
//! as many fraction digits as the instant has.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

pub fn format_rfc3339(time: &DateTime<Utc>) -> String {
    let mut buffer = [0u8; 30];
    match write_rfc3339(time, &mut buffer) {
        Some(text) => text.to_string(),
        None => time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    }
}

/// `format_rfc3339` as a JSON string, appended to `out`.
pub fn format_rfc3339_into(time: &DateTime<Utc>, out: &mut String) {
    let mut buffer = [0u8; 30];
    let fallback;
    let text = match write_rfc3339(time, &mut buffer) {
        Some(text) => text,
        None => {
            fallback = time.to_rfc3339_opts(SecondsFormat::AutoSi, true);
            fallback.as_str()
        }
    };
    // Digits, signs, `T`, `:`, `.` and `Z`: nothing JSON escapes.
    out.push('"');
    out.push_str(text);
    out.push('"');
}

/// For `#[serde(serialize_with)]`.
pub fn rfc3339_utc<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0u8; 30];
    match write_rfc3339(time, &mut buffer) {
        Some(text) => serializer.serialize_str(text),
        None => serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

/// What `to_rfc3339_opts(AutoSi, true)` prints, without the formatting machinery (every
/// event carries two instants): years 0 to 9999 and no leap second, else None.
fn write_rfc3339<'b>(time: &DateTime<Utc>, buffer: &'b mut [u8; 30]) -> Option<&'b str> {
    use chrono::{Datelike, Timelike};
    let year = time.year();
    let nanos = time.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return None;
    }
    fn digits(out: &mut [u8], mut value: u32) {
        for slot in out.iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    digits(&mut buffer[0..4], year as u32);
    buffer[4] = b'-';
    digits(&mut buffer[5..7], time.month());
    buffer[7] = b'-';
    digits(&mut buffer[8..10], time.day());
    buffer[10] = b'T';
    digits(&mut buffer[11..13], time.hour());
    buffer[13] = b':';
    digits(&mut buffer[14..16], time.minute());
    buffer[16] = b':';
    digits(&mut buffer[17..19], time.second());
    let mut end = 19;
    let (fraction, width) = if nanos == 0 {
        (0, 0)
    } else if nanos % 1_000_000 == 0 {
        (nanos / 1_000_000, 3)
    } else if nanos % 1_000 == 0 {
        (nanos / 1_000, 6)
    } else {
        (nanos, 9)
    };
    if width > 0 {
        buffer[end] = b'.';
        digits(&mut buffer[end + 1..end + 1 + width], fraction);
        end += 1 + width;
    }
    buffer[end] = b'Z';
    std::str::from_utf8(&buffer[..end + 1]).ok()
}

/// Any RFC 3339 offset is read; the instant is kept in UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Some(instant) = parse_written_utc(text.as_bytes()) {
        return Some(instant);
    }
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// `YYYY-MM-DDTHH:MM:SS[.f…]Z` with at most nine fraction digits: how this system, the SDKs
/// and the ledger's writers put an instant, read without chrono's general parser (a
/// tenth of the processor's decoding). None for anything else, a leap second included,
/// which the general parser then reads or refuses.
fn parse_written_utc(bytes: &[u8]) -> Option<DateTime<Utc>> {
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        mo0,
        mo1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
        rest @ ..,
    ] = bytes
    else {
        return None;
    };
    let fraction = match rest {
        [b'Z'] => &[][..],
        [b'.', digits @ .., b'Z'] if (1..=9).contains(&digits.len()) => digits,
        _ => return None,
    };
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |value, &digit| {
            digit.is_ascii_digit().then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    let year = number(&[*y0, *y1, *y2, *y3])?;
    let (month, day) = (number(&[*mo0, *mo1])?, number(&[*d0, *d1])?);
    let (hour, minute, second) = (number(&[*h0, *h1])?, number(&[*mi0, *mi1])?, number(&[*s0, *s1])?);
    if second > 59 {
        return None;
    }
    let nanos = number(fraction)? * 10u32.pow(9 - fraction.len() as u32);
    let date = chrono::NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let time = chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some(date.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn chrono_reads(text: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
    }

    proptest! {
        /// Digits anywhere, in and out of range (month 13, 30 February, hour 24, second
        /// 60), every fraction width from none to twelve: what the short way reads, chrono
        /// reads the same; what it leaves, chrono reads or refuses.
        #[test]
        fn the_written_form_is_read_as_chrono_reads_it(
            digits in prop::collection::vec(b'0'..=b'9', 14),
            fraction in prop::collection::vec(b'0'..=b'9', 0..12),
            dot in any::<bool>(),
            end in prop::sample::select(vec!["Z", "z", "+00:00", "+01:30", ""]),
        ) {
            let d = |range: std::ops::Range<usize>| String::from_utf8(digits[range].to_vec()).unwrap();
            let fraction = String::from_utf8(fraction).unwrap();
            let text = format!(
                "{}-{}-{}T{}:{}:{}{}{}{end}",
                d(0..4), d(4..6), d(6..8), d(8..10), d(10..12), d(12..14),
                if dot { "." } else { "" },
                fraction,
            );
            prop_assert_eq!(parse_timestamp(&text), chrono_reads(&text), "{}", text);
        }

        /// Plausible instants, most of them valid, each written as this system writes it.
        #[test]
        fn any_instant_written_is_read_back(
            seconds in -62_135_596_800i64..253_402_300_799,
            nanos in prop::sample::select(vec![0u32, 1, 120_000_000, 123_456_000, 999_999_999, 500_000]),
        ) {
            let instant = DateTime::from_timestamp(seconds, nanos).unwrap();
            let text = format_rfc3339(&instant);
            prop_assert_eq!(parse_written_utc(text.as_bytes()), Some(instant), "{}", text);
        }
    }

    #[test]
    fn the_edges_of_the_calendar_are_read_as_chrono_reads_them() {
        for text in [
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2024-02-29T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T23:60:00Z",
        ] {
            assert_eq!(parse_timestamp(text), chrono_reads(text), "{text}");
        }
    }

    #[test]
    fn leap_seconds_and_odd_forms_take_the_general_parser() {
        for text in [
            "2016-12-31T23:59:60Z",
            "2026-11-20t10:15:00z",
            "2026-11-20T10:15:00.1234567891Z",
            "2026-11-20T10:15:00.Z",
            "+2026-11-20T10:15:00Z",
            "2026-11-20T10:15:00+00:00",
        ] {
            assert_eq!(parse_written_utc(text.as_bytes()), None, "{text}");
            assert_eq!(parse_timestamp(text), chrono_reads(text), "{text}");
        }
    }

    #[test]
    fn instants_print_in_utc_with_only_the_fraction_they_have() {
        let whole = Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 0).unwrap();
        assert_eq!(format_rfc3339(&whole), "2026-11-20T10:15:00Z");
        let millis = whole + chrono::Duration::milliseconds(250);
        assert_eq!(format_rfc3339(&millis), "2026-11-20T10:15:00.250Z");
        assert_eq!(parse_timestamp("2026-11-20T11:15:00+01:00"), Some(whole));
        assert_eq!(parse_timestamp("2026-11-20 10:15"), None);
    }

    #[test]
    fn instants_print_as_chrono_prints_them() {
        let mut rng = fastrand::Rng::with_seed(7);
        let nanos = [
            0,
            1,
            999,
            1_000,
            250_000,
            1_000_000,
            123_000_000,
            123_456_000,
            123_456_789,
            999_999_999,
        ];
        for _ in 0..20_000 {
            let seconds = rng.i64(-62_167_219_200..253_402_300_800);
            let nano = if rng.bool() {
                nanos[rng.usize(..nanos.len())]
            } else {
                rng.u32(..1_000_000_000)
            };
            let time = Utc.timestamp_opt(seconds, nano).unwrap();
            assert_eq!(format_rfc3339(&time), time.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }
        for outside in [
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.timestamp_opt(-62_167_219_201, 0).unwrap(),
            Utc.timestamp_opt(1_019, 1_500_000_000).unwrap(),
        ] {
            assert_eq!(
                format_rfc3339(&outside),
                outside.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            );
        }
    }
}
