//! Reads fields of JSON objects into values, collecting every problem as a field error.

use serde_json::{Map, Value};

use super::checks::{Check, any_text};
use crate::domain::fields::CountryCode;
use crate::domain::money::{Currency, MAX_AMOUNT_MINOR};
use crate::pipeline::ingest::problem::FieldError;

pub type Object = Map<String, Value>;

/// Reads fields of JSON objects, collecting every problem.
#[derive(Default)]
pub struct Reader {
    pub errors: Vec<FieldError>,
}

pub fn path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl Reader {
    pub fn error(&mut self, field: String, message: impl Into<String>) {
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
    pub fn field<'o>(&mut self, object: &'o Object, prefix: &str, name: &str, required: bool) -> Option<&'o Value> {
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
        check: Check,
    ) -> Option<String> {
        match self.field(object, prefix, name, required)? {
            Value::String(text) => match check(text) {
                Ok(()) => Some(text.clone()),
                Err(invalid) => {
                    self.error(path(prefix, name), invalid.0);
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

    pub fn into_result<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(self.errors),
        }
    }
}

pub fn names(list: &[&str]) -> String {
    list.join(", ")
}
