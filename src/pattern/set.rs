//! Many patterns at once. Each pattern is compiled once and indexed by one exact-string
//! field (outside `$or`): the shallowest of its selective ones. An event is fully evaluated
//! only against the patterns whose indexed field holds one of the pattern's values, a
//! necessary condition; patterns with no exact-string field are always evaluated.
//!
//! Why one shallow field: each indexed path costs every event a walk through its maps (cache
//! misses, on events just off the wire), while the full evaluation of a candidate re-reads
//! fields already in cache. A field most patterns share (`source` on a bus of one producer)
//! is not chosen while a selective one exists: its long list of patterns would prune nothing.

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::model::{FieldPattern, Matcher, ObjectPattern, Pattern};

pub struct PatternSet<Id> {
    patterns: Vec<(Id, Pattern)>,
    /// The indexed paths as a trie, so that an event walks each shared prefix once.
    index: IndexNode,
    /// Patterns without an exact-string field: always evaluated.
    unindexed: Vec<usize>,
}

/// One step of the indexed paths: deeper steps by field name and, where a path ends here,
/// exact value → the patterns indexed on it.
#[derive(Default)]
struct IndexNode {
    children: Vec<(String, IndexNode)>,
    values: FxHashMap<String, Vec<usize>>,
}

impl IndexNode {
    fn node_at(&mut self, path: &[String]) -> &mut IndexNode {
        let Some((first, rest)) = path.split_first() else {
            return self;
        };
        let index = match self.children.iter().position(|(name, _)| name == first) {
            Some(index) => index,
            None => {
                self.children.push((first.clone(), IndexNode::default()));
                self.children.len() - 1
            }
        };
        self.children[index].1.node_at(rest)
    }

    /// The patterns indexed on the values found along this node's paths, through objects and
    /// any arrays on the way.
    fn collect(&self, value: &Value, out: &mut Vec<usize>) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.collect(item, out)),
            Value::Object(map) => {
                for (name, child) in &self.children {
                    if let Some(next) = map.get(name) {
                        child.collect(next, out);
                    }
                }
            }
            Value::String(text) => {
                if let Some(patterns) = self.values.get(text.as_str()) {
                    out.extend_from_slice(patterns);
                }
            }
            _ => {}
        }
    }
}

/// A reusable buffer, so that matching allocates nothing per event.
#[derive(Default)]
pub struct Scratch {
    /// The positions of the matching patterns, in order, after `PatternSet::matching_into`.
    pub matched: Vec<usize>,
}

/// Paths (outside any `$or`, through objects only) whose leaf holds only exact strings: an
/// event matches the pattern only if its value there is one of those strings.
fn exact_fields<'a>(object: &'a ObjectPattern, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, &'a [Matcher])>) {
    for (key, field) in &object.fields {
        prefix.push(key.clone());
        match field {
            FieldPattern::Leaf(matchers) if matchers.iter().all(|m| matches!(m, Matcher::String(_))) => {
                out.push((prefix.clone(), matchers));
            }
            FieldPattern::Leaf(_) => {}
            FieldPattern::Object(inner) => exact_fields(inner, prefix, out),
        }
        prefix.pop();
    }
}

fn exact_values(matchers: &[Matcher]) -> impl Iterator<Item = &str> {
    matchers.iter().filter_map(|m| match m {
        Matcher::String(value) => Some(value.as_str()),
        _ => None,
    })
}

impl<Id> Default for PatternSet<Id> {
    fn default() -> Self {
        PatternSet::build(Vec::new())
    }
}

impl<Id> PatternSet<Id> {
    pub fn build(patterns: Vec<(Id, Pattern)>) -> Self {
        let per_pattern: Vec<Vec<(Vec<String>, &[Matcher])>> = patterns
            .iter()
            .map(|(_, pattern)| {
                let mut fields = Vec::new();
                exact_fields(&pattern.root, &mut Vec::new(), &mut fields);
                fields
            })
            .collect();
        // How many patterns list each (path, value): the length of its posting list.
        let mut sharing: FxHashMap<(&[String], &str), usize> = FxHashMap::default();
        for fields in &per_pattern {
            for (path, matchers) in fields {
                for value in exact_values(matchers) {
                    *sharing.entry((path.as_slice(), value)).or_default() += 1;
                }
            }
        }
        let cost = |path: &[String], matchers: &[Matcher]| -> usize {
            exact_values(matchers).map(|value| sharing[&(path, value)]).sum()
        };
        let selective_enough = (patterns.len() / 4).max(16);
        let mut index = IndexNode::default();
        let mut unindexed = Vec::new();
        for (position, fields) in per_pattern.iter().enumerate() {
            let chosen = fields.iter().min_by_key(|(path, matchers)| {
                let cost = cost(path, matchers);
                (cost > selective_enough, path.len(), cost)
            });
            let Some((path, matchers)) = chosen else {
                unindexed.push(position);
                continue;
            };
            let node = index.node_at(path);
            for value in exact_values(matchers) {
                let list = node.values.entry(value.to_string()).or_default();
                if list.last() != Some(&position) {
                    list.push(position);
                }
            }
        }
        drop(per_pattern);
        PatternSet {
            patterns,
            index,
            unindexed,
        }
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The ids of the patterns the event matches, in the order they were given.
    pub fn matching(&self, event: &Value) -> Vec<&Id> {
        let mut scratch = Scratch::default();
        self.matching_into(event, &mut scratch);
        scratch.matched.iter().map(|&i| &self.patterns[i].0).collect()
    }

    /// Fills `scratch.matched` with the positions of the matching patterns, in order.
    pub fn matching_into(&self, event: &Value, scratch: &mut Scratch) {
        let out = &mut scratch.matched;
        out.clear();
        out.extend_from_slice(&self.unindexed);
        self.index.collect(event, out);
        out.sort_unstable();
        out.dedup();
        out.retain(|&i| self.patterns[i].1.matches(event));
    }

    pub fn id(&self, position: usize) -> &Id {
        &self.patterns[position].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(patterns: &[(&'static str, Value)]) -> PatternSet<&'static str> {
        PatternSet::build(
            patterns
                .iter()
                .map(|(id, p)| (*id, Pattern::parse(p).unwrap()))
                .collect(),
        )
    }

    #[test]
    fn returns_the_ids_of_matching_patterns_in_the_order_given() {
        let rules = set(&[
            (
                "notifier",
                json!({"source": ["txn-notify"], "detail-type": ["Transaction Recorded", "Account Opened"]}),
            ),
            ("auditor", json!({"source": ["txn-notify"]})),
            (
                "big-spend",
                json!({"detail": {"transaction": {"amount_minor": [{"numeric": [">=", 100000]}]}}}),
            ),
            ("ec2", json!({"source": ["aws.ec2"]})),
        ]);
        let event = json!({"source": "txn-notify", "detail-type": "Transaction Recorded", "detail": {"transaction": {"amount_minor": 250000}}});
        assert_eq!(rules.matching(&event), [&"notifier", &"auditor", &"big-spend"]);
        let small = json!({"source": "txn-notify", "detail-type": "Low Balance", "detail": {"transaction": {"amount_minor": 5}}});
        assert_eq!(rules.matching(&small), [&"auditor"]);
        assert!(rules.matching(&json!({"source": "aws.s3"})).is_empty());
    }

    #[test]
    fn array_values_in_the_event_reach_the_index() {
        let rules = set(&[("tagged", json!({"detail": {"tags": ["vip"]}}))]);
        assert_eq!(
            rules.matching(&json!({"detail": {"tags": ["new", "vip"]}})),
            [&"tagged"]
        );
        assert_eq!(
            rules.matching(&json!({"detail": [{"tags": "x"}, {"tags": "vip"}]})),
            [&"tagged"]
        );
        assert!(rules.matching(&json!({"detail": {"tags": ["new"]}})).is_empty());
    }

    #[test]
    fn an_empty_set_matches_nothing() {
        let rules: PatternSet<u32> = PatternSet::default();
        assert!(rules.is_empty() && rules.matching(&json!({"a": 1})).is_empty());
    }
}
