//! A rate in [0, 1] (a top-up fee), written as a decimal and kept exact.

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
