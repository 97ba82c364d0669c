//! The plumbing every ledger item decoder shares: a view of a DynamoDB attribute map that
//! reads typed fields, and the typed errors it gives.
//!
//! Every check of the data contract (docs/data-contract.md) that can fail has its own error, with a
//! stable `code()` that Record Rejected events and metrics carry. Errors never quote a
//! value that could be personal data or a card number.

use chrono::{DateTime, Utc};

use super::item_view::{Attr, ItemView};

use super::money::{Currency, CurrencyError, MAX_AMOUNT_MINOR};
use super::time::parse_timestamp;

pub use super::item_view::Attributes;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("missing field `{field}`")]
    MissingField { field: String },
    #[error("field `{field}` is DynamoDB type {found}, expected {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("field `{field}` must not be empty")]
    Empty { field: String },
    #[error("field `{field}` is not an integer")]
    NotAnInteger { field: String },
    #[error("field `{field}` is beyond ±(10^15 − 1) minor units")]
    OutOfRange { field: String },
    #[error("field `{field}` is not a number")]
    NotANumber { field: String },
    #[error("field `{field}` must be greater than zero")]
    NotPositive { field: String },
    #[error("field `{field}`: {error}")]
    Currency { field: String, error: CurrencyError },
    #[error("field `{field}` has value {value:?}, expected one of {expected:?}")]
    UnknownValue {
        field: String,
        value: String,
        expected: &'static [&'static str],
    },
    #[error("field `{field}` is not an RFC 3339 timestamp")]
    BadTimestamp { field: String },
    #[error("field `{field}` must be a 4-digit merchant category code (ISO 18245)")]
    BadMcc { field: String },
    #[error("field `{field}` must be exactly 4 digits (a full card number is never stored)")]
    BadCardLast4 { field: String },
    #[error("field `{field}` must be an ISO 3166-1 alpha-2 country code")]
    BadCountry { field: String },
    #[error("key `pk` does not name the item's account_id")]
    KeyMismatch,
}

impl DecodeError {
    /// A stable, machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::MissingField { .. } => "missing_field",
            DecodeError::WrongType { .. } => "wrong_type",
            DecodeError::Empty { .. } => "empty_field",
            DecodeError::NotAnInteger { .. } => "not_an_integer",
            DecodeError::OutOfRange { .. } => "integer_out_of_range",
            DecodeError::NotANumber { .. } => "not_a_number",
            DecodeError::NotPositive { .. } => "amount_not_positive",
            DecodeError::Currency { .. } => "bad_currency",
            DecodeError::UnknownValue { .. } => "unknown_value",
            DecodeError::BadTimestamp { .. } => "bad_timestamp",
            DecodeError::BadMcc { .. } => "bad_mcc",
            DecodeError::BadCardLast4 { .. } => "bad_card_last4",
            DecodeError::BadCountry { .. } => "bad_country",
            DecodeError::KeyMismatch => "key_mismatch",
        }
    }
}

/// What the decoders read an attribute map through: the value of a name (of a name given
/// twice, the last). An `ItemView` searches its entries; a map read into fixed slots (the
/// batch reader's transactions) answers from its slot.
pub trait Members<'a> {
    fn member(&self, name: &str) -> Option<&Attr<'a>>;
}

impl<'a> Members<'a> for ItemView<'a> {
    #[inline]
    fn member(&self, name: &str) -> Option<&Attr<'a>> {
        self.get(name)
    }
}

/// A view of one attribute map, naming nested fields by their dotted path in errors.
pub struct Fields<'a, M: Members<'a> = ItemView<'a>> {
    map: &'a M,
    prefix: String,
}

impl<'a, M: Members<'a>> Fields<'a, M> {
    pub fn root(map: &'a M) -> Self {
        Fields {
            map,
            prefix: String::new(),
        }
    }

    pub fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// The attribute, with an explicit DynamoDB NULL read as absent.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&'a Attr<'a>> {
        match self.map.member(name) {
            Some(Attr::Null(_)) | None => None,
            Some(value) => Some(value),
        }
    }

    fn required(&self, name: &str) -> Result<&'a Attr<'a>, DecodeError> {
        self.get(name)
            .ok_or_else(|| DecodeError::MissingField { field: self.path(name) })
    }

    fn wrong_type(&self, name: &str, expected: &'static str, found: &Attr) -> DecodeError {
        DecodeError::WrongType {
            field: self.path(name),
            expected,
            found: found.type_name(),
        }
    }

    pub fn opt_string(&self, name: &str) -> Result<Option<&'a str>, DecodeError> {
        match self.get(name) {
            None => Ok(None),
            Some(Attr::S(s)) => Ok(Some(s.as_ref())),
            Some(other) => Err(self.wrong_type(name, "S", other)),
        }
    }

    /// A required, non-empty string.
    pub fn string(&self, name: &str) -> Result<&'a str, DecodeError> {
        match self.required(name)? {
            Attr::S(s) if s.is_empty() => Err(DecodeError::Empty { field: self.path(name) }),
            Attr::S(s) => Ok(s.as_ref()),
            other => Err(self.wrong_type(name, "S", other)),
        }
    }

    /// An amount in minor units: an integer within ±(10^15 − 1) (`MAX_AMOUNT_MINOR`).
    pub fn opt_amount(&self, name: &str) -> Result<Option<i64>, DecodeError> {
        match self.get(name) {
            None => Ok(None),
            Some(Attr::N(n)) => match parse_integer(n) {
                Ok(value) if value.unsigned_abs() <= MAX_AMOUNT_MINOR as u64 => Ok(Some(value)),
                Ok(_) | Err(IntegerError::OutOfRange) => Err(DecodeError::OutOfRange { field: self.path(name) }),
                Err(IntegerError::NotAnInteger) => Err(DecodeError::NotAnInteger { field: self.path(name) }),
            },
            Some(other) => Err(self.wrong_type(name, "N", other)),
        }
    }

    pub fn amount(&self, name: &str) -> Result<i64, DecodeError> {
        self.opt_amount(name)?
            .ok_or_else(|| DecodeError::MissingField { field: self.path(name) })
    }

    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, DecodeError> {
        match self.get(name) {
            None => Ok(None),
            Some(Attr::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong_type(name, "BOOL", other)),
        }
    }

    pub fn opt_map(&self, name: &str) -> Result<Option<Fields<'a, ItemView<'a>>>, DecodeError> {
        match self.get(name) {
            None => Ok(None),
            Some(Attr::M(map)) => Ok(Some(Fields {
                map,
                prefix: self.path(name),
            })),
            Some(other) => Err(self.wrong_type(name, "M", other)),
        }
    }

    pub fn map(&self, name: &str) -> Result<Fields<'a, ItemView<'a>>, DecodeError> {
        self.opt_map(name)?
            .ok_or_else(|| DecodeError::MissingField { field: self.path(name) })
    }

    /// A list of strings, stored either as a string set (SS) or a list (L) of S.
    pub fn string_list(&self, name: &str) -> Result<Vec<String>, DecodeError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Attr::Ss(items)) => Ok(items.iter().map(|s| s.to_string()).collect()),
            Some(Attr::L(items)) => items
                .iter()
                .map(|item| match item {
                    Attr::S(s) => Ok(s.to_string()),
                    other => Err(self.wrong_type(name, "L of S", other)),
                })
                .collect(),
            Some(other) => Err(self.wrong_type(name, "SS", other)),
        }
    }

    pub fn enumerated<T>(
        &self,
        name: &str,
        parse: fn(&str) -> Option<T>,
        expected: &'static [&'static str],
    ) -> Result<T, DecodeError> {
        let text = self.string(name)?;
        parse(text).ok_or_else(|| DecodeError::UnknownValue {
            field: self.path(name),
            value: quote_briefly(text),
            expected,
        })
    }

    pub fn opt_enumerated<T>(
        &self,
        name: &str,
        parse: fn(&str) -> Option<T>,
        expected: &'static [&'static str],
    ) -> Result<Option<T>, DecodeError> {
        if self.opt_string(name)?.is_none() {
            return Ok(None);
        }
        self.enumerated(name, parse, expected).map(Some)
    }

    pub fn currency(&self, name: &str) -> Result<Currency, DecodeError> {
        Currency::from_code(self.string(name)?).map_err(|error| DecodeError::Currency {
            field: self.path(name),
            error,
        })
    }

    pub fn timestamp(&self, name: &str) -> Result<DateTime<Utc>, DecodeError> {
        parse_timestamp(self.string(name)?).ok_or_else(|| DecodeError::BadTimestamp { field: self.path(name) })
    }

    pub fn country(&self, name: &str) -> Result<CountryCode, DecodeError> {
        CountryCode::parse(self.string(name)?).ok_or_else(|| DecodeError::BadCountry { field: self.path(name) })
    }
}

/// Unknown enumerated values are quoted in errors, but only a short, printable prefix:
/// enough to diagnose a typo, too little to carry personal data along.
fn quote_briefly(text: &str) -> String {
    const MAX_CHARS: usize = 24;
    let mut quoted: String = text
        .chars()
        .take(MAX_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > MAX_CHARS {
        quoted.push('…');
    }
    quoted
}

/// An ISO 3166-1 alpha-2 code: two upper-case ASCII letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn parse(text: &str) -> Option<Self> {
        match text.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Some(CountryCode([*a, *b])),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII by construction")
    }
}

impl std::fmt::Display for CountryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for CountryCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegerError {
    NotAnInteger,
    OutOfRange,
}

/// Text of one to eighteen ASCII digits and nothing else (no sign, point or exponent): its
/// value, which always fits an `i64`. None for any other text.
pub fn plain_digits(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 18 {
        return None;
    }
    text.bytes().try_fold(0u64, |value, digit| {
        digit.is_ascii_digit().then(|| value * 10 + u64::from(digit - b'0'))
    })
}

/// Parses a DynamoDB number (`"12"`, `"-3"`, `"1.2E3"`, `"100.00"`) exactly, as an integer.
/// A number with a non-zero fraction is not an integer; one beyond i64 is out of range.
pub fn parse_integer(text: &str) -> Result<i64, IntegerError> {
    // Most amounts are plain digits.
    if let Some(value) = plain_digits(text) {
        return Ok(value as i64);
    }
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => {
            let exponent_text = &unsigned[at + 1..];
            let digits = exponent_text.trim_start_matches(['+', '-']);
            if digits.is_empty()
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || exponent_text.len() - digits.len() > 1
            {
                return Err(IntegerError::NotAnInteger);
            }
            // Saturate: an absurd exponent is out of range (or a zero), not a parse failure.
            let magnitude: i64 = digits.parse().unwrap_or(i64::MAX / 2);
            let exponent = if exponent_text.starts_with('-') {
                -magnitude
            } else {
                magnitude
            };
            (&unsigned[..at], exponent)
        }
        None => (unsigned, 0),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, f),
        None => (mantissa, ""),
    };
    if whole.is_empty() && fraction.is_empty() || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(IntegerError::NotAnInteger);
    }
    // value = digits × 10^scale
    let digits: String = whole.chars().chain(fraction.chars()).collect();
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(0);
    }
    let scale = exponent.saturating_sub(fraction.len() as i64);
    let significant = if scale < 0 {
        let drop = usize::try_from(-scale).unwrap_or(usize::MAX);
        if drop >= digits.len() {
            return Err(IntegerError::NotAnInteger);
        }
        let (kept, dropped) = digits.split_at(digits.len() - drop);
        if dropped.bytes().any(|b| b != b'0') {
            return Err(IntegerError::NotAnInteger);
        }
        kept.to_string()
    } else {
        if digits.len() as i64 + scale > 19 {
            return Err(IntegerError::OutOfRange);
        }
        let mut padded = digits.to_string();
        padded.extend(std::iter::repeat_n('0', scale as usize));
        padded
    };
    if significant.len() > 19 {
        return Err(IntegerError::OutOfRange);
    }
    let magnitude: i128 = significant.parse().map_err(|_| IntegerError::OutOfRange)?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| IntegerError::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_exactly_in_every_dynamodb_spelling() {
        assert_eq!(parse_integer("0"), Ok(0));
        assert_eq!(parse_integer("12345"), Ok(12345));
        assert_eq!(parse_integer("-7"), Ok(-7));
        assert_eq!(parse_integer("+7"), Ok(7));
        assert_eq!(parse_integer("100.00"), Ok(100));
        assert_eq!(parse_integer("1.2E3"), Ok(1200));
        assert_eq!(parse_integer("1200e-2"), Ok(12));
        assert_eq!(parse_integer("0.0"), Ok(0));
        assert_eq!(parse_integer("-0"), Ok(0));
        assert_eq!(parse_integer("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_integer("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_integer("0E999999999999999999999"), Ok(0));
    }

    #[test]
    fn fractions_and_garbage_are_not_integers() {
        for text in [
            "12.5", "1e-1", "abc", "", "-", "1.2.3", "1e", "1e+-2", "0x10", " 1", "1 ", "NaN", "∞",
        ] {
            assert_eq!(parse_integer(text), Err(IntegerError::NotAnInteger), "{text:?}");
        }
    }

    #[test]
    fn integers_beyond_i64_are_out_of_range() {
        for text in [
            "9223372036854775808",
            "-9223372036854775809",
            "1e19",
            "1E400",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_integer(text), Err(IntegerError::OutOfRange), "{text:?}");
        }
    }

    #[test]
    fn country_codes_are_two_upper_case_letters() {
        assert_eq!(CountryCode::parse("FR").unwrap().as_str(), "FR");
        for bad in ["fr", "FRA", "F", "", "F1", "ÉT"] {
            assert!(CountryCode::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn unknown_values_are_quoted_briefly_and_without_control_characters() {
        assert_eq!(quote_briefly("card\r\npurchase"), "card??purchase");
        assert_eq!(quote_briefly(&"x".repeat(100)).chars().count(), 25);
    }
}
