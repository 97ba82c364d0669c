//! Money: integer minor units plus an ISO 4217 currency. Never a float.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An active ISO 4217 currency that has minor units (special codes such as XAU or XXX,
/// and superseded codes, are refused: an amount in them cannot be told to a person).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("currency code must be three upper-case letters")]
    Malformed,
    #[error("unknown ISO 4217 currency code")]
    Unknown,
    #[error("currency has no minor unit (special ISO 4217 code)")]
    NoMinorUnit,
    #[error("currency code was superseded by {0}")]
    Superseded(&'static str),
}

impl Currency {
    pub const EUR: Currency = Currency(iso_currency::Currency::EUR);
    pub const USD: Currency = Currency(iso_currency::Currency::USD);
    pub const GBP: Currency = Currency(iso_currency::Currency::GBP);
    pub const CHF: Currency = Currency(iso_currency::Currency::CHF);
    pub const JPY: Currency = Currency(iso_currency::Currency::JPY);
    pub const XAF: Currency = Currency(iso_currency::Currency::XAF);
    pub const XOF: Currency = Currency(iso_currency::Currency::XOF);
    pub const KWD: Currency = Currency(iso_currency::Currency::KWD);
    pub const BHD: Currency = Currency(iso_currency::Currency::BHD);

    pub fn from_code(code: &str) -> Result<Self, CurrencyError> {
        let Ok(letters) = <[u8; 3]>::try_from(code.as_bytes()) else {
            return Err(CurrencyError::Malformed);
        };
        if !letters.iter().all(u8::is_ascii_uppercase) {
            return Err(CurrencyError::Malformed);
        }
        if let Some(known) = recent_codes::find(letters) {
            return Ok(known);
        }
        let iso = iso_currency::Currency::from_code(code).ok_or(CurrencyError::Unknown)?;
        if let Some(successor) = iso.is_superseded() {
            return Err(CurrencyError::Superseded(successor.code()));
        }
        if iso.is_special() || iso.exponent().is_none() {
            return Err(CurrencyError::NoMinorUnit);
        }
        recent_codes::keep(letters, Currency(iso));
        Ok(Currency(iso))
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Every currency `from_code` takes, in code order (every three-letter code, asked).
    pub fn all() -> Vec<Currency> {
        let letters = b'A'..=b'Z';
        letters
            .clone()
            .flat_map(|a| letters.clone().map(move |b| (a, b)))
            .flat_map(|(a, b)| (b'A'..=b'Z').map(move |c| [a, b, c]))
            .filter_map(|code| Currency::from_code(std::str::from_utf8(&code).ok()?).ok())
            .collect()
    }

    /// Number of decimal places of the minor unit: JPY 0, EUR 2, KWD 3.
    pub fn exponent(self) -> u32 {
        // from_code admits only currencies with an exponent.
        u32::from(self.0.exponent().unwrap_or(0))
    }

    pub fn symbol(self) -> String {
        self.0.symbol().to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::from_code(&code).map_err(serde::de::Error::custom)
    }
}

/// The largest magnitude of any amount, in minor units: 15 digits, more than any card
/// scheme or ISO 20022 amount carries (docs/data-contract.md). Sums of amounts are exact
/// in i128 (`MoneySum`), which cannot overflow for any count of such amounts that exists.
pub const MAX_AMOUNT_MINOR: i64 = 999_999_999_999_999;

/// An amount of money in minor units of its currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Money { amount_minor, currency }
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        Some(Money::new(
            self.amount_minor.checked_add(other.amount_minor)?,
            self.currency,
        ))
    }

    /// The amount in major units with exactly `exponent` decimals and a '.' separator,
    /// e.g. "-1234.56" for EUR, "650000" for XAF, "1.250" for KWD.
    pub fn decimal_string(self) -> String {
        decimal_text(i128::from(self.amount_minor), self.currency)
    }
}

fn decimal_text(amount_minor: i128, currency: Currency) -> String {
    let exponent = currency.exponent();
    let sign = if amount_minor < 0 { "-" } else { "" };
    let magnitude = amount_minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{magnitude}");
    }
    let scale = 10u128.pow(exponent);
    format!(
        "{sign}{}.{:0width$}",
        magnitude / scale,
        magnitude % scale,
        width = exponent as usize
    )
}

/// A sum of amounts of one currency (a statement's totals), exact in i128 minor units: of
/// amounts within ±MAX_AMOUNT_MINOR it would take 1.7 × 10^23 of them to overflow, so a
/// sum never wraps or saturates. Same JSON shape as `Money`; the number may exceed 2^53.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MoneySum {
    pub amount_minor: i128,
    pub currency: Currency,
}

impl MoneySum {
    pub fn zero(currency: Currency) -> Self {
        MoneySum {
            amount_minor: 0,
            currency,
        }
    }

    /// Adds an amount of the sum's currency (minor units, either sign).
    pub fn add(&mut self, amount_minor: i64) {
        self.amount_minor += i128::from(amount_minor);
    }

    pub fn decimal_string(self) -> String {
        decimal_text(self.amount_minor, self.currency)
    }
}

impl From<Money> for MoneySum {
    fn from(money: Money) -> Self {
        MoneySum {
            amount_minor: i128::from(money.amount_minor),
            currency: money.currency,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.decimal_string(), self.currency)
    }
}

/// The last few currencies read on this thread: a batch's amounts come in a handful of
/// currencies, and ISO 4217's table is a match over some 180 codes compared one by one.
mod recent_codes {
    use std::cell::Cell;

    use super::Currency;

    const KEPT: usize = 8;

    /// A code's three letters and the currency they name.
    type Kept = Option<([u8; 3], Currency)>;

    thread_local! {
        static RECENT: Cell<[Kept; KEPT]> = const { Cell::new([None; KEPT]) };
        static NEXT: Cell<usize> = const { Cell::new(0) };
    }

    pub(super) fn find(code: [u8; 3]) -> Option<Currency> {
        RECENT.with(|recent| {
            recent
                .get()
                .iter()
                .flatten()
                .find(|(kept, _)| *kept == code)
                .map(|(_, currency)| *currency)
        })
    }

    /// Keeps a currency `from_code` accepted (only those: a refusal is worked out again).
    pub(super) fn keep(code: [u8; 3], currency: Currency) {
        let slot = NEXT.with(|next| {
            let slot = next.get();
            next.set((slot + 1) % KEPT);
            slot
        });
        RECENT.with(|recent| {
            let mut kept = recent.get();
            kept[slot] = Some((code, currency));
            recent.set(kept);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_follow_iso_4217() {
        for (code, exponent) in [
            ("JPY", 0),
            ("XAF", 0),
            ("XOF", 0),
            ("EUR", 2),
            ("USD", 2),
            ("GBP", 2),
            ("CHF", 2),
            ("KWD", 3),
            ("BHD", 3),
        ] {
            assert_eq!(Currency::from_code(code).unwrap().exponent(), exponent, "{code}");
        }
    }

    #[test]
    fn unknown_special_and_malformed_codes_are_refused() {
        assert_eq!(Currency::from_code("ZZZ"), Err(CurrencyError::Unknown));
        assert_eq!(Currency::from_code("eur"), Err(CurrencyError::Malformed));
        assert_eq!(Currency::from_code("EURO"), Err(CurrencyError::Malformed));
        assert_eq!(Currency::from_code(""), Err(CurrencyError::Malformed));
        assert_eq!(Currency::from_code("XAU"), Err(CurrencyError::NoMinorUnit));
        assert_eq!(Currency::from_code("XXX"), Err(CurrencyError::NoMinorUnit));
    }

    #[test]
    fn a_code_read_again_gets_the_same_answer_as_the_first_time() {
        let letters = b'A'..=b'Z';
        let codes: Vec<String> = letters
            .clone()
            .flat_map(|a| letters.clone().map(move |b| (a, b)))
            .flat_map(|(a, b)| (b'A'..=b'Z').map(move |c| String::from_utf8(vec![a, b, c]).unwrap()))
            .chain(["EUR", "eur", "EU", "EURO", "É€", "XAU"].map(String::from))
            .collect();
        let first: Vec<_> = codes.iter().map(|code| Currency::from_code(code)).collect();
        // Read each again right after a run of others, and in a different order.
        for (code, answer) in codes.iter().zip(&first).rev() {
            assert_eq!(&Currency::from_code(code), answer, "{code}");
            assert_eq!(&Currency::from_code(code), answer, "{code}, twice in a row");
        }
        let accepted: std::collections::BTreeSet<&String> = codes
            .iter()
            .zip(&first)
            .filter(|(_, answer)| answer.is_ok())
            .map(|(code, _)| code)
            .collect();
        assert_eq!(accepted.len(), Currency::all().len());
    }

    #[test]
    fn decimal_string_uses_the_currency_exponent() {
        assert_eq!(Money::new(123456, Currency::EUR).decimal_string(), "1234.56");
        assert_eq!(Money::new(5, Currency::EUR).decimal_string(), "0.05");
        assert_eq!(Money::new(-5, Currency::USD).decimal_string(), "-0.05");
        assert_eq!(Money::new(650000, Currency::XAF).decimal_string(), "650000");
        assert_eq!(Money::new(1250, Currency::KWD).decimal_string(), "1.250");
        assert_eq!(Money::new(7, Currency::BHD).decimal_string(), "0.007");
        assert_eq!(
            Money::new(i64::MIN, Currency::JPY).decimal_string(),
            "-9223372036854775808"
        );
        assert_eq!(Money::new(100000, Currency::EUR).to_string(), "1000.00 EUR");
    }

    #[test]
    fn sums_stay_exact_far_past_i64() {
        let mut sum = MoneySum::zero(Currency::EUR);
        for _ in 0..20_000 {
            sum.add(MAX_AMOUNT_MINOR);
        }
        assert_eq!(sum.amount_minor, 20_000 * i128::from(MAX_AMOUNT_MINOR));
        assert!(sum.amount_minor > i128::from(i64::MAX));
        assert_eq!(sum.decimal_string(), "199999999999999800.00");
        let json = serde_json::to_string(&sum).unwrap();
        assert_eq!(json, r#"{"amount_minor":19999999999999980000,"currency":"EUR"}"#);
        assert_eq!(serde_json::from_str::<MoneySum>(&json).unwrap(), sum);
    }

    #[test]
    fn adding_keeps_currency_and_detects_overflow() {
        let a = Money::new(i64::MAX, Currency::EUR);
        assert_eq!(a.checked_add(Money::new(1, Currency::EUR)), None);
        assert_eq!(
            Money::new(1, Currency::EUR).checked_add(Money::new(1, Currency::USD)),
            None
        );
        assert_eq!(
            Money::new(1, Currency::EUR).checked_add(Money::new(2, Currency::EUR)),
            Some(Money::new(3, Currency::EUR))
        );
    }

    #[test]
    fn currency_serializes_as_its_code() {
        assert_eq!(serde_json::to_string(&Currency::KWD).unwrap(), "\"KWD\"");
        let c: Currency = serde_json::from_str("\"XOF\"").unwrap();
        assert_eq!(c, Currency::XOF);
        assert!(serde_json::from_str::<Currency>("\"ABC\"").is_err());
    }
}
