//! Parsing and validating a pattern, as EventBridge does before it accepts a rule. Every
//! error names the offending path, e.g. `detail.state[0].anything-but`.

use std::fmt;
use std::net::IpAddr;

use serde_json::{Map, Value};

use super::model::*;
use super::number;
use super::text::Wildcard;

/// How many alternatives the `$or`s of one pattern may expand into. An assumption: the
/// EventBridge documentation limits the complexity of `$or` without our having been able to
/// confirm the figure here; see docs/patterns.md.
pub const MAX_OR_COMBINATIONS: u64 = 1_000;

/// Matcher keywords: not allowed as field names inside `$or`, where they would be ambiguous.
const MATCHER_KEYWORDS: &[&str] = &[
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "cidr",
    "exists",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub path: String,
    pub message: String,
}

impl PatternError {
    pub(crate) fn new(path: &str, message: impl Into<String>) -> Self {
        PatternError {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "invalid event pattern: {}", self.message)
        } else {
            write!(f, "invalid event pattern at `{}`: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for PatternError {}

type Result<T> = std::result::Result<T, PatternError>;

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(crate) fn parse_pattern(value: &Value) -> Result<Pattern> {
    let Value::Object(map) = value else {
        return Err(PatternError::new("", "a pattern must be a JSON object"));
    };
    let root = parse_object(map, "", false)?;
    let combinations = combinations(&root);
    if combinations > MAX_OR_COMBINATIONS {
        return Err(PatternError::new(
            "",
            format!(
                "the $or operators expand into {combinations} combinations; at most {MAX_OR_COMBINATIONS} are allowed"
            ),
        ));
    }
    Ok(Pattern { root })
}

fn parse_object(map: &Map<String, Value>, path: &str, inside_or: bool) -> Result<ObjectPattern> {
    if map.is_empty() {
        return Err(PatternError::new(path, "empty objects are not allowed"));
    }
    let mut object = ObjectPattern::default();
    for (key, value) in map {
        let field_path = join(path, key);
        if key == "$or" {
            object.any_of.push(parse_or(value, path, &field_path)?);
            continue;
        }
        if inside_or && MATCHER_KEYWORDS.contains(&key.as_str()) {
            return Err(PatternError::new(
                &field_path,
                format!("`{key}` is a matcher keyword and cannot be a field name inside $or"),
            ));
        }
        let field = match value {
            Value::Object(inner) => FieldPattern::Object(parse_object(inner, &field_path, inside_or)?),
            Value::Array(items) => FieldPattern::Leaf(parse_leaf(items, &field_path)?),
            _ => {
                return Err(PatternError::new(
                    &field_path,
                    "must be an object or an array (leaf values go in an array, e.g. [\"value\"])",
                ));
            }
        };
        object.fields.push((key.clone(), field));
    }
    Ok(object)
}

/// `$or` takes an array of at least two non-empty objects, matched against this same level.
fn parse_or(value: &Value, level_path: &str, or_path: &str) -> Result<Vec<ObjectPattern>> {
    let Value::Array(items) = value else {
        return Err(PatternError::new(or_path, "$or must be an array of objects"));
    };
    if items.len() < 2 {
        return Err(PatternError::new(or_path, "$or needs at least two objects"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(map) => parse_object(map, level_path, true).map_err(|e| {
                if e.path == level_path {
                    PatternError::new(&format!("{or_path}[{i}]"), e.message)
                } else {
                    e
                }
            }),
            _ => Err(PatternError::new(
                &format!("{or_path}[{i}]"),
                "only objects are allowed in a $or array",
            )),
        })
        .collect()
}

/// Alternatives the pattern expands into: each `$or` multiplies by the sum of its branches'.
fn combinations(object: &ObjectPattern) -> u64 {
    let nested = object.fields.iter().fold(1u64, |acc, (_, field)| match field {
        FieldPattern::Object(inner) => acc.saturating_mul(combinations(inner)),
        FieldPattern::Leaf(_) => acc,
    });
    object.any_of.iter().fold(nested, |acc, group| {
        let sum = group.iter().fold(0u64, |s, alt| s.saturating_add(combinations(alt)));
        acc.saturating_mul(sum)
    })
}

fn parse_leaf(items: &[Value], path: &str) -> Result<Vec<Matcher>> {
    if items.is_empty() {
        return Err(PatternError::new(path, "empty arrays are not allowed"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let item_path = format!("{path}[{i}]");
            match item {
                Value::String(s) => Ok(Matcher::String(s.clone())),
                Value::Number(n) => Ok(Matcher::Number(n.clone(), number::micros(n))),
                Value::Bool(b) => Ok(Matcher::Bool(*b)),
                Value::Null => Ok(Matcher::Null),
                Value::Object(map) => parse_matcher(map, &item_path),
                Value::Array(_) => Err(PatternError::new(
                    &item_path,
                    "a match value must be a string, number, boolean, null or a matcher object, not an array",
                )),
            }
        })
        .collect()
}

fn parse_matcher(map: &Map<String, Value>, path: &str) -> Result<Matcher> {
    let mut entries = map.iter();
    let (Some((name, operand)), None) = (entries.next(), entries.next()) else {
        return Err(PatternError::new(
            path,
            "a matcher object must have exactly one key, e.g. {\"prefix\": \"abc\"}",
        ));
    };
    let path = join(path, name);
    let path = path.as_str();
    match name.as_str() {
        "prefix" => affix(operand, path, name, Matcher::Prefix, Matcher::PrefixIgnoreCase),
        "suffix" => affix(operand, path, name, Matcher::Suffix, Matcher::SuffixIgnoreCase),
        "equals-ignore-case" => match operand {
            Value::String(s) => Ok(Matcher::EqualsIgnoreCase(s.to_lowercase())),
            _ => Err(PatternError::new(path, "equals-ignore-case takes a string")),
        },
        "wildcard" => match operand {
            Value::String(s) => Wildcard::parse(s)
                .map(Matcher::Wildcard)
                .map_err(|e| PatternError::new(path, e)),
            _ => Err(PatternError::new(path, "wildcard takes a string")),
        },
        "anything-but" => parse_anything_but(operand, path).map(Matcher::AnythingBut),
        "numeric" => parse_numeric(operand, path).map(Matcher::Numeric),
        "cidr" => match operand {
            Value::String(s) => parse_cidr(s).map(Matcher::Cidr).map_err(|e| PatternError::new(path, e)),
            _ => Err(PatternError::new(path, "cidr takes a string such as \"10.0.0.0/24\"")),
        },
        "exists" => match operand {
            Value::Bool(b) => Ok(Matcher::Exists(*b)),
            _ => Err(PatternError::new(path, "exists takes true or false")),
        },
        other => Err(PatternError::new(
            path,
            format!(
                "unknown matcher `{other}`; expected one of {}",
                MATCHER_KEYWORDS.join(", ")
            ),
        )),
    }
}

/// prefix or suffix: a string, or `{"equals-ignore-case": string}`.
fn affix(
    operand: &Value,
    path: &str,
    name: &str,
    exact: fn(String) -> Matcher,
    ignoring_case: fn(String) -> Matcher,
) -> Result<Matcher> {
    match operand {
        Value::String(s) => Ok(exact(s.clone())),
        Value::Object(_) => ignore_case_operand(operand, path).map(ignoring_case),
        _ => Err(PatternError::new(
            path,
            format!("{name} takes a string or {{\"equals-ignore-case\": string}}"),
        )),
    }
}

/// `{"equals-ignore-case": "abc"}` inside prefix or suffix.
fn ignore_case_operand(operand: &Value, path: &str) -> Result<String> {
    match operand {
        Value::Object(map) if map.len() == 1 => match map.get("equals-ignore-case") {
            Some(Value::String(s)) => Ok(s.to_lowercase()),
            Some(_) => Err(PatternError::new(
                &join(path, "equals-ignore-case"),
                "equals-ignore-case takes a string",
            )),
            None => Err(PatternError::new(
                path,
                "only {\"equals-ignore-case\": string} may be nested here",
            )),
        },
        _ => Err(PatternError::new(
            path,
            "only {\"equals-ignore-case\": string} may be nested here",
        )),
    }
}

fn strings(operand: &Value, path: &str, what: &str) -> Result<Vec<String>> {
    match operand {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if items.is_empty() => Err(PatternError::new(path, "empty arrays are not allowed")),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(PatternError::new(
                    &format!("{path}[{i}]"),
                    format!("{what} takes strings only"),
                )),
            })
            .collect(),
        _ => Err(PatternError::new(
            path,
            format!("{what} takes a string or a list of strings"),
        )),
    }
}

fn in_range(n: &serde_json::Number, path: &str) -> Result<i64> {
    number::micros(n).ok_or_else(|| {
        PatternError::new(
            path,
            format!("{n} is outside the numeric range -1.0e9 to 1.0e9 (six decimals) EventBridge supports"),
        )
    })
}

fn parse_anything_but(operand: &Value, path: &str) -> Result<AnythingBut> {
    match operand {
        Value::String(s) => Ok(AnythingBut::Strings(vec![s.clone()])),
        Value::Number(n) => Ok(AnythingBut::Numbers(vec![in_range(n, path)?])),
        Value::Array(items) if items.is_empty() => Err(PatternError::new(path, "empty arrays are not allowed")),
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(AnythingBut::Strings(
            items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        )),
        Value::Array(items) if items.iter().all(Value::is_number) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Number(n) => in_range(n, &format!("{path}[{i}]")),
                _ => unreachable!("all numbers, checked above"),
            })
            .collect::<Result<_>>()
            .map(AnythingBut::Numbers),
        Value::Array(_) => Err(PatternError::new(
            path,
            "an anything-but list holds only strings or only numbers (not mixed, no null or booleans)",
        )),
        Value::Object(map) => {
            let mut entries = map.iter();
            let (Some((name, inner)), None) = (entries.next(), entries.next()) else {
                return Err(PatternError::new(path, "anything-but takes one nested matcher"));
            };
            let inner_path = join(path, name);
            match name.as_str() {
                "prefix" | "suffix" => {
                    let values = strings(inner, &inner_path, &format!("anything-but {name}"))?;
                    if values.iter().any(String::is_empty) {
                        return Err(PatternError::new(
                            &inner_path,
                            format!("an empty {name} is not allowed"),
                        ));
                    }
                    Ok(if name == "prefix" {
                        AnythingBut::Prefixes(values)
                    } else {
                        AnythingBut::Suffixes(values)
                    })
                }
                "equals-ignore-case" => Ok(AnythingBut::IgnoreCase(
                    strings(inner, &inner_path, "anything-but equals-ignore-case")?
                        .iter()
                        .map(|s| s.to_lowercase())
                        .collect(),
                )),
                "wildcard" => strings(inner, &inner_path, "anything-but wildcard")?
                    .iter()
                    .map(|s| Wildcard::parse(s).map_err(|e| PatternError::new(&inner_path, e)))
                    .collect::<Result<_>>()
                    .map(AnythingBut::Wildcards),
                other => Err(PatternError::new(
                    &inner_path,
                    format!(
                        "anything-but cannot nest `{other}`; it takes prefix, suffix, equals-ignore-case or wildcard"
                    ),
                )),
            }
        }
        _ => Err(PatternError::new(
            path,
            "anything-but takes a string, a number, a list of strings or of numbers, or a nested matcher",
        )),
    }
}

fn parse_numeric(operand: &Value, path: &str) -> Result<NumericRange> {
    const SHAPE: &str = "numeric takes [\"=\" | \"<\" | \"<=\" | \">\" | \">=\", number] or a range [\">\" | \">=\", low, \"<\" | \"<=\", high]";
    let Value::Array(items) = operand else {
        return Err(PatternError::new(path, SHAPE));
    };
    let bound = |i: usize| -> Result<i64> {
        match items.get(i) {
            Some(Value::Number(n)) => in_range(n, &format!("{path}[{i}]")),
            _ => Err(PatternError::new(&format!("{path}[{i}]"), "must be a number")),
        }
    };
    let operator = |i: usize| items.get(i).and_then(Value::as_str);
    let range = match (items.len(), operator(0)) {
        (2, Some("=")) => {
            let value = bound(1)?;
            NumericRange {
                lower: Some(Bound { value, inclusive: true }),
                upper: Some(Bound { value, inclusive: true }),
            }
        }
        (2, Some(op @ ("<" | "<="))) => NumericRange {
            lower: None,
            upper: Some(Bound {
                value: bound(1)?,
                inclusive: op == "<=",
            }),
        },
        (2 | 4, Some(op @ (">" | ">="))) => {
            let lower = Some(Bound {
                value: bound(1)?,
                inclusive: op == ">=",
            });
            let upper = if items.len() == 4 {
                match operator(2) {
                    Some(top @ ("<" | "<=")) => Some(Bound {
                        value: bound(3)?,
                        inclusive: top == "<=",
                    }),
                    _ => {
                        return Err(PatternError::new(
                            &format!("{path}[2]"),
                            "the upper bound of a range takes \"<\" or \"<=\"",
                        ));
                    }
                }
            } else {
                None
            };
            NumericRange { lower, upper }
        }
        (_, Some(op)) if !["=", "<", "<=", ">", ">="].contains(&op) => {
            return Err(PatternError::new(
                &format!("{path}[0]"),
                format!("unknown numeric operator {op:?}"),
            ));
        }
        _ => return Err(PatternError::new(path, SHAPE)),
    };
    if let (Some(low), Some(high)) = (range.lower, range.upper)
        && low.value >= high.value
        && !(low.inclusive && high.inclusive && low.value == high.value)
    {
        return Err(PatternError::new(
            path,
            "the lower bound of a range must be below its upper bound",
        ));
    }
    Ok(range)
}

/// "10.0.0.0/24" or "2001:db8::/32", any valid spelling of the address.
fn parse_cidr(text: &str) -> std::result::Result<Cidr, String> {
    let (address, length) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not in CIDR notation (address/prefix-length)"))?;
    let address: IpAddr = address
        .parse()
        .map_err(|_| format!("{address:?} is not an IPv4 or IPv6 address"))?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix_len: u8 = length
        .parse()
        .ok()
        .filter(|l| *l <= max)
        .ok_or_else(|| format!("prefix length {length:?} must be a number from 0 to {max}"))?;
    let network = match address {
        IpAddr::V4(v4) => IpAddr::V4(mask_u32(u32::from(v4), prefix_len).into()),
        IpAddr::V6(v6) => IpAddr::V6(mask_u128(u128::from(v6), prefix_len).into()),
    };
    Ok(Cidr { network, prefix_len })
}
