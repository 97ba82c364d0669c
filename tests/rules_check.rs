//! Checking rules files: the built-in rules are valid, and every kind of mistake is
//! reported with the path of the offending value.

use txn_notify::rules::{DEFAULT_RULES_TOML, Rules};

fn problems(text: &str) -> Vec<String> {
    match Rules::from_toml(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

fn assert_problem(text: &str, path: &str, fragment: &str) {
    let found = problems(text);
    assert!(
        found.iter().any(|p| p.starts_with(path) && p.contains(fragment)),
        "expected {path} … {fragment} in {found:#?}"
    );
}

const MINIMAL: &str = "version = 1\n[categories]\ndefault = \"other\"\n";

#[test]
fn the_built_in_rules_are_valid() {
    assert!(problems(DEFAULT_RULES_TOML).is_empty());
    assert!(problems(MINIMAL).is_empty());
}

#[test]
fn schema_violations_name_their_path() {
    assert_problem("version = 2\n[categories]\ndefault = \"other\"\n", "/version", "");
    assert_problem(
        "version = 1\n[categories]\ndefault = \"snacks\"\n",
        "/categories/default",
        "snacks",
    );
    assert_problem(
        &format!("{MINIMAL}[[categories.by_mcc]]\ncategory = \"fuel\"\nmcc = [\"554\"]\n"),
        "/categories/by_mcc/0/mcc/0",
        "554",
    );
    assert_problem(
        &format!("{MINIMAL}[thresholds.currency.eur]\nlarge_amount_minor = 1\n"),
        "/thresholds/currency",
        "eur",
    );
    assert_problem(
        &format!("{MINIMAL}[thresholds.currency.EUR]\nlarge_amount_minor = 0\n"),
        "/thresholds/currency/EUR/large_amount_minor",
        "",
    );
    assert_problem(
        &format!("{MINIMAL}[alerts.large_transaction]\nseverity = \"loud\"\n"),
        "/alerts/large_transaction/severity",
        "loud",
    );
    assert_problem(
        &format!("{MINIMAL}[alerts.largest_transaction]\n"),
        "/alerts",
        "largest_transaction",
    );
    assert_problem("version = 1\n", "", "categories");
}

#[test]
fn semantic_mistakes_name_their_path() {
    assert_problem(
        &format!("{MINIMAL}[[categories.by_mcc]]\ncategory = \"fuel\"\nmcc = [\"5999-5000\"]\n"),
        "/categories/by_mcc/0/mcc/0",
        "backwards",
    );
    assert_problem(
        &format!("{MINIMAL}[thresholds.currency.ZZZ]\nlarge_amount_minor = 1\n"),
        "/thresholds/currency/ZZZ",
        "unknown",
    );
    assert_problem(
        &format!("{MINIMAL}[[categories.by_merchant]]\npattern = \"(unclosed\"\ncategory = \"fuel\"\n"),
        "/categories/by_merchant/0/pattern",
        "regular expression",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = format!(
        "{MINIMAL}[[categories.by_mcc]]\ncategory = \"fuel\"\nmcc = [\"5999-5000\"]\n[thresholds.currency.ZZZ]\nlarge_amount_minor = 1\n"
    );
    assert_eq!(problems(&text).len(), 2, "{:#?}", problems(&text));
}

#[test]
fn toml_syntax_errors_are_reported() {
    assert_problem("version = = 1", "", "TOML");
}
