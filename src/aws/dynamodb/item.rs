//! Items between the SDK's attribute values and the domain's (serde_dynamo's). Written out
//! rather than taken from serde_dynamo's SDK feature, whose conversion panics on an
//! attribute type it does not know; here such a value becomes NULL, which the decoders
//! then reject as a wrong type, like any other bad item.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue as Sdk;
use serde_dynamo::{AttributeValue as Domain, Item};

pub type SdkItem = HashMap<String, Sdk>;

pub fn to_sdk(item: Item) -> SdkItem {
    let map: HashMap<String, Domain> = item.into();
    map.into_iter()
        .map(|(name, value)| (name, value_to_sdk(value)))
        .collect()
}

pub fn from_sdk(item: SdkItem) -> Item {
    let map: HashMap<String, Domain> = item
        .into_iter()
        .map(|(name, value)| (name, value_from_sdk(value)))
        .collect();
    Item::from(map)
}

fn value_to_sdk(value: Domain) -> Sdk {
    match value {
        Domain::N(n) => Sdk::N(n),
        Domain::S(s) => Sdk::S(s),
        Domain::Bool(b) => Sdk::Bool(b),
        Domain::B(b) => Sdk::B(Blob::new(b)),
        Domain::Null(n) => Sdk::Null(n),
        Domain::M(m) => Sdk::M(m.into_iter().map(|(k, v)| (k, value_to_sdk(v))).collect()),
        Domain::L(l) => Sdk::L(l.into_iter().map(value_to_sdk).collect()),
        Domain::Ss(ss) => Sdk::Ss(ss),
        Domain::Ns(ns) => Sdk::Ns(ns),
        Domain::Bs(bs) => Sdk::Bs(bs.into_iter().map(Blob::new).collect()),
    }
}

fn value_from_sdk(value: Sdk) -> Domain {
    match value {
        Sdk::N(n) => Domain::N(n),
        Sdk::S(s) => Domain::S(s),
        Sdk::Bool(b) => Domain::Bool(b),
        Sdk::B(b) => Domain::B(b.into_inner()),
        Sdk::Null(n) => Domain::Null(n),
        Sdk::M(m) => Domain::M(m.into_iter().map(|(k, v)| (k, value_from_sdk(v))).collect()),
        Sdk::L(l) => Domain::L(l.into_iter().map(value_from_sdk).collect()),
        Sdk::Ss(ss) => Domain::Ss(ss),
        Sdk::Ns(ns) => Domain::Ns(ns),
        Sdk::Bs(bs) => Domain::Bs(bs.into_iter().map(Blob::into_inner).collect()),
        _ => Domain::Null(true),
    }
}

/// A string attribute of an SDK item.
pub fn string<'a>(item: &'a SdkItem, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(Sdk::S(s)) => Some(s),
        _ => None,
    }
}

pub fn s(value: impl Into<String>) -> Sdk {
    Sdk::S(value.into())
}

pub fn n(value: i64) -> Sdk {
    Sdk::N(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attribute_type_round_trips() {
        let domain: HashMap<String, Domain> = HashMap::from([
            ("n".into(), Domain::N("-12.50".into())),
            ("s".into(), Domain::S("é".into())),
            ("b".into(), Domain::B(vec![0, 255])),
            ("t".into(), Domain::Bool(true)),
            ("z".into(), Domain::Null(true)),
            (
                "l".into(),
                Domain::L(vec![Domain::S("x".into()), Domain::N("1".into())]),
            ),
            (
                "m".into(),
                Domain::M(HashMap::from([("k".into(), Domain::S("v".into()))])),
            ),
            ("ss".into(), Domain::Ss(vec!["a".into(), "b".into()])),
            ("ns".into(), Domain::Ns(vec!["1".into()])),
            ("bs".into(), Domain::Bs(vec![vec![1]])),
        ]);
        let item = Item::from(domain.clone());
        let back: HashMap<String, Domain> = from_sdk(to_sdk(item)).into();
        assert_eq!(back, domain);
    }
}
