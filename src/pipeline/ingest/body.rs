//! Request bodies → domain values, with every problem reported at once as a field error.
//! Unknown top-level fields are refused (a typo must not silently drop data); `metadata` is
//! free form and carried through.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::domain::account::{AccountThresholds, Holder, Locale, Preferences};
use crate::domain::fields::CountryCode;
use crate::domain::metadata::{MAX_METADATA_DEPTH, Metadata};
use crate::domain::money::{Currency, MAX_AMOUNT_MINOR, Money};
use crate::domain::pii::Pii;
use crate::domain::time::parse_timestamp;
use crate::domain::transaction::{Channel, DeclineReason, Mcc, Merchant, TransactionKind, TransactionStatus};
use crate::domain::{Account, Category, Transaction};

use super::json_body::JsonBody;
use super::problem::FieldError;

pub type Object = Map<String, Value>;

const MAX_ID_LEN: usize = 128;
const MAX_NAME_LEN: usize = 200;

/// Ids end up in sort keys and URLs: letters, digits and `._:-`, starting with a letter or digit.
pub fn check_id(text: &str) -> Result<(), String> {
    let valid = !text.is_empty()
        && text.len() <= MAX_ID_LEN
        && text.as_bytes()[0].is_ascii_alphanumeric()
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "1 to {MAX_ID_LEN} letters, digits or . _ : -, starting with a letter or a digit"
        ))
    }
}

fn check_name(text: &str) -> Result<(), String> {
    if text.trim().is_empty() || text.chars().count() > MAX_NAME_LEN {
        return Err(format!("1 to {MAX_NAME_LEN} characters, not only spaces"));
    }
    if text.chars().any(char::is_control) {
        return Err("no line breaks or control characters".into());
    }
    refuse_invisible_format(text)
}

/// Bidi controls and invisible format characters would make an email read otherwise than
/// the text is (crate::domain::text).
fn refuse_invisible_format(text: &str) -> Result<(), String> {
    match crate::domain::text::first_invisible_format(text) {
        Some(c) => Err(format!(
            "no bidirectional control or invisible format character (U+{:04X} found)",
            c as u32
        )),
        None => Ok(()),
    }
}

fn any_text(_: &str) -> Result<(), String> {
    Ok(())
}

/// Reads fields of JSON objects, collecting every problem.
#[derive(Default)]
pub struct Reader {
    pub errors: Vec<FieldError>,
}

fn path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl Reader {
    fn error(&mut self, field: String, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn refuse_unknown(&mut self, object: &Object, prefix: &str, allowed: &[&str]) {
        for name in object.keys() {
            if !allowed.contains(&name.as_str()) {
                self.error(path(prefix, name), "unknown field");
            }
        }
    }

    /// The field, or None when absent or null; a required one missing is an error.
    fn field<'o>(&mut self, object: &'o Object, prefix: &str, name: &str, required: bool) -> Option<&'o Value> {
        match object.get(name) {
            None | Some(Value::Null) => {
                if required {
                    self.error(path(prefix, name), "required");
                }
                None
            }
            Some(value) => Some(value),
        }
    }

    pub fn string(
        &mut self,
        object: &Object,
        prefix: &str,
        name: &str,
        required: bool,
        check: fn(&str) -> Result<(), String>,
    ) -> Option<String> {
        match self.field(object, prefix, name, required)? {
            Value::String(text) => match check(text) {
                Ok(()) => Some(text.clone()),
                Err(message) => {
                    self.error(path(prefix, name), message);
                    None
                }
            },
            _ => {
                self.error(path(prefix, name), "must be a string");
                None
            }
        }
    }

    /// An amount in minor units: an integer within ±(10^15 − 1).
    pub fn integer(&mut self, object: &Object, prefix: &str, name: &str, required: bool) -> Option<i64> {
        let value = self.field(object, prefix, name, required)?;
        // JSON has one number type: 73378.0 is the integer 73378 (as JSON Schema reads it).
        // Every integer within the bound is exact in an f64, so none is rounded.
        let integral = value.as_i64().or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() <= MAX_AMOUNT_MINOR as f64)
                .map(|f| f as i64)
        });
        match integral {
            Some(n) if n.unsigned_abs() <= MAX_AMOUNT_MINOR as u64 => Some(n),
            _ => {
                let message = if value.is_number() {
                    format!("must be an integer (minor units) from -{MAX_AMOUNT_MINOR} to {MAX_AMOUNT_MINOR}")
                } else {
                    "must be an integer".to_string()
                };
                self.error(path(prefix, name), message);
                None
            }
        }
    }

    pub fn positive(&mut self, object: &Object, prefix: &str, name: &str, required: bool) -> Option<i64> {
        let n = self.integer(object, prefix, name, required)?;
        if n <= 0 {
            self.error(path(prefix, name), "must be greater than 0");
            return None;
        }
        Some(n)
    }

    pub fn boolean(&mut self, object: &Object, prefix: &str, name: &str) -> Option<bool> {
        match self.field(object, prefix, name, false)? {
            Value::Bool(b) => Some(*b),
            _ => {
                self.error(path(prefix, name), "must be true or false");
                None
            }
        }
    }

    pub fn parsed<T>(
        &mut self,
        object: &Object,
        prefix: &str,
        name: &str,
        required: bool,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Option<T> {
        let text = self.string(object, prefix, name, required, any_text)?;
        let parsed = parse(&text);
        if parsed.is_none() {
            self.error(path(prefix, name), format!("must be {expected}"));
        }
        parsed
    }

    pub fn object<'o>(&mut self, object: &'o Object, prefix: &str, name: &str, required: bool) -> Option<&'o Object> {
        match self.field(object, prefix, name, required)? {
            Value::Object(inner) => Some(inner),
            _ => {
                self.error(path(prefix, name), "must be an object");
                None
            }
        }
    }

    pub fn currency(&mut self, object: &Object, prefix: &str, name: &str) -> Option<Currency> {
        let text = self.string(object, prefix, name, true, any_text)?;
        match Currency::from_code(&text) {
            Ok(currency) => Some(currency),
            Err(error) => {
                self.error(path(prefix, name), format!("not an ISO 4217 currency: {error}"));
                None
            }
        }
    }

    pub fn country(&mut self, object: &Object, prefix: &str, name: &str) -> Option<CountryCode> {
        self.parsed(
            object,
            prefix,
            name,
            true,
            CountryCode::parse,
            "an ISO 3166-1 alpha-2 code (FR)",
        )
    }

    fn into_result<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(self.errors),
        }
    }
}

fn names(list: &[&str]) -> String {
    list.join(", ")
}

pub const TRANSACTION_FIELDS: &[&str] = &[
    "transaction_id",
    "account_id",
    "kind",
    "status",
    "decline_reason",
    "amount_minor",
    "currency",
    "balance_after_minor",
    "channel",
    "merchant",
    "card_last4",
    "booked_at",
    "metadata",
];

/// The earliest `booked_at` taken: older back-fills are taken, nothing from before 2000.
pub const EARLIEST_BOOKED_AT: &str = "2000-01-01T00:00:00Z";
/// How far past the server's clock a `booked_at` may be (clocks of card processors drift,
/// and some book at the end of the local day); more is a wrong date, not a transaction.
pub const MAX_BOOKED_AHEAD_HOURS: i64 = 24;

fn booked_at_in_window(booked_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
    let earliest = parse_timestamp(EARLIEST_BOOKED_AT).expect("a valid timestamp");
    if booked_at < earliest {
        return Err(format!("must be {EARLIEST_BOOKED_AT} or later"));
    }
    if booked_at > now + chrono::Duration::hours(MAX_BOOKED_AHEAD_HOURS) {
        return Err(format!(
            "must be at most {MAX_BOOKED_AHEAD_HOURS} hours after the server's clock"
        ));
    }
    Ok(())
}

/// `metadata`, read from the body's text so that every number keeps its digits.
fn metadata(r: &mut Reader, body: &JsonBody) -> Option<Metadata> {
    #[derive(serde::Deserialize)]
    struct Field<'a> {
        #[serde(borrow, default)]
        metadata: Option<&'a serde_json::value::RawValue>,
    }
    let raw = match serde_json::from_str::<Field>(&body.text) {
        Ok(Field { metadata: Some(raw) }) => raw,
        Ok(Field { metadata: None }) => return None,
        Err(_) => {
            r.error("metadata".into(), "must be an object");
            return None;
        }
    };
    match Metadata::from_json_text(raw.get()) {
        Ok(metadata) if metadata.depth() > MAX_METADATA_DEPTH => {
            r.error(
                "metadata".into(),
                format!(
                    "nests {} levels deep; DynamoDB stores at most {MAX_METADATA_DEPTH}",
                    metadata.depth()
                ),
            );
            None
        }
        Ok(metadata) => Some(metadata),
        Err(_) => {
            r.error("metadata".into(), "must be an object");
            None
        }
    }
}

/// A POST /v1/transactions body. `booked_at` defaults to `now`.
pub fn transaction(request: &JsonBody, now: DateTime<Utc>) -> Result<Transaction, Vec<FieldError>> {
    let body = &request.object;
    let mut r = Reader::default();
    r.refuse_unknown(body, "", TRANSACTION_FIELDS);
    let transaction_id = r.string(body, "", "transaction_id", true, check_id);
    let account_id = r.string(body, "", "account_id", true, check_id);
    let kind = r.parsed(
        body,
        "",
        "kind",
        true,
        TransactionKind::parse,
        &format!("one of {}", names(TransactionKind::NAMES)),
    );
    let status = r.parsed(
        body,
        "",
        "status",
        true,
        TransactionStatus::parse,
        &format!("one of {}", names(TransactionStatus::NAMES)),
    );
    let decline_reason = r.parsed(
        body,
        "",
        "decline_reason",
        false,
        DeclineReason::parse,
        &format!("one of {}", names(DeclineReason::NAMES)),
    );
    if decline_reason.is_some() && status.is_some_and(|s| s != TransactionStatus::Declined) {
        r.error(
            "decline_reason".into(),
            "only a declined transaction has a decline reason",
        );
    }
    let amount_minor = r.positive(body, "", "amount_minor", true);
    let currency = r.currency(body, "", "currency");
    let balance_after_minor = r.integer(body, "", "balance_after_minor", false);
    let channel = r.parsed(
        body,
        "",
        "channel",
        true,
        Channel::parse,
        &format!("one of {}", names(Channel::NAMES)),
    );
    let merchant = r.object(body, "", "merchant", false).and_then(|m| {
        r.refuse_unknown(m, "merchant", &["name", "mcc", "country", "city"]);
        let name = r.string(m, "merchant", "name", true, check_name);
        let mcc = r.parsed(m, "merchant", "mcc", true, Mcc::parse, "4 digits (ISO 18245)");
        let country = r.country(m, "merchant", "country");
        let city = r.string(m, "merchant", "city", false, check_name);
        Some(Merchant {
            name: name?,
            mcc: mcc?,
            country: country?,
            city,
        })
    });
    let card_last4 = r.string(body, "", "card_last4", false, |t| {
        if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err("exactly 4 digits; never a full card number".into())
        }
    });
    let booked_at = match body.get("booked_at") {
        None | Some(Value::Null) => Some(now),
        Some(_) => r
            .parsed(body, "", "booked_at", true, parse_timestamp, "an RFC 3339 timestamp")
            .and_then(|at| match booked_at_in_window(at, now) {
                Ok(()) => Some(at),
                Err(message) => {
                    r.error("booked_at".into(), message);
                    None
                }
            }),
    };
    let metadata = metadata(&mut r, request);
    let transaction = (|| {
        Some(Transaction {
            transaction_id: transaction_id?,
            account_id: account_id?,
            kind: kind?,
            status: status?,
            decline_reason,
            amount: Money::new(amount_minor?, currency?),
            balance_after_minor,
            channel: channel?,
            merchant,
            card_last4,
            booked_at: booked_at?,
            metadata,
        })
    })();
    r.into_result(transaction)
}

pub const ACCOUNT_FIELDS: &[&str] = &[
    "account_id",
    "holder",
    "email",
    "locale",
    "country",
    "currency",
    "time_zone",
    "thresholds",
    "preferences",
];

/// The longest address SMTP carries (RFC 5321's path limit, less its angle brackets).
const MAX_EMAIL_LEN: usize = 254;

/// `local@domain`, with none of what would need quoting or could hide in a header:
/// whitespace, `<>,;"`, a second `@`, control or invisible format characters.
fn check_email(text: &str) -> Result<(), String> {
    let refused = |c: char| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c);
    let plain = text.len() <= MAX_EMAIL_LEN
        && !text.chars().any(refused)
        && text
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if !plain || crate::domain::email::Mailbox::new(None, text).is_err() {
        return Err(format!(
            "not an email address (local@domain, at most {MAX_EMAIL_LEN} characters, no spaces, quotes, <>,;)"
        ));
    }
    refuse_invisible_format(text)
}

fn check_time_zone(text: &str) -> Result<(), String> {
    text.parse::<chrono_tz::Tz>()
        .map(|_| ())
        .map_err(|_| "not an IANA time zone (Europe/Paris)".to_string())
}

fn check_category(text: &str) -> Result<(), String> {
    Category::parse(text)
        .map(|_| ())
        .ok_or_else(|| format!("one of {}", names(Category::NAMES)))
}

/// A POST /v1/accounts body; the account is created active, now.
pub fn account(body: &Object, now: DateTime<Utc>) -> Result<Account, Vec<FieldError>> {
    let mut r = Reader::default();
    r.refuse_unknown(body, "", ACCOUNT_FIELDS);
    let account_id = r.string(body, "", "account_id", true, check_id);
    let holder = r.object(body, "", "holder", true).and_then(|h| {
        r.refuse_unknown(h, "holder", &["first_name", "last_name"]);
        let first_name = r.string(h, "holder", "first_name", true, check_name);
        let last_name = r.string(h, "holder", "last_name", true, check_name);
        Some(Holder {
            first_name: Pii(first_name?),
            last_name: Pii(last_name?),
        })
    });
    let email = r.string(body, "", "email", true, check_email);
    let locale = match body.get("locale") {
        None | Some(Value::Null) => Some(Locale::Fr),
        Some(_) => r.parsed(body, "", "locale", true, Locale::parse, "fr or en"),
    };
    let country = r.country(body, "", "country");
    let currency = r.currency(body, "", "currency");
    let time_zone = r.string(body, "", "time_zone", false, check_time_zone);
    let thresholds = match r.object(body, "", "thresholds", false) {
        None => AccountThresholds::default(),
        Some(t) => {
            r.refuse_unknown(
                t,
                "thresholds",
                &["large_amount_minor", "low_balance_minor", "cash_withdrawal_minor"],
            );
            AccountThresholds {
                large_amount_minor: r.positive(t, "thresholds", "large_amount_minor", false),
                low_balance_minor: r.integer(t, "thresholds", "low_balance_minor", false),
                cash_withdrawal_minor: r.positive(t, "thresholds", "cash_withdrawal_minor", false),
            }
        }
    };
    let preferences = match r.object(body, "", "preferences", false) {
        None => Preferences::default(),
        Some(p) => {
            r.refuse_unknown(
                p,
                "preferences",
                &["email_enabled", "muted_categories", "min_amount_minor"],
            );
            let muted = match p.get("muted_categories") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| match item.as_str().map(|t| (t, check_category(t))) {
                        Some((text, Ok(()))) => Some(text.to_string()),
                        Some((_, Err(message))) => {
                            r.error(format!("preferences.muted_categories[{i}]"), message);
                            None
                        }
                        None => {
                            r.error(format!("preferences.muted_categories[{i}]"), "must be a string");
                            None
                        }
                    })
                    .collect(),
                Some(_) => {
                    r.error("preferences.muted_categories".into(), "must be an array of categories");
                    Vec::new()
                }
            };
            Preferences {
                email_enabled: r.boolean(p, "preferences", "email_enabled").unwrap_or(true),
                muted_categories: muted,
                min_amount_minor: r.positive(p, "preferences", "min_amount_minor", false),
            }
        }
    };
    let account = (|| {
        Some(Account {
            account_id: account_id?,
            holder: holder?,
            email: Pii(email?),
            locale: locale?,
            country: country?,
            currency: currency?,
            status: "active".into(),
            created_at: now,
            thresholds,
            preferences,
            time_zone,
        })
    })();
    r.into_result(account)
}

/// A rate in [0, 1] written as a decimal, kept exact: `numerator / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    numerator: u64,
    scale: u32,
}

pub const MAX_RATE_DECIMALS: u32 = 9;

impl Rate {
    /// From a JSON number's spelling (`0.025`, `1`, `0`, `1e-9`, `2.5E-2`): exact, in [0, 1],
    /// with at most 9 decimals.
    pub fn parse(text: &str) -> Option<Rate> {
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
            return None;
        }
        // value = digits × 10^(exponent − decimals)
        let digits = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        let mut scale = i64::from(exponent.checked_neg()?) + fraction.len() as i64;
        let mut digits = if digits.is_empty() {
            "0".to_string()
        } else {
            digits.to_string()
        };
        while scale > 0 && digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
            scale -= 1;
        }
        if digits == "0" {
            return Some(Rate { numerator: 0, scale: 0 });
        }
        if scale < 0 {
            // A whole number: only 1 (or 0) is a rate.
            return None;
        }
        let scale = u32::try_from(scale).ok().filter(|s| *s <= MAX_RATE_DECIMALS)?;
        let numerator: u64 = digits.parse().ok()?;
        let rate = Rate { numerator, scale };
        (numerator <= 10u64.pow(scale)).then_some(rate)
    }

    /// The fee on an amount, rounded to the nearest minor unit, halves up.
    pub fn fee_of(self, amount_minor: i64) -> i64 {
        let denominator = 10i128.pow(self.scale);
        let product = i128::from(amount_minor) * i128::from(self.numerator);
        // amount ≥ 0 and rate ≤ 1: the fee fits in i64.
        ((product * 2 + denominator) / (denominator * 2)) as i64
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = format!("{:0>width$}", self.numerator, width = self.scale as usize + 1);
        let (whole, fraction) = digits.split_at(digits.len() - self.scale as usize);
        if fraction.is_empty() {
            write!(f, "{whole}")
        } else {
            write!(f, "{whole}.{fraction}")
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopUpRequest {
    pub top_up_id: String,
    pub amount: Money,
    pub payment_method: String,
    pub fee_rate: Rate,
}

fn check_payment_method(text: &str) -> Result<(), String> {
    let valid = !text.is_empty() && text.len() <= 40 && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err("1 to 40 lower-case letters or _ (card, bank_transfer, voucher)".into())
    }
}

pub const TOP_UP_FIELDS: &[&str] = &["top_up_id", "amount_minor", "currency", "payment_method", "fee_rate"];

/// A POST /v1/accounts/{id}/top-ups body.
pub fn top_up(body: &Object) -> Result<TopUpRequest, Vec<FieldError>> {
    let mut r = Reader::default();
    r.refuse_unknown(body, "", TOP_UP_FIELDS);
    let top_up_id = r.string(body, "", "top_up_id", true, check_id);
    let amount_minor = r.positive(body, "", "amount_minor", true);
    let currency = r.currency(body, "", "currency");
    let payment_method = r.string(body, "", "payment_method", true, check_payment_method);
    let fee_rate = match r.field(body, "", "fee_rate", true) {
        None => None,
        Some(Value::Number(n)) => {
            let rate = Rate::parse(&n.to_string());
            if rate.is_none() {
                r.error(
                    "fee_rate".into(),
                    format!("must be a number between 0 and 1 with at most {MAX_RATE_DECIMALS} decimals"),
                );
            }
            rate
        }
        Some(_) => {
            r.error("fee_rate".into(), "must be a number between 0 and 1");
            None
        }
    };
    let request = (|| {
        Some(TopUpRequest {
            top_up_id: top_up_id?,
            amount: Money::new(amount_minor?, currency?),
            payment_method: payment_method?,
            fee_rate: fee_rate?,
        })
    })();
    r.into_result(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_exact_decimals_in_zero_to_one() {
        let rate = |t: &str| Rate::parse(t).map(|r| r.to_string());
        assert_eq!(rate("0.025").as_deref(), Some("0.025"));
        assert_eq!(rate("0").as_deref(), Some("0"));
        assert_eq!(rate("1").as_deref(), Some("1"));
        assert_eq!(rate("1.0").as_deref(), Some("1"));
        assert_eq!(rate("0.000000001").as_deref(), Some("0.000000001"));
        assert_eq!(rate("1e-9").as_deref(), Some("0.000000001"));
        assert_eq!(rate("1E-09").as_deref(), Some("0.000000001"));
        assert_eq!(rate("2.5e-2").as_deref(), Some("0.025"));
        assert_eq!(rate("1e0").as_deref(), Some("1"));
        assert_eq!(rate("0.0e5").as_deref(), Some("0"));
        for bad in [
            "1.01",
            "2",
            "-0.1",
            "0.0000000001",
            "1e-10",
            "1e1",
            "",
            ".5",
            "0.5.1",
            "1e",
            "1e+",
        ] {
            assert_eq!(rate(bad), None, "{bad}");
        }
    }

    #[test]
    fn fees_round_to_the_nearest_minor_unit_halves_up() {
        let rate = |t: &str| Rate::parse(t).unwrap();
        assert_eq!(rate("0.025").fee_of(10_000), 250);
        assert_eq!(rate("0.015").fee_of(1_000), 15);
        assert_eq!(rate("0.015").fee_of(100), 2, "1.5 rounds up");
        assert_eq!(rate("0.014").fee_of(100), 1);
        assert_eq!(rate("0").fee_of(123_456), 0);
        assert_eq!(rate("1").fee_of(123_456), 123_456);
        assert_eq!(rate("0.5").fee_of(i64::MAX), i64::MAX / 2 + 1);
    }
}
