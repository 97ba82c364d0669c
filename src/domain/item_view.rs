//! A DynamoDB item read from JSON text without copying it: its names and strings borrow
//! from the text (those with escapes are the only ones copied), its maps are short lists
//! searched in place. The decoders of `fields` read this; an owned `serde_dynamo::Item` is
//! viewed the same way through `ItemView::of_item`.
//!
//! It accepts exactly what `serde_dynamo::AttributeValue` accepts in DynamoDB JSON: an
//! object with one key of N, S, BOOL, B (base64), NULL, M, L, SS, NS or BS; and as a map
//! of those, a name given twice keeps its last value, as a `HashMap` does.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_dynamo::AttributeValue;

/// An owned item: serde_dynamo's attribute map.
pub type Attributes = std::collections::HashMap<String, AttributeValue>;

/// A JSON string, borrowed from the text unless it held an escape.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'a> Text<'a> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(text.to_string())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(TextVisitor(PhantomData))
    }
}

/// One attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr<'a> {
    N(Cow<'a, str>),
    S(Cow<'a, str>),
    Bool(bool),
    B(Vec<u8>),
    Null(bool),
    M(ItemView<'a>),
    L(Vec<Attr<'a>>),
    Ss(Vec<Cow<'a, str>>),
    Ns(Vec<Cow<'a, str>>),
    Bs(Vec<Vec<u8>>),
}

/// The attributes of an item (or of an M value), in the order they were read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemView<'a> {
    entries: Vec<(Cow<'a, str>, Attr<'a>)>,
}

impl<'a> ItemView<'a> {
    /// The attributes in the order read (a name may come twice: the last one counts).
    pub fn from_entries(entries: Vec<(Cow<'a, str>, Attr<'a>)>) -> ItemView<'a> {
        ItemView { entries }
    }

    /// The value of a name; of a name given twice, the last.
    pub fn get(&self, name: &str) -> Option<&Attr<'a>> {
        self.entries
            .iter()
            .rev()
            .find(|(key, _)| same_name(key, name))
            .map(|(_, value)| value)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Each name once (its last value), in the order first read.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Attr<'a>)> {
        self.entries.iter().enumerate().filter_map(|(at, (key, _))| {
            let later = self.entries[at + 1..].iter().any(|(other, _)| other == key);
            (!later).then(|| (key.as_ref(), self.get(key).expect("the name is there")))
        })
    }

    /// A view of an owned item, borrowing its strings.
    pub fn of_item(item: &'a Attributes) -> ItemView<'a> {
        ItemView {
            entries: item
                .iter()
                .map(|(key, value)| (Cow::Borrowed(key.as_str()), Attr::of_value(value)))
                .collect(),
        }
    }

    /// The owned item (a name given twice keeps its last value).
    pub fn to_item(&self) -> Attributes {
        self.entries
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_value()))
            .collect()
    }
}

/// Names are short and mostly differ in length or first byte: checked before comparing all.
fn same_name(key: &str, name: &str) -> bool {
    key.len() == name.len() && key.as_bytes().first() == name.as_bytes().first() && key == name
}

impl<'a> Attr<'a> {
    pub fn of_value(value: &'a AttributeValue) -> Attr<'a> {
        let borrowed = |items: &'a [String]| items.iter().map(|s| Cow::Borrowed(s.as_str())).collect();
        match value {
            AttributeValue::N(n) => Attr::N(Cow::Borrowed(n)),
            AttributeValue::S(s) => Attr::S(Cow::Borrowed(s)),
            AttributeValue::Bool(b) => Attr::Bool(*b),
            AttributeValue::B(bytes) => Attr::B(bytes.clone()),
            AttributeValue::Null(null) => Attr::Null(*null),
            AttributeValue::M(map) => Attr::M(ItemView::of_item(map)),
            AttributeValue::L(items) => Attr::L(items.iter().map(Attr::of_value).collect()),
            AttributeValue::Ss(items) => Attr::Ss(borrowed(items)),
            AttributeValue::Ns(items) => Attr::Ns(borrowed(items)),
            AttributeValue::Bs(items) => Attr::Bs(items.clone()),
        }
    }

    pub fn to_value(&self) -> AttributeValue {
        let owned = |items: &[Cow<str>]| items.iter().map(|s| s.to_string()).collect();
        match self {
            Attr::N(n) => AttributeValue::N(n.to_string()),
            Attr::S(s) => AttributeValue::S(s.to_string()),
            Attr::Bool(b) => AttributeValue::Bool(*b),
            Attr::B(bytes) => AttributeValue::B(bytes.clone()),
            Attr::Null(null) => AttributeValue::Null(*null),
            Attr::M(map) => AttributeValue::M(map.to_item()),
            Attr::L(items) => AttributeValue::L(items.iter().map(Attr::to_value).collect()),
            Attr::Ss(items) => AttributeValue::Ss(owned(items)),
            Attr::Ns(items) => AttributeValue::Ns(owned(items)),
            Attr::Bs(items) => AttributeValue::Bs(items.clone()),
        }
    }

    /// The DynamoDB JSON type tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            Attr::N(_) => "N",
            Attr::S(_) => "S",
            Attr::Bool(_) => "BOOL",
            Attr::B(_) => "B",
            Attr::Null(_) => "NULL",
            Attr::M(_) => "M",
            Attr::L(_) => "L",
            Attr::Ss(_) => "SS",
            Attr::Ns(_) => "NS",
            Attr::Bs(_) => "BS",
        }
    }
}

fn texts(items: Vec<Text<'_>>) -> Vec<Cow<'_, str>> {
    items.into_iter().map(|t| t.0).collect()
}

fn base64<E: de::Error>(text: &str) -> Result<Vec<u8>, E> {
    STANDARD
        .decode(text)
        .map_err(|err| E::custom(format!("Failed to decode base64: {err}")))
}

impl<'de: 'a, 'a> Deserialize<'de> for Attr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AttrVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for AttrVisitor<'a> {
            type Value = Attr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    r#"an object with a single key "N", "S", "BOOL", "B", "NULL", "M", "L", "SS", "NS", or "BS""#,
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attr<'a>, A::Error> {
                let Some(tag) = map.next_key::<Text>()? else {
                    return Err(de::Error::custom("Expected exactly one key in the object, found none"));
                };
                let value = match tag.as_str() {
                    "N" => Attr::N(map.next_value::<Text>()?.0),
                    "S" => Attr::S(map.next_value::<Text>()?.0),
                    "BOOL" => Attr::Bool(map.next_value()?),
                    "B" => Attr::B(base64(map.next_value::<Text>()?.as_str())?),
                    "NULL" => Attr::Null(map.next_value()?),
                    "M" => Attr::M(map.next_value()?),
                    "L" => Attr::L(map.next_value()?),
                    "SS" => Attr::Ss(texts(map.next_value()?)),
                    "NS" => Attr::Ns(texts(map.next_value()?)),
                    "BS" => Attr::Bs(
                        map.next_value::<Vec<Text>>()?
                            .iter()
                            .map(|t| base64(t.as_str()))
                            .collect::<Result<_, _>>()?,
                    ),
                    other => {
                        return Err(de::Error::custom(format!(
                            "The key '{other}' is not a known DynamoDB prefix"
                        )));
                    }
                };
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(
                        "Expected exactly one key in the object, found multiple keys",
                    ));
                }
                Ok(value)
            }
        }
        deserializer.deserialize_map(AttrVisitor(PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ItemView<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ItemVisitor<'a> {
            type Value = ItemView<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ItemView<'a>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(16).min(64));
                while let Some((key, value)) = map.next_entry::<Text, Attr>()? {
                    entries.push((key.0, value));
                }
                Ok(ItemView { entries })
            }
        }
        deserializer.deserialize_map(ItemVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_found_by_all_of_it() {
        let long = "n".repeat(300);
        let longer = "n".repeat(301);
        let view = ItemView::from_entries(
            [
                ("merchant_a", "1"),
                ("merchant_b", "2"),
                ("abcdefg", "3"),
                ("abcdefgh", "4"),
                ("", "5"),
                (long.as_str(), "6"),
                (longer.as_str(), "7"),
                ("merchant_a", "8"),
                ("é€", "9"),
            ]
            .into_iter()
            .map(|(name, value)| (Cow::Borrowed(name), Attr::S(Cow::Borrowed(value))))
            .collect(),
        );
        let value = |name: &str| match view.get(name) {
            Some(Attr::S(text)) => Some(text.to_string()),
            _ => None,
        };
        assert_eq!(
            value("merchant_a").as_deref(),
            Some("8"),
            "the last of a name given twice"
        );
        assert_eq!(value("merchant_b").as_deref(), Some("2"));
        assert_eq!(value("merchant_c"), None);
        assert_eq!(value("abcdefg").as_deref(), Some("3"));
        assert_eq!(value("abcdefgh").as_deref(), Some("4"));
        assert_eq!(value("abcdefgi"), None);
        assert_eq!(value("abcdef"), None);
        assert_eq!(value("").as_deref(), Some("5"));
        assert_eq!(value(&long).as_deref(), Some("6"));
        assert_eq!(value(&longer).as_deref(), Some("7"));
        assert_eq!(value(&"n".repeat(302)), None);
        assert_eq!(value("é€").as_deref(), Some("9"));
        assert_eq!(value("é"), None);
        assert_eq!(view.iter().count(), 8);
    }

    /// Both readings of the same text: what serde_dynamo makes of it, and this view.
    fn both(text: &str) -> (Result<Attributes, String>, Result<Attributes, String>) {
        let owned = serde_json::from_str::<serde_dynamo::Item>(text)
            .map(|item| item.into_inner())
            .map_err(|e| e.to_string());
        let viewed = serde_json::from_str::<ItemView>(text)
            .map(|view| view.to_item())
            .map_err(|e| e.to_string());
        (owned, viewed)
    }

    #[test]
    fn the_view_reads_every_type_as_serde_dynamo_does() {
        let text = r#"{"n":{"N":"1.50"},"s":{"S":"caf\u00e9 \"x\""},"b":{"BOOL":true},"bin":{"B":"AAEC"},
            "null":{"NULL":true},"m":{"M":{"inner":{"L":[{"S":"a"},{"N":"2"}]}}},
            "ss":{"SS":["a","b"]},"ns":{"NS":["1","2"]},"bs":{"BS":["AA==","AQ=="]}}"#;
        let (owned, viewed) = both(text);
        assert_eq!(owned.as_ref().unwrap(), viewed.as_ref().unwrap());
        assert_eq!(owned.unwrap().len(), 9);
    }

    #[test]
    fn the_view_refuses_what_serde_dynamo_refuses() {
        for text in [
            r#"{"a":{}}"#,
            r#"{"a":{"S":"x","N":"1"}}"#,
            r#"{"a":{"X":"1"}}"#,
            r#"{"a":{"S":1}}"#,
            r#"{"a":{"B":"not base64!"}}"#,
            r#"{"a":{"BOOL":"true"}}"#,
            r#"{"a":{"L":{"S":"x"}}}"#,
            r#"{"a":{"SS":[1]}}"#,
            r#"{"a":"plain"}"#,
            r#"[]"#,
        ] {
            let (owned, viewed) = both(text);
            assert!(owned.is_err(), "serde_dynamo takes {text}");
            assert!(viewed.is_err(), "the view takes {text}");
        }
    }

    #[test]
    fn a_name_given_twice_keeps_its_last_value() {
        let text = r#"{"a":{"S":"first"},"b":{"N":"1"},"a":{"S":"last"}}"#;
        let (owned, viewed) = both(text);
        assert_eq!(owned.unwrap(), viewed.clone().unwrap());
        let view: ItemView = serde_json::from_str(text).unwrap();
        assert_eq!(view.get("a"), Some(&Attr::S("last".into())));
        let names: Vec<&str> = view.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["b", "a"]);
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let text = r#"{"plain":{"S":"abc"},"escaped":{"S":"a\nb"}}"#;
        let view: ItemView = serde_json::from_str(text).unwrap();
        assert!(matches!(view.get("plain"), Some(Attr::S(Cow::Borrowed("abc")))));
        assert!(matches!(view.get("escaped"), Some(Attr::S(Cow::Owned(s))) if s == "a\nb"));
    }
}
