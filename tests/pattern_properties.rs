//! Properties of the event-pattern matcher.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use txn_notify::pattern::{Pattern, PatternSet, Projection};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-zA-Z0-9 ._*\\\\-]{0,12}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
        (-1_000_000_000i64..=1_000_000_000).prop_map(|n| json!(n)),
        (-1.0e6f64..1.0e6).prop_map(|f| json!(f)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec!["a", "b", "c", "detail", "kind", "amount"]).prop_map(str::to_string),
        "[a-z]{1,6}"
    ]
}

fn event_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(key(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(key(), event_value(), 1..6).prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// How a leaf of the event is turned into a matcher that must accept it.
#[derive(Debug, Clone, Copy)]
enum Style {
    Exact,
    Operator,
}

fn escape_wildcard(text: &str) -> String {
    text.replace('\\', "\\\\").replace('*', "\\*")
}

fn accepting_matcher(value: &Value, style: Style, salt: usize) -> Value {
    match (style, value) {
        (Style::Exact, v) => v.clone(),
        (Style::Operator, Value::String(s)) => {
            let cut = s
                .char_indices()
                .map(|(i, _)| i)
                .nth(salt % (s.chars().count() + 1))
                .unwrap_or(s.len());
            match salt % 5 {
                0 => json!({"prefix": &s[..cut]}),
                1 => json!({"suffix": &s[cut..]}),
                2 => json!({"wildcard": format!("{}*{}", escape_wildcard(&s[..cut]), escape_wildcard(&s[cut..]))}),
                3 => json!({"anything-but": format!("{s}~")}),
                _ => json!({"exists": true}),
            }
        }
        (Style::Operator, Value::Number(n)) if n.as_i64().is_some_and(|i| i.abs() <= 1_000_000_000) => match salt % 3 {
            0 => json!({"numeric": ["=", n]}),
            1 => json!({"numeric": [">=", n]}),
            _ => json!({"numeric": ["<=", n]}),
        },
        (Style::Operator, _) => json!({"exists": true}),
    }
}

/// A pattern from the event's own values: objects mirrored, one leaf of each array.
/// Arrays of objects take one element, whose fields then combine with each other only.
fn pattern_from(value: &Value, style: Style, salt: &mut usize) -> Option<Value> {
    *salt += 1;
    match value {
        Value::Object(map) => {
            let fields: Map<String, Value> = map
                .iter()
                .filter_map(|(k, v)| pattern_from(v, style, salt).map(|p| (k.clone(), p)))
                .collect();
            (!fields.is_empty()).then_some(Value::Object(fields))
        }
        Value::Array(items) => items.iter().find_map(|item| pattern_from(item, style, salt)),
        scalar => Some(json!([accepting_matcher(scalar, style, *salt)])),
    }
}

fn runtime_free_set(patterns: &[Pattern]) -> PatternSet<usize> {
    PatternSet::build(patterns.iter().cloned().enumerate().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_pattern_built_from_an_event_matches_it(event in event(), operators in any::<bool>(), salt in 0usize..1000) {
        let style = if operators { Style::Operator } else { Style::Exact };
        let mut salt = salt;
        let Some(pattern) = pattern_from(&event, style, &mut salt) else { return Ok(()) };
        let compiled = Pattern::parse(&pattern).map_err(|e| TestCaseError::fail(format!("{e}: {pattern}")))?;
        prop_assert!(compiled.matches(&event), "pattern {} does not match {}", pattern, event);
    }

    #[test]
    fn anything_but_a_value_never_matches_that_value(value in scalar(), others in proptest::collection::vec("[a-z]{1,4}", 0..3)) {
        let excluded = match &value {
            Value::String(_) => {
                let mut list: Vec<Value> = others.iter().map(|s| json!(s)).collect();
                list.push(value.clone());
                json!(list)
            }
            Value::Number(n) if n.as_f64().is_some_and(|f| f.abs() <= 1.0e9) => value.clone(),
            _ => return Ok(()),
        };
        let pattern = Pattern::parse(&json!({"field": [{"anything-but": excluded}]})).unwrap();
        let single = json!({"field": value.clone()});
        let repeated = json!({"field": [value.clone(), value]});
        prop_assert!(!pattern.matches(&single), "{}", single);
        prop_assert!(!pattern.matches(&repeated), "{}", repeated);
    }

    #[test]
    fn a_pattern_set_finds_exactly_the_patterns_that_match(
        patterns in proptest::collection::vec(
            (proptest::sample::subsequence(vec!["txn-notify", "aws.ec2", "other"], 0..=2),
             proptest::sample::subsequence(vec!["Transaction Recorded", "Low Balance", "Account Opened"], 0..=2),
             event_value(), any::<bool>(), 0usize..100),
            1..12),
        events in proptest::collection::vec(
            (proptest::sample::select(vec!["txn-notify", "aws.ec2", "other"]),
             proptest::sample::select(vec!["Transaction Recorded", "Low Balance", "Account Opened"]),
             event_value()),
            1..8),
    ) {
        let compiled: Vec<Pattern> = patterns
            .iter()
            .filter_map(|(sources, types, detail, operators, salt)| {
                let mut pattern = Map::new();
                if !sources.is_empty() { pattern.insert("source".into(), json!(sources)); }
                if !types.is_empty() { pattern.insert("detail-type".into(), json!(types)); }
                let style = if *operators { Style::Operator } else { Style::Exact };
                if let Some(detail_pattern) = pattern_from(detail, style, &mut salt.clone()) {
                    pattern.insert("detail".into(), detail_pattern);
                }
                (!pattern.is_empty()).then(|| Pattern::parse(&Value::Object(pattern)).ok()).flatten()
            })
            .collect();
        let set = runtime_free_set(&compiled);
        for (source, detail_type, detail) in &events {
            let event = json!({"source": source, "detail-type": detail_type, "detail": detail});
            let expected: Vec<usize> = (0..compiled.len()).filter(|&i| compiled[i].matches(&event)).collect();
            let found: Vec<usize> = set.matching(&event).into_iter().copied().collect();
            prop_assert_eq!(&found, &expected);
            // What all the patterns read of the event is all each of them needs.
            let projected = Projection::of(&compiled).project(&event.to_string()).unwrap();
            let on_projection: Vec<usize> = (0..compiled.len()).filter(|&i| compiled[i].matches(&projected)).collect();
            prop_assert_eq!(on_projection, expected, "projection {}", projected);
        }
    }
}
