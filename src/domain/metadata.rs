//! A transaction's `metadata`: free form, carried through untouched (docs/data-contract.md,
//! `docs/data-contract.md`). Kept as its own JSON tree so that nothing is lost on the way:
//!
//! | DynamoDB type inside `metadata` | in events (JSON) |
//! |---|---|
//! | S, BOOL, NULL | string, boolean, null |
//! | N | a JSON number with exactly the stored digits (`0.10` stays `0.10`, 38 digits stay 38) |
//! | B | its base64 text, as DynamoDB Streams deliver it |
//! | SS, NS, BS | an array of strings, numbers, base64 texts |
//! | M, L | an object, an array |
//!
//! serde_json's own `Value` would round numbers through f64, and serde_dynamo refuses
//! binary values when it makes one: hence this type.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_dynamo::AttributeValue;
use serde_json::value::RawValue;

use super::item_view::Attr;

/// DynamoDB's nesting limit ("up to 32 levels deep") counts the item as a level: the
/// `metadata` map and the maps and lists inside it may nest 31 deep, as `depth` counts
/// them. Measured on DynamoDB Local: 31 nested maps store, 32 are refused.
pub const MAX_METADATA_DEPTH: usize = 31;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaValue {
    Null,
    Bool(bool),
    /// The number's text, valid JSON, with every digit it was given.
    Number(String),
    String(String),
    Array(Vec<MetaValue>),
    Object(BTreeMap<String, MetaValue>),
}

/// The `metadata` object of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata(pub BTreeMap<String, MetaValue>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("`{path}` is not a number")]
    NotANumber { path: String },
    #[error("must be a JSON object")]
    NotAnObject,
    #[error("is not JSON: {0}")]
    NotJson(String),
}

impl MetaValue {
    /// Levels of nesting, as DynamoDB counts them: 0 for a scalar, 1 + the deepest member
    /// for an object or array.
    pub fn depth(&self) -> usize {
        match self {
            MetaValue::Array(items) => 1 + items.iter().map(MetaValue::depth).max().unwrap_or(0),
            MetaValue::Object(map) => 1 + map.values().map(MetaValue::depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    fn from_attr(value: &Attr, path: &str) -> Result<MetaValue, MetadataError> {
        let number = |text: &str, path: &str| {
            json_number(text)
                .map(MetaValue::Number)
                .ok_or_else(|| MetadataError::NotANumber { path: path.to_string() })
        };
        Ok(match value {
            Attr::Null(_) => MetaValue::Null,
            Attr::Bool(b) => MetaValue::Bool(*b),
            Attr::S(s) => MetaValue::String(s.to_string()),
            Attr::N(n) => number(n, path)?,
            Attr::B(bytes) => MetaValue::String(STANDARD.encode(bytes)),
            Attr::Ss(items) => MetaValue::Array(items.iter().map(|s| MetaValue::String(s.to_string())).collect()),
            Attr::Ns(items) => MetaValue::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| number(n, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Attr::Bs(items) => MetaValue::Array(items.iter().map(|b| MetaValue::String(STANDARD.encode(b))).collect()),
            Attr::L(items) => MetaValue::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| MetaValue::from_attr(item, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Attr::M(map) => MetaValue::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.to_string(), MetaValue::from_attr(v, &format!("{path}.{k}"))?)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// The DynamoDB value this is stored as (numbers keep their text).
    fn to_attribute(&self) -> AttributeValue {
        match self {
            MetaValue::Null => AttributeValue::Null(true),
            MetaValue::Bool(b) => AttributeValue::Bool(*b),
            MetaValue::Number(n) => AttributeValue::N(n.clone()),
            MetaValue::String(s) => AttributeValue::S(s.clone()),
            MetaValue::Array(items) => AttributeValue::L(items.iter().map(MetaValue::to_attribute).collect()),
            MetaValue::Object(map) => {
                AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), v.to_attribute())).collect())
            }
        }
    }

    /// From JSON text, numbers kept exactly as written. Duplicate keys keep the last; the
    /// API refuses them before this is called.
    fn from_raw(raw: &RawValue) -> Result<MetaValue, serde_json::Error> {
        let text = raw.get().trim_start();
        Ok(match text.as_bytes().first() {
            Some(b'{') => {
                let members: BTreeMap<String, Box<RawValue>> = serde_json::from_str(text)?;
                MetaValue::Object(
                    members
                        .into_iter()
                        .map(|(k, v)| Ok((k, MetaValue::from_raw(&v)?)))
                        .collect::<Result<_, serde_json::Error>>()?,
                )
            }
            Some(b'[') => {
                let items: Vec<Box<RawValue>> = serde_json::from_str(text)?;
                MetaValue::Array(items.iter().map(|v| MetaValue::from_raw(v)).collect::<Result<_, _>>()?)
            }
            Some(b'"') => MetaValue::String(serde_json::from_str(text)?),
            Some(b't' | b'f') => MetaValue::Bool(serde_json::from_str(text)?),
            Some(b'n') => MetaValue::Null,
            _ => MetaValue::Number(text.trim_end().to_string()),
        })
    }

    /// From a serde_json value (numbers as serde_json holds them).
    pub fn from_json(value: &serde_json::Value) -> MetaValue {
        match value {
            serde_json::Value::Null => MetaValue::Null,
            serde_json::Value::Bool(b) => MetaValue::Bool(*b),
            serde_json::Value::Number(n) => MetaValue::Number(n.to_string()),
            serde_json::Value::String(s) => MetaValue::String(s.clone()),
            serde_json::Value::Array(items) => MetaValue::Array(items.iter().map(MetaValue::from_json).collect()),
            serde_json::Value::Object(map) => {
                MetaValue::Object(map.iter().map(|(k, v)| (k.clone(), MetaValue::from_json(v))).collect())
            }
        }
    }

    /// As a serde_json value; numbers too precise for it keep their digits as a string.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            MetaValue::Null => serde_json::Value::Null,
            MetaValue::Bool(b) => serde_json::Value::Bool(*b),
            MetaValue::Number(n) => serde_json::from_str(n).unwrap_or_else(|_| serde_json::Value::String(n.clone())),
            MetaValue::String(s) => serde_json::Value::String(s.clone()),
            MetaValue::Array(items) => serde_json::Value::Array(items.iter().map(MetaValue::to_json).collect()),
            MetaValue::Object(map) => {
                serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }
}

impl Metadata {
    /// The `metadata` attribute of a ledger item: any DynamoDB type but M is not ours to read.
    pub fn from_attribute(value: &AttributeValue) -> Result<Option<Metadata>, MetadataError> {
        Metadata::from_attr(&Attr::of_value(value))
    }

    /// `from_attribute`, on a value read in place.
    pub fn from_attr(value: &Attr) -> Result<Option<Metadata>, MetadataError> {
        match value {
            Attr::Null(_) => Ok(None),
            Attr::M(_) => match MetaValue::from_attr(value, "metadata")? {
                MetaValue::Object(map) => Ok(Some(Metadata(map))),
                _ => unreachable!("an M attribute converts to an object"),
            },
            _ => Err(MetadataError::NotAnObject),
        }
    }

    pub fn to_attribute(&self) -> AttributeValue {
        AttributeValue::M(self.0.iter().map(|(k, v)| (k.clone(), v.to_attribute())).collect())
    }

    /// From the JSON text of an object, every number exactly as written.
    pub fn from_json_text(text: &str) -> Result<Metadata, MetadataError> {
        let raw: Box<RawValue> = serde_json::from_str(text).map_err(|e| MetadataError::NotJson(e.to_string()))?;
        match MetaValue::from_raw(&raw).map_err(|e| MetadataError::NotJson(e.to_string()))? {
            MetaValue::Object(map) => Ok(Metadata(map)),
            _ => Err(MetadataError::NotAnObject),
        }
    }

    /// From a serde_json object (samples, the workload, top-up details).
    pub fn from_json(value: &serde_json::Value) -> Option<Metadata> {
        match MetaValue::from_json(value) {
            MetaValue::Object(map) => Some(Metadata(map)),
            _ => None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        MetaValue::Object(self.0.clone()).to_json()
    }

    /// Levels of nesting of the object itself (an empty or flat object is 1).
    pub fn depth(&self) -> usize {
        1 + self.0.values().map(MetaValue::depth).max().unwrap_or(0)
    }

    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.0.get(key)
    }
}

/// A DynamoDB number (`+5`, `.5`, `5.`, `1E+3`, `-0.10`) as JSON number text of the same
/// value and digits; None when it is not a number.
pub fn json_number(text: &str) -> Option<String> {
    let (sign, unsigned) = match text.as_bytes().first()? {
        b'-' => ("-", &text[1..]),
        b'+' => ("", &text[1..]),
        _ => ("", text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole = match whole.trim_start_matches('0') {
        "" => "0",
        trimmed => trimmed,
    };
    let mut json = format!("{sign}{whole}");
    if !fraction.is_empty() {
        json.push('.');
        json.push_str(fraction);
    }
    if let Some(exponent) = exponent {
        let magnitude = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if magnitude.is_empty() || !digits(magnitude) {
            return None;
        }
        json.push('e');
        json.push_str(exponent);
    }
    Some(json)
}

impl Serialize for MetaValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            MetaValue::Null => serializer.serialize_unit(),
            MetaValue::Bool(b) => serializer.serialize_bool(*b),
            // Into JSON text (events, API answers) the digits go as they are; a serializer
            // that is not serde_json's sees the number as serde_json holds it.
            MetaValue::Number(n) => match RawValue::from_string(n.clone()) {
                Ok(raw) => raw.serialize(serializer),
                Err(_) => serializer.serialize_str(n),
            },
            MetaValue::String(s) => serializer.serialize_str(s),
            MetaValue::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            MetaValue::Object(map) => serialize_map(map, serializer),
        }
    }
}

fn serialize_map<S: Serializer>(map: &BTreeMap<String, MetaValue>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut out = serializer.serialize_map(Some(map.len()))?;
    for (k, v) in map {
        out.serialize_entry(k, v)?;
    }
    out.end()
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_map(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Metadata::from_json_text(raw.get()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_dynamo::AttributeValue as A;

    fn map(entries: &[(&str, A)]) -> A {
        A::M(entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn every_dynamodb_type_is_carried_as_plain_json() {
        let attribute = map(&[
            ("s", A::S("x".into())),
            ("n", A::N("0.10".into())),
            ("big", A::N("12345678901234567890123456789012345678".into())),
            ("b", A::B(b"hello".to_vec())),
            ("bs", A::Bs(vec![b"a".to_vec(), b"bc".to_vec()])),
            ("ss", A::Ss(vec!["p".into(), "q".into()])),
            ("ns", A::Ns(vec!["1".into(), "-2.5E+3".into()])),
            ("bool", A::Bool(false)),
            ("null", A::Null(true)),
            (
                "l",
                A::L(vec![A::B(vec![0xff]), map(&[("deep", A::Bs(vec![vec![1, 2]]))])]),
            ),
        ]);
        let metadata = Metadata::from_attribute(&attribute).unwrap().unwrap();
        let text = serde_json::to_string(&metadata).unwrap();
        assert_eq!(
            text,
            r#"{"b":"aGVsbG8=","big":12345678901234567890123456789012345678,"bool":false,"bs":["YQ==","YmM="],"l":["/w==",{"deep":["AQI="]}],"n":0.10,"ns":[1,-2.5e+3],"null":null,"s":"x","ss":["p","q"]}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed["bs"][1], "YmM=");
    }

    #[test]
    fn json_text_keeps_every_digit_and_round_trips_through_dynamodb() {
        let metadata = Metadata::from_json_text(
            r#"{"rate": 0.10, "id": 123456789012345678901234567890, "x": [1e3, {"y": -0.0}]}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&metadata).unwrap(),
            r#"{"id":123456789012345678901234567890,"rate":0.10,"x":[1e3,{"y":-0.0}]}"#
        );
        let again = Metadata::from_attribute(&metadata.to_attribute()).unwrap().unwrap();
        assert_eq!(again, metadata);
    }

    #[test]
    fn dynamodb_spellings_of_numbers_become_valid_json() {
        for (dynamo, json) in [
            ("5", "5"),
            ("+5", "5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("007", "7"),
            ("-0.10", "-0.10"),
            ("1E+3", "1e+3"),
            ("1e-130", "1e-130"),
        ] {
            let out = json_number(dynamo).unwrap();
            assert_eq!(out, json, "{dynamo}");
            serde_json::from_str::<serde_json::Value>(&out).unwrap();
        }
        for bad in ["", "-", ".", "1e", "1e+", "abc", "1.2.3", "0x1", "1 "] {
            assert_eq!(json_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_non_number_inside_is_named_by_its_path() {
        let attribute = map(&[("a", A::L(vec![A::N("x".into())]))]);
        assert_eq!(
            Metadata::from_attribute(&attribute),
            Err(MetadataError::NotANumber {
                path: "metadata.a[0]".into()
            })
        );
        assert_eq!(
            Metadata::from_attribute(&A::S("x".into())),
            Err(MetadataError::NotAnObject)
        );
    }

    #[test]
    fn depth_counts_the_object_itself() {
        assert_eq!(Metadata::from_json_text("{}").unwrap().depth(), 1);
        assert_eq!(Metadata::from_json_text(r#"{"a": 1}"#).unwrap().depth(), 1);
        assert_eq!(Metadata::from_json_text(r#"{"a": {"b": [[]]}}"#).unwrap().depth(), 4);
    }
}
