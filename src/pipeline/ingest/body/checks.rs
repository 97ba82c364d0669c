//! What each text field must be, as `Invalid(reason)`: the reason goes into the field error
//! of the 400 answer.

use chrono::{DateTime, Utc};

use crate::domain::Category;
use crate::domain::time::parse_timestamp;

/// Why a value is refused, in words for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(reason: impl Into<String>) -> Self {
        Invalid(reason.into())
    }
}

/// A check of a text field.
pub type Check = fn(&str) -> Result<(), Invalid>;

pub const MAX_ID_LEN: usize = 128;
pub const MAX_NAME_LEN: usize = 200;

/// Ids end up in sort keys and URLs: letters, digits and `._:-`, starting with a letter or digit.
pub fn check_id(text: &str) -> Result<(), Invalid> {
    let valid = !text.is_empty()
        && text.len() <= MAX_ID_LEN
        && text.as_bytes()[0].is_ascii_alphanumeric()
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(Invalid(format!(
            "1 to {MAX_ID_LEN} letters, digits or . _ : -, starting with a letter or a digit"
        )))
    }
}

pub fn check_name(text: &str) -> Result<(), Invalid> {
    if text.trim().is_empty() || text.chars().count() > MAX_NAME_LEN {
        return Err(Invalid(format!("1 to {MAX_NAME_LEN} characters, not only spaces")));
    }
    if text.chars().any(char::is_control) {
        return Err(Invalid::new("no line breaks or control characters"));
    }
    refuse_invisible_format(text)
}

/// Bidi controls and invisible format characters would make an email read otherwise than
/// the text is (crate::domain::text).
pub fn refuse_invisible_format(text: &str) -> Result<(), Invalid> {
    match crate::domain::text::first_invisible_format(text) {
        Some(c) => Err(Invalid(format!(
            "no bidirectional control or invisible format character (U+{:04X} found)",
            c as u32
        ))),
        None => Ok(()),
    }
}

pub fn any_text(_: &str) -> Result<(), Invalid> {
    Ok(())
}

/// The earliest `booked_at` taken: older back-fills are taken, nothing from before 2000.
pub const EARLIEST_BOOKED_AT: &str = "2000-01-01T00:00:00Z";
/// How far past the server's clock a `booked_at` may be (clocks of card processors drift,
/// and some book at the end of the local day); more is a wrong date, not a transaction.
pub const MAX_BOOKED_AHEAD_HOURS: i64 = 24;

pub fn booked_at_in_window(booked_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Invalid> {
    let earliest = parse_timestamp(EARLIEST_BOOKED_AT).expect("a valid timestamp");
    if booked_at < earliest {
        return Err(Invalid(format!("must be {EARLIEST_BOOKED_AT} or later")));
    }
    if booked_at > now + chrono::Duration::hours(MAX_BOOKED_AHEAD_HOURS) {
        return Err(Invalid(format!(
            "must be at most {MAX_BOOKED_AHEAD_HOURS} hours after the server's clock"
        )));
    }
    Ok(())
}

/// The longest address SMTP carries (RFC 5321's path limit, less its angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// `local@domain`, with none of what would need quoting or could hide in a header:
/// whitespace, `<>,;"`, a second `@`, control or invisible format characters.
pub fn check_email(text: &str) -> Result<(), Invalid> {
    let refused = |c: char| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c);
    let plain = text.len() <= MAX_EMAIL_LEN
        && !text.chars().any(refused)
        && text
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if !plain || crate::domain::email::Mailbox::new(None, text).is_err() {
        return Err(Invalid(format!(
            "not an email address (local@domain, at most {MAX_EMAIL_LEN} characters, no spaces, quotes, <>,;)"
        )));
    }
    refuse_invisible_format(text)
}

pub fn check_time_zone(text: &str) -> Result<(), Invalid> {
    text.parse::<chrono_tz::Tz>()
        .map(|_| ())
        .map_err(|_| Invalid::new("not an IANA time zone (Europe/Paris)"))
}

pub fn check_category(text: &str) -> Result<(), Invalid> {
    Category::parse(text)
        .map(|_| ())
        .ok_or_else(|| Invalid(format!("one of {}", Category::NAMES.join(", "))))
}

pub fn check_payment_method(text: &str) -> Result<(), Invalid> {
    let valid = !text.is_empty() && text.len() <= 40 && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(Invalid::new(
            "1 to 40 lower-case letters or _ (card, bank_transfer, voucher)",
        ))
    }
}
