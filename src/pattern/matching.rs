//! Matching a compiled pattern against an event (a serde_json value).
//!
//! - A field of the pattern matches when the event's value there matches one of its values.
//! - Where the event holds an array of scalars, one element matching is enough.
//! - Where the event holds an array of objects, the fields of the pattern below that point
//!   must all be satisfied within one element: fields of different elements never combine.
//! - `exists` works on leaves only: an object where the pattern expects a leaf counts as absent.
//! - A missing field matches only `{"exists": false}` (anything-but needs a present value).

use serde_json::Value;

use super::model::*;
use super::number;
use super::text::{ends_with_ignore_case, equals_ignore_case, starts_with_ignore_case};

pub(crate) fn object_matches(pattern: &ObjectPattern, event: Option<&Value>) -> bool {
    match event {
        Some(Value::Array(items)) if !items.is_empty() => items.iter().any(|item| object_matches(pattern, Some(item))),
        Some(Value::Object(map)) => {
            pattern
                .fields
                .iter()
                .all(|(key, field)| field_matches(field, map.get(key)))
                && pattern
                    .any_of
                    .iter()
                    .all(|group| group.iter().any(|alt| object_matches(alt, event)))
        }
        // Absent, a scalar or an empty array: every field of the pattern is absent here.
        _ => {
            pattern.fields.iter().all(|(_, field)| field_matches(field, None))
                && pattern
                    .any_of
                    .iter()
                    .all(|group| group.iter().any(|alt| object_matches(alt, None)))
        }
    }
}

fn field_matches(field: &FieldPattern, value: Option<&Value>) -> bool {
    match field {
        FieldPattern::Leaf(matchers) => leaf_matches(matchers, value),
        FieldPattern::Object(inner) => object_matches(inner, value),
    }
}

fn has_leaf(value: &Value) -> bool {
    match value {
        Value::Object(_) => false,
        Value::Array(items) => items.iter().any(has_leaf),
        _ => true,
    }
}

/// Any scalar reachable through nested arrays (objects are not leaves).
fn any_scalar(value: &Value, test: &mut impl FnMut(&Value) -> bool) -> bool {
    match value {
        Value::Object(_) => false,
        Value::Array(items) => items.iter().any(|item| any_scalar(item, test)),
        scalar => test(scalar),
    }
}

fn leaf_matches(matchers: &[Matcher], value: Option<&Value>) -> bool {
    let present = value.is_some_and(has_leaf);
    matchers.iter().any(|matcher| match matcher {
        Matcher::Exists(expected) => *expected == present,
        _ if !present => false,
        other => any_scalar(value.expect("present"), &mut |scalar| scalar_matches(other, scalar)),
    })
}

fn scalar_matches(matcher: &Matcher, value: &Value) -> bool {
    match (matcher, value) {
        // Exact, character by character, as the EventBridge documentation says. (event-ruler
        // turns an exact value that parses as an IP address into an address range, so that
        // other spellings of the address match too; we follow the documentation.)
        (Matcher::String(expected), Value::String(actual)) => expected == actual,
        (Matcher::Number(expected, expected_micros), Value::Number(actual)) => {
            match (expected_micros, number::micros(actual)) {
                (Some(a), Some(b)) => *a == b,
                _ => numbers_equal(expected, actual),
            }
        }
        (Matcher::Bool(expected), Value::Bool(actual)) => expected == actual,
        (Matcher::Null, Value::Null) => true,
        (Matcher::Prefix(prefix), Value::String(actual)) => actual.starts_with(prefix.as_str()),
        (Matcher::PrefixIgnoreCase(prefix), Value::String(actual)) => starts_with_ignore_case(actual, prefix),
        (Matcher::Suffix(suffix), Value::String(actual)) => actual.ends_with(suffix.as_str()),
        (Matcher::SuffixIgnoreCase(suffix), Value::String(actual)) => ends_with_ignore_case(actual, suffix),
        (Matcher::EqualsIgnoreCase(expected), Value::String(actual)) => equals_ignore_case(actual, expected),
        (Matcher::Wildcard(wildcard), Value::String(actual)) => wildcard.matches(actual),
        (Matcher::AnythingBut(excluded), value) => !is_excluded(excluded, value),
        (Matcher::Numeric(range), Value::Number(actual)) => number::micros(actual).is_some_and(|m| range.contains(m)),
        (Matcher::Cidr(cidr), Value::String(actual)) => actual
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| cidr.contains(address)),
        _ => false,
    }
}

/// Numbers outside the numeric range (an account id, say) compare as JSON numbers.
fn numbers_equal(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
        (Some(x), Some(y), _, _) => x == y,
        (_, _, Some(x), Some(y)) => x == y,
        _ => a.as_f64().zip(b.as_f64()).is_some_and(|(x, y)| x == y),
    }
}

fn is_excluded(excluded: &AnythingBut, value: &Value) -> bool {
    match (excluded, value) {
        (AnythingBut::Strings(list), Value::String(actual)) => list.iter().any(|s| s == actual),
        (AnythingBut::Numbers(list), Value::Number(actual)) => {
            number::micros(actual).is_some_and(|m| list.contains(&m))
        }
        (AnythingBut::Prefixes(list), Value::String(actual)) => list.iter().any(|p| actual.starts_with(p.as_str())),
        (AnythingBut::Suffixes(list), Value::String(actual)) => list.iter().any(|s| actual.ends_with(s.as_str())),
        (AnythingBut::IgnoreCase(list), Value::String(actual)) => list.iter().any(|s| equals_ignore_case(actual, s)),
        (AnythingBut::Wildcards(list), Value::String(actual)) => list.iter().any(|w| w.matches(actual)),
        _ => false,
    }
}
