//! Money as a person reads it, per locale: fr `1 234,56 €` (narrow no-break spaces between
//! groups, decimal comma, symbol after a no-break space), en `€1,234.56`. The currency's
//! exponent decides the decimals: `650 000 FCFA`, `1,250 KWD` (fr) / `KWD 1.250` (en).

use super::account::Locale;
use super::money::{Currency, Money, MoneySum};

const NARROW_NO_BREAK_SPACE: char = '\u{202F}';
const NO_BREAK_SPACE: char = '\u{00A0}';

/// The symbol people expect, or the ISO code where there is no common one.
fn symbol(currency: Currency) -> (&'static str, bool) {
    // (symbol, whether it is a sign written against the number in English, like €1.00)
    match currency.code() {
        "EUR" => ("€", true),
        "USD" => ("$", true),
        "GBP" => ("£", true),
        "JPY" => ("¥", true),
        "XAF" | "XOF" => ("FCFA", false),
        code => (code, false),
    }
}

fn group(digits: &str, separator: char) -> String {
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(separator);
        }
        grouped.push(digit);
    }
    grouped
}

/// The amount formatted for the locale, with its currency.
pub fn format_money(money: Money, locale: Locale) -> String {
    format_decimal(&money.decimal_string(), money.currency, locale)
}

/// A sum (a statement total), however large, formatted like an amount.
pub fn format_sum(sum: MoneySum, locale: Locale) -> String {
    format_decimal(&sum.decimal_string(), sum.currency, locale)
}

fn format_decimal(plain: &str, currency: Currency, locale: Locale) -> String {
    let (negative, unsigned) = match plain.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, plain),
    };
    let (whole, fraction) = unsigned.split_once('.').map_or((unsigned, None), |(w, f)| (w, Some(f)));
    let sign = if negative { "-" } else { "" };
    let (symbol, attached) = symbol(currency);
    match locale {
        Locale::Fr => {
            let number = match fraction {
                Some(f) => format!("{},{f}", group(whole, NARROW_NO_BREAK_SPACE)),
                None => group(whole, NARROW_NO_BREAK_SPACE),
            };
            format!("{sign}{number}{NO_BREAK_SPACE}{symbol}")
        }
        Locale::En => {
            let number = match fraction {
                Some(f) => format!("{}.{f}", group(whole, ',')),
                None => group(whole, ','),
            };
            if attached {
                format!("{sign}{symbol}{number}")
            } else {
                format!("{sign}{symbol}{NO_BREAK_SPACE}{number}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fr(amount: i64, code: &str) -> String {
        format_money(Money::new(amount, Currency::from_code(code).unwrap()), Locale::Fr)
    }

    fn en(amount: i64, code: &str) -> String {
        format_money(Money::new(amount, Currency::from_code(code).unwrap()), Locale::En)
    }

    #[test]
    fn french_uses_narrow_spaces_a_comma_and_the_symbol_after() {
        assert_eq!(fr(123456, "EUR"), "1\u{202F}234,56\u{A0}€");
        assert_eq!(fr(5, "EUR"), "0,05\u{A0}€");
        assert_eq!(fr(100000000, "EUR"), "1\u{202F}000\u{202F}000,00\u{A0}€");
        assert_eq!(fr(-123456, "EUR"), "-1\u{202F}234,56\u{A0}€");
    }

    #[test]
    fn english_puts_the_symbol_first_with_commas_between_groups() {
        assert_eq!(en(123456, "EUR"), "€1,234.56");
        assert_eq!(en(99, "GBP"), "£0.99");
        assert_eq!(en(-123456, "USD"), "-$1,234.56");
        assert_eq!(en(123456, "CHF"), "CHF\u{A0}1,234.56");
    }

    #[test]
    fn sums_past_i64_are_written_in_full() {
        let sum = MoneySum {
            amount_minor: 19_999_999_999_999_980_000,
            currency: Currency::EUR,
        };
        assert_eq!(format_sum(sum, Locale::En), "€199,999,999,999,999,800.00");
    }

    #[test]
    fn the_exponent_decides_the_decimals() {
        assert_eq!(fr(650000, "XAF"), "650\u{202F}000\u{A0}FCFA");
        assert_eq!(fr(650000, "XOF"), "650\u{202F}000\u{A0}FCFA");
        assert_eq!(en(150000, "JPY"), "¥150,000");
        assert_eq!(fr(1250, "KWD"), "1,250\u{A0}KWD");
        assert_eq!(en(1250, "KWD"), "KWD\u{A0}1.250");
        assert_eq!(en(1234567, "BHD"), "BHD\u{A0}1,234.567");
    }
}
