//! Many patterns at once. Each pattern is compiled once; events are matched against an
//! index of exact string values ("anchors"), so an event is fully evaluated only against
//! the patterns that can possibly match it.

use std::collections::HashMap;

use serde_json::Value;

use super::model::{FieldPattern, Matcher, ObjectPattern, Pattern};

pub struct PatternSet<Id> {
    patterns: Vec<(Id, Pattern)>,
    /// Per anchor path, exact string value → patterns anchored on it.
    anchors: Vec<(Vec<String>, HashMap<String, Vec<usize>>)>,
    /// Patterns without an anchor: always evaluated.
    unanchored: Vec<usize>,
}

impl<Id> Default for PatternSet<Id> {
    fn default() -> Self {
        PatternSet {
            patterns: Vec::new(),
            anchors: Vec::new(),
            unanchored: Vec::new(),
        }
    }
}

/// Paths (outside any `$or`, through objects only) whose leaf holds only exact strings:
/// an event can match the pattern only if its value there is one of those strings.
fn anchor_candidates<'a>(object: &'a ObjectPattern, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, &'a [Matcher])>) {
    for (key, field) in &object.fields {
        prefix.push(key.clone());
        match field {
            FieldPattern::Leaf(matchers) if matchers.iter().all(|m| matches!(m, Matcher::String(_))) => {
                out.push((prefix.clone(), matchers));
            }
            FieldPattern::Leaf(_) => {}
            FieldPattern::Object(inner) => anchor_candidates(inner, prefix, out),
        }
        prefix.pop();
    }
}

impl<Id> PatternSet<Id> {
    pub fn new() -> Self {
        PatternSet::default()
    }

    /// Builds the set; each pattern is anchored on the path most patterns share, so that
    /// an event needs few index look-ups.
    pub fn build(patterns: Vec<(Id, Pattern)>) -> Self {
        let candidates: Vec<Vec<(Vec<String>, &[Matcher])>> = patterns
            .iter()
            .map(|(_, pattern)| {
                let mut out = Vec::new();
                anchor_candidates(&pattern.root, &mut Vec::new(), &mut out);
                out
            })
            .collect();
        let mut popularity: HashMap<&Vec<String>, usize> = HashMap::new();
        for per_pattern in &candidates {
            for (path, _) in per_pattern {
                *popularity.entry(path).or_default() += 1;
            }
        }
        let mut anchors: Vec<(Vec<String>, HashMap<String, Vec<usize>>)> = Vec::new();
        let mut unanchored = Vec::new();
        for (index, per_pattern) in candidates.iter().enumerate() {
            // The most shared path; among equals, the one with the fewest values.
            let best = per_pattern
                .iter()
                .max_by_key(|(path, matchers)| (popularity[path], std::cmp::Reverse(matchers.len())));
            let Some((path, matchers)) = best else {
                unanchored.push(index);
                continue;
            };
            let slot = match anchors.iter().position(|(p, _)| p == path) {
                Some(slot) => slot,
                None => {
                    anchors.push((path.clone(), HashMap::new()));
                    anchors.len() - 1
                }
            };
            for matcher in *matchers {
                if let Matcher::String(value) = matcher {
                    let list = anchors[slot].1.entry(value.clone()).or_default();
                    if list.last() != Some(&index) {
                        list.push(index);
                    }
                }
            }
        }
        drop(candidates);
        PatternSet {
            patterns,
            anchors,
            unanchored,
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
        let mut indices = Vec::new();
        self.matching_indices(event, &mut indices);
        indices.into_iter().map(|i| &self.patterns[i].0).collect()
    }

    /// Like `matching`, into a reusable buffer of pattern positions.
    pub fn matching_indices(&self, event: &Value, out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(&self.unanchored);
        for (path, by_value) in &self.anchors {
            for_each_string_at(event, path, &mut |text| {
                if let Some(list) = by_value.get(text) {
                    out.extend_from_slice(list);
                }
            });
        }
        out.sort_unstable();
        out.dedup();
        out.retain(|&i| self.patterns[i].1.matches(event));
    }

    pub fn id(&self, index: usize) -> &Id {
        &self.patterns[index].0
    }
}

/// Every string found at `path`, through objects and any arrays on the way.
fn for_each_string_at(value: &Value, path: &[String], visit: &mut impl FnMut(&str)) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| for_each_string_at(item, path, visit)),
        Value::Object(map) => {
            if let Some((first, rest)) = path.split_first()
                && let Some(next) = map.get(first)
            {
                for_each_string_at(next, rest, visit);
            }
        }
        Value::String(text) if path.is_empty() => visit(text),
        _ => {}
    }
}
