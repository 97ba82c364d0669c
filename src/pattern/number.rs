//! Numbers as numeric matching sees them: the EventBridge documentation limits numeric
//! matching to values between -1.0e9 and +1.0e9 inclusive, with six digits to the right of
//! the decimal point. (event-ruler's README says ±5.0e9; we follow the documentation.)
//! A value is held exactly as an integer count of millionths, parsed from its decimal text,
//! never through binary floating point arithmetic.

pub(crate) type Micros = i64;

pub(crate) const LIMIT: Micros = 1_000_000_000 * 1_000_000;

/// The number in millionths, digits past the sixth decimal dropped (towards -∞, as
/// event-ruler does), or None outside ±1.0e9.
pub(crate) fn micros(number: &serde_json::Number) -> Option<Micros> {
    if let Some(i) = number.as_i64() {
        return i.checked_mul(1_000_000).filter(|m| m.abs() <= LIMIT);
    }
    if number.as_u64().is_some() {
        return None; // beyond i64, so beyond the limit
    }
    // serde_json prints a float in its shortest round-trip form: parse that text exactly.
    micros_from_text(&number.to_string())
}

pub(crate) fn micros_from_text(text: &str) -> Option<Micros> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i32>().ok()?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // value = digits × 10^(exponent − fraction.len()); in millionths: shift by 6 more.
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(0);
    }
    let shift = i64::from(exponent) - fraction.len() as i64 + 6;
    let (kept, dropped_nonzero) = if shift >= 0 {
        if digits.len() as i64 + shift > 19 {
            return None;
        }
        (format!("{digits}{}", "0".repeat(shift as usize)), false)
    } else {
        let drop = (-shift) as usize;
        if drop >= digits.len() {
            ("0".to_string(), true)
        } else {
            let (kept, dropped) = digits.split_at(digits.len() - drop);
            (kept.to_string(), dropped.bytes().any(|b| b != b'0'))
        }
    };
    let magnitude: i64 = kept.parse().ok()?;
    let value = if negative {
        // Dropping digits of a negative number moves it towards -∞.
        -magnitude - i64::from(dropped_nonzero)
    } else {
        magnitude
    };
    (value.abs() <= LIMIT).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> serde_json::Number {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn numbers_become_exact_millionths() {
        assert_eq!(micros(&number("300")), Some(300_000_000));
        assert_eq!(micros(&number("3.018e2")), Some(301_800_000));
        assert_eq!(micros(&number("0.3")), Some(300_000));
        assert_eq!(micros(&number("-0.1")), Some(-100_000));
        assert_eq!(micros(&number("1e9")), Some(LIMIT));
        assert_eq!(micros(&number("-1000000000")), Some(-LIMIT));
        assert_eq!(micros(&number("1000000001")), None);
        assert_eq!(micros(&number("1e10")), None);
        assert_eq!(micros(&number("18446744073709551615")), None);
        assert_eq!(micros(&number("0.0000004")), Some(0), "past six decimals is dropped");
        assert_eq!(micros(&number("-0.0000004")), Some(-1), "towards -∞");
        assert_eq!(micros(&number("1.5e-3")), Some(1_500));
    }
}
