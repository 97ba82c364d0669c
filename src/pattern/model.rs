//! The compiled form of a pattern: nothing in it is re-parsed when an event is matched.

use super::number::Micros;
use super::text::Wildcard;

#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub(crate) root: ObjectPattern,
}

/// The fields of one JSON object level: every field must match (AND), and each `$or` group
/// at this level must have at least one matching alternative.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ObjectPattern {
    pub fields: Vec<(String, FieldPattern)>,
    pub any_of: Vec<Vec<ObjectPattern>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldPattern {
    /// A leaf: the event value must match one of these (OR).
    Leaf(Vec<Matcher>),
    Object(ObjectPattern),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    String(String),
    /// A JSON number: equal in value within the numeric range, else equal as JSON numbers.
    Number(serde_json::Number, Option<Micros>),
    Bool(bool),
    Null,
    Prefix(String),
    /// Stored lower-cased.
    PrefixIgnoreCase(String),
    Suffix(String),
    SuffixIgnoreCase(String),
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    AnythingBut(AnythingBut),
    Numeric(NumericRange),
    Cidr(Cidr),
    Exists(bool),
}

/// What anything-but excludes. It matches any present leaf value that is not excluded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnythingBut {
    Strings(Vec<String>),
    Numbers(Vec<Micros>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    /// Stored lower-cased.
    IgnoreCase(Vec<String>),
    Wildcards(Vec<Wildcard>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bound {
    pub value: Micros,
    pub inclusive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NumericRange {
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
}

impl NumericRange {
    pub fn contains(&self, value: Micros) -> bool {
        let above = self
            .lower
            .is_none_or(|b| if b.inclusive { value >= b.value } else { value > b.value });
        let below = self
            .upper
            .is_none_or(|b| if b.inclusive { value <= b.value } else { value < b.value });
        above && below
    }
}

/// A network: the address with its host bits cleared, and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    pub network: std::net::IpAddr,
    pub prefix_len: u8,
}

impl Cidr {
    pub fn contains(&self, address: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        match (self.network, address) {
            (V4(network), V4(address)) => mask_u32(u32::from(address), self.prefix_len) == u32::from(network),
            (V6(network), V6(address)) => mask_u128(u128::from(address), self.prefix_len) == u128::from(network),
            _ => false,
        }
    }
}

pub(crate) fn mask_u32(bits: u32, prefix_len: u8) -> u32 {
    if prefix_len == 0 {
        0
    } else {
        bits & (u32::MAX << (32 - u32::from(prefix_len)))
    }
}

pub(crate) fn mask_u128(bits: u128, prefix_len: u8) -> u128 {
    if prefix_len == 0 {
        0
    } else {
        bits & (u128::MAX << (128 - u32::from(prefix_len)))
    }
}
