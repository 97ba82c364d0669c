//! The conformance suite of the event-pattern matcher: tests/data/pattern-conformance.json
//! holds cases (pattern, event, expected result, or the error an invalid pattern must give)
//! drawn from the EventBridge documentation's examples, event-ruler's README, and each
//! operator's rules. Every failing case is reported, not only the first. Each case is also
//! matched on the event's projection (the fields its pattern reads), as the embedded bus
//! matches.

use serde_json::Value;
use txn_notify::pattern::{Pattern, Projection};

#[test]
fn every_conformance_case_holds() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pattern-conformance.json");
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(cases.len() >= 200, "the suite holds at least 200 cases");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let parsed = Pattern::parse(&case["pattern"]);
        match (case.get("error"), parsed) {
            (Some(fragment), Ok(_)) => failures.push(format!("{name}: accepted, expected an error with {fragment}")),
            (Some(fragment), Err(error)) => {
                let fragment = fragment.as_str().unwrap();
                if !error.to_string().contains(fragment) {
                    failures.push(format!("{name}: error {error:?} lacks {fragment:?}"));
                }
            }
            (None, Err(error)) => failures.push(format!("{name}: rejected: {error}")),
            (None, Ok(pattern)) => {
                let expected = case["match"].as_bool().unwrap();
                if pattern.matches(&case["event"]) != expected {
                    failures.push(format!("{name}: expected {expected}"));
                }
                // What the pattern reads of the event is all it needs.
                let projected = Projection::of([&pattern]).project(&case["event"].to_string()).unwrap();
                if pattern.matches(&projected) != expected {
                    failures.push(format!("{name}: on its projection {projected}, expected {expected}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
