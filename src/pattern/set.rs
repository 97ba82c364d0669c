//! Many patterns at once. Each pattern is compiled once. The selective exact-string fields
//! of each pattern (outside `$or`) are indexed; an event is fully evaluated only against
//! the patterns whose indexed fields all hold one of the pattern's values, a necessary
//! condition. A field most patterns share (`source` on a bus of one producer) is not indexed:
//! walking its long list of patterns would cost more than it prunes.

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::model::{FieldPattern, Matcher, ObjectPattern, Pattern};

/// At most this many indexed fields per pattern (one bit each); further ones are only
/// checked by the full evaluation.
const MAX_INDEXED_FIELDS: usize = 64;

pub struct PatternSet<Id> {
    patterns: Vec<(Id, Pattern)>,
    /// The indexed paths as a trie, so that an event walks each shared prefix once.
    index: IndexNode,
    /// Per pattern, the bits of its indexed fields; 0 when it has none.
    required: Vec<u64>,
    /// Patterns without an indexed field: always evaluated.
    unindexed: Vec<usize>,
}

/// One step of the indexed paths: deeper steps by field name, and where a path ends here,
/// exact value → (pattern, bit of that field in the pattern).
#[derive(Default)]
struct IndexNode {
    children: Vec<(String, IndexNode)>,
    values: FxHashMap<String, Vec<(u32, u8)>>,
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

    fn collect(&self, value: &Value, scratch: &mut Scratch) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.collect(item, scratch)),
            Value::Object(map) => {
                for (name, child) in &self.children {
                    if let Some(next) = map.get(name) {
                        child.collect(next, scratch);
                    }
                }
            }
            Value::String(text) => {
                for &(pattern, bit) in self.values.get(text.as_str()).map_or(&[][..], Vec::as_slice) {
                    let hits = &mut scratch.hits[pattern as usize];
                    if *hits == 0 {
                        scratch.touched.push(pattern);
                    }
                    *hits |= 1 << bit;
                }
            }
            _ => {}
        }
    }
}

/// Reusable buffers for matching, so that matching allocates nothing per event.
#[derive(Default)]
pub struct Scratch {
    hits: Vec<u64>,
    touched: Vec<u32>,
    /// The positions of the matching patterns, after `PatternSet::matching_into`.
    pub matched: Vec<usize>,
}

/// Paths (outside any `$or`, through objects only) whose leaf holds only exact strings.
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
                for matcher in *matchers {
                    if let Matcher::String(value) = matcher {
                        *sharing.entry((path.as_slice(), value.as_str())).or_default() += 1;
                    }
                }
            }
        }
        let cost = |path: &[String], matchers: &[Matcher]| -> usize {
            matchers
                .iter()
                .map(|m| match m {
                    Matcher::String(value) => sharing[&(path, value.as_str())],
                    _ => 0,
                })
                .sum()
        };
        let selective_enough = (patterns.len() / 4).max(16);
        let mut index = IndexNode::default();
        let mut required = Vec::with_capacity(patterns.len());
        let mut unindexed = Vec::new();
        for (position, fields) in per_pattern.iter().enumerate() {
            let mut fields: Vec<_> = fields.iter().map(|(path, m)| (cost(path, m), path, *m)).collect();
            fields.sort_by_key(|(cost, path, _)| (*cost, path.len()));
            let keep = fields
                .iter()
                .filter(|(cost, _, _)| *cost <= selective_enough)
                .count()
                .max(1);
            fields.truncate(keep.min(MAX_INDEXED_FIELDS));
            let fields: Vec<(&Vec<String>, &[Matcher])> = fields.into_iter().map(|(_, p, m)| (p, m)).collect();
            if fields.is_empty() {
                unindexed.push(position);
            }
            let mut mask = 0u64;
            for (bit, (path, matchers)) in fields.iter().enumerate() {
                mask |= 1 << bit;
                let node = index.node_at(path);
                for matcher in *matchers {
                    if let Matcher::String(value) = matcher {
                        let entry = (position as u32, bit as u8);
                        let list = node.values.entry(value.clone()).or_default();
                        if !list.contains(&entry) {
                            list.push(entry);
                        }
                    }
                }
            }
            required.push(mask);
        }
        PatternSet {
            patterns,
            index,
            required,
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
        scratch.hits.resize(self.patterns.len(), 0);
        scratch.matched.clear();
        scratch.matched.extend_from_slice(&self.unindexed);
        self.index.collect(event, scratch);
        for pattern in scratch.touched.drain(..) {
            let position = pattern as usize;
            if scratch.hits[position] == self.required[position] {
                scratch.matched.push(position);
            }
            scratch.hits[position] = 0;
        }
        scratch.matched.sort_unstable();
        scratch.matched.retain(|&i| self.patterns[i].1.matches(event));
    }

    pub fn id(&self, position: usize) -> &Id {
        &self.patterns[position].0
    }
}
