//! The part of an event a set of patterns reads: the fields they name, level by level, each
//! leaf kept whole. Matching a projection gives what matching the whole event gives (a
//! pattern never looks at a field it does not name; arrays keep their elements, each
//! projected alike), so a bus can route an event read from its text without building the
//! tree of the rest of it.
//!
//! `project` reads the text exactly as `serde_json::from_str::<Value>` does — every value
//! it skips is still checked (numbers in range, strings well formed, nesting depth, nothing
//! after the end) — so a text is projected if and only if it parses as a `Value`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::Pattern;
use super::model::{FieldPattern, ObjectPattern};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    /// A leaf of some pattern: the value is kept as it is, whatever it holds.
    whole: bool,
    fields: BTreeMap<String, Projection>,
}

impl Projection {
    /// The fields any of these patterns reads.
    pub fn of<'p>(patterns: impl IntoIterator<Item = &'p Pattern>) -> Projection {
        let mut projection = Projection::default();
        for pattern in patterns {
            projection.add(&pattern.root);
        }
        projection
    }

    fn add(&mut self, object: &ObjectPattern) {
        for (name, field) in &object.fields {
            let child = self.fields.entry(name.clone()).or_default();
            match field {
                FieldPattern::Leaf(_) => child.whole = true,
                FieldPattern::Object(inner) => child.add(inner),
            }
        }
        for alternative in object.any_of.iter().flatten() {
            self.add(alternative);
        }
    }

    /// What is read below `name`, if anything is.
    pub fn field(&self, name: &str) -> Option<&Projection> {
        if self.whole {
            return None;
        }
        self.fields.get(name)
    }

    /// The JSON text, with only the projected fields in its objects; an error where
    /// `serde_json::from_str::<Value>` would give one.
    pub fn project(&self, text: &str) -> serde_json::Result<Value> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let value = ProjectSeed(self).deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(value)
    }
}

struct ProjectSeed<'p>(&'p Projection);

impl<'de> DeserializeSeed<'de> for ProjectSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.0.whole {
            return serde::Deserialize::deserialize(deserializer);
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ProjectSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match self.0.fields.get(key.as_str()) {
                Some(child) => {
                    let value = map.next_value_seed(ProjectSeed(child))?;
                    kept.insert(key.into_owned(), value);
                }
                None => map.next_value_seed(Checked)?,
            }
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ProjectSeed(self.0))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        // As serde_json's own visitor: a JSON number is finite.
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// An object key, borrowed from the text when it holds no escape.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(key) => key,
            Key::Owned(key) => key,
        }
    }

    fn into_owned(self) -> String {
        match self {
            Key::Borrowed(key) => key.to_string(),
            Key::Owned(key) => key,
        }
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key<'de>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key::Owned(key.to_string()))
    }
}

/// A value not kept, read as `Value` reads it (`IgnoredAny` would not check a number's range).
struct Checked;

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Checked)?.is_some() {
            map.next_value_seed(Checked)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Checked)?.is_some() {}
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
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

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pattern(value: Value) -> Pattern {
        Pattern::parse(&value).expect("a valid pattern")
    }

    #[test]
    fn only_the_named_fields_are_kept_each_leaf_whole() {
        let projection = Projection::of([
            &pattern(json!({"source": ["a"], "detail": {"mail": {"tags": {"set": ["x"]}}}})),
            &pattern(json!({"detail-type": ["b"], "$or": [{"detail": {"kind": ["k"]}}, {"time": [{"exists": true}]}]})),
        ]);
        let event = json!({
            "source": "a", "id": "1", "detail-type": "b", "time": "t",
            "detail": {"kind": {"nested": [1, 2]}, "other": "o", "mail": {"tags": {"set": ["x", "y"], "more": 1}, "to": []}}
        });
        assert_eq!(
            projection.project(&event.to_string()).unwrap(),
            json!({
                "source": "a", "detail-type": "b", "time": "t",
                "detail": {"kind": {"nested": [1, 2]}, "mail": {"tags": {"set": ["x", "y"]}}}
            })
        );
    }

    #[test]
    fn arrays_keep_their_elements_each_projected() {
        let projection = Projection::of([&pattern(json!({"detail": {"items": {"id": ["a"]}}}))]);
        let text = r#"{"detail":{"items":[{"id":"a","x":1},"scalar",[{"id":"b","y":2}],null]}}"#;
        assert_eq!(
            projection.project(text).unwrap(),
            json!({"detail": {"items": [{"id": "a"}, "scalar", [{"id": "b"}], null]}})
        );
    }

    #[test]
    fn a_text_projects_exactly_when_it_parses_as_a_value() {
        let projection = Projection::of([&pattern(json!({"detail": {"kept": ["a"]}}))]);
        for text in [
            r#"{"detail":{"kept":"a"}}"#,
            r#"{"detail":{"skipped":1e400}}"#,
            r#"{"detail":{"kept":1e400}}"#,
            r#"{"detail":{"skipped":18446744073709551616}}"#,
            r#"{"detail":{"skipped":"\ud800"}}"#,
            r#"{"detail":{"skipped":"\u0041\n"}, "k\u0065pt": 1}"#,
            r#"{"detail":{"skipped":"tab	inside"}}"#,
            r#"{"detail":{"kept":"a"}} trailing"#,
            r#"{"detail":{"kept":"a"}},"source":"x""#,
            r#"{"detail":{"kept":"a","kept":"b"}}"#,
            r#"{"detail":[{"skipped":[1,2,]}]}"#,
            r#"{"detail":{"skipped":tru}}"#,
            r#"  {"detail" : { "kept" : [ "a" ] } }  "#,
            &format!("{{\"detail\":{}1{}}}", "[".repeat(130), "]".repeat(130)),
            &format!("{{\"detail\":{}1{}}}", "[".repeat(100), "]".repeat(100)),
            "[]",
            "\"just a string\"",
        ] {
            let whole = serde_json::from_str::<Value>(text);
            let projected = projection.project(text);
            assert_eq!(whole.is_ok(), projected.is_ok(), "{text}: {whole:?} / {projected:?}");
        }
    }

    #[test]
    fn a_duplicated_key_keeps_its_last_value_as_the_tree_does() {
        let projection = Projection::of([&pattern(json!({"source": ["b"]}))]);
        let text = r#"{"source":"a","source":"b"}"#;
        assert_eq!(projection.project(text).unwrap(), json!({"source": "b"}));
    }
}
