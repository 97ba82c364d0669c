//! A request body read once, strictly: UTF-8 JSON whose objects name each member once, at
//! any depth. serde_json keeps the last of two equal keys, so `"amount_minor": 1234, …,
//! "amount_minor": 5` would be stored as 5 although the bank signed a body that also says
//! 1234: a body that can be read two ways is refused.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::body::Object;

/// A JSON object body, with the text it was read from (for what must keep its digits).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonBody {
    pub object: Object,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("`{path}` is given more than once")]
    DuplicateKey { path: String },
}

impl JsonBody {
    pub fn parse(bytes: &[u8]) -> Result<JsonBody, BodyError> {
        let text = std::str::from_utf8(bytes).map_err(|e| BodyError::NotJson(format!("not UTF-8: {e}")))?;
        if let Some(path) = first_duplicate_key(text)? {
            return Err(BodyError::DuplicateKey { path });
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => Ok(JsonBody {
                object,
                text: text.to_string(),
            }),
            Ok(_) => Err(BodyError::NotAnObject),
            Err(e) => Err(BodyError::NotJson(e.to_string())),
        }
    }

    /// A body made here rather than received (simulate's workload).
    pub fn from_object(object: Object) -> JsonBody {
        let text = Value::Object(object.clone()).to_string();
        JsonBody { object, text }
    }
}

/// The path of the first member named twice in its object (`merchant.name`, `a[2].b`).
fn first_duplicate_key(text: &str) -> Result<Option<String>, BodyError> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let walked = Walk {
        path: String::new(),
        found: &found,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    match (walked, found.into_inner()) {
        (_, Some(path)) => Ok(Some(path)),
        (Ok(()), None) => Ok(None),
        (Err(e), None) => Err(BodyError::NotJson(e.to_string())),
    }
}

struct Walk<'f> {
    path: String,
    found: &'f RefCell<Option<String>>,
}

impl Walk<'_> {
    fn child(&self, segment: &str) -> String {
        if self.path.is_empty() {
            segment.to_string()
        } else if segment.starts_with('[') {
            format!("{}{segment}", self.path)
        } else {
            format!("{}.{segment}", self.path)
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = self.child(&key);
            if !seen.insert(key) {
                *self.found.borrow_mut() = Some(path);
                return Err(de::Error::custom("duplicate key"));
            }
            map.next_value_seed(Walk {
                path,
                found: self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        while seq
            .next_element_seed(Walk {
                path: self.child(&format!("[{index}]")),
                found: self.found,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duplicate(text: &str) -> Option<String> {
        match JsonBody::parse(text.as_bytes()) {
            Err(BodyError::DuplicateKey { path }) => Some(path),
            _ => None,
        }
    }

    #[test]
    fn a_key_given_twice_is_found_at_any_depth() {
        assert_eq!(
            duplicate(r#"{"amount_minor": 1234, "x": 1, "amount_minor": 5}"#).as_deref(),
            Some("amount_minor")
        );
        assert_eq!(
            duplicate(r#"{"merchant": {"name": "A", "name": "B"}}"#).as_deref(),
            Some("merchant.name")
        );
        assert_eq!(
            duplicate(r#"{"metadata": {"a": [{"k": 1}, {"k": 1, "k": 2}]}}"#).as_deref(),
            Some("metadata.a[1].k")
        );
        // Escapes spell the same key.
        assert_eq!(duplicate(r#"{"kind": 1, "\u006bind": 2}"#).as_deref(), Some("kind"));
    }

    #[test]
    fn equal_keys_in_different_objects_are_fine() {
        let body = JsonBody::parse(br#"{"a": {"k": 1}, "b": {"k": 1}, "c": [{"k": 1}, {"k": 2}]}"#).unwrap();
        assert_eq!(body.object.len(), 3);
    }

    #[test]
    fn what_is_not_a_json_object_says_so() {
        assert_eq!(JsonBody::parse(b"[1]"), Err(BodyError::NotAnObject));
        assert!(matches!(JsonBody::parse(b"{\"a\": 1"), Err(BodyError::NotJson(_))));
        assert!(matches!(JsonBody::parse(b"{} {}"), Err(BodyError::NotJson(_))));
        assert!(matches!(JsonBody::parse(b"\xff{}"), Err(BodyError::NotJson(_))));
    }
}
