//! `schemas/openapi.yaml` describes the routes the code serves, the fields each body takes,
//! and every status each route can answer; sample requests validate against it.

mod common;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use txn_notify::pipeline::ingest::body::{ACCOUNT_FIELDS, PATCHABLE_FIELDS, TOP_UP_FIELDS, TRANSACTION_FIELDS};
use txn_notify::pipeline::ingest::routes::ROUTES;

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/openapi.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn schema(spec: &Value, name: &str) -> Value {
    spec["components"]["schemas"][name].clone()
}

/// The schema with every `#/components/schemas/...` reference resolvable, as a standalone document.
fn standalone(spec: &Value, name: &str) -> Value {
    let mut schema = schema(spec, name);
    let mut defs = spec["components"]["schemas"].clone();
    let retarget = |v: &mut Value| {
        let text = v.to_string().replace("#/components/schemas/", "#/$defs/");
        *v = serde_json::from_str(&text).unwrap();
    };
    retarget(&mut schema);
    retarget(&mut defs);
    schema["$defs"] = defs;
    schema
}

#[test]
fn the_paths_and_methods_are_exactly_the_routes() {
    let spec = spec();
    assert_eq!(spec["openapi"].as_str().map(|v| v.starts_with("3.")), Some(true));
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, served);
}

#[test]
fn each_route_documents_every_status_it_can_answer() {
    let spec = spec();
    let common = ["400", "401", "404", "405", "413", "503"];
    for (method, path) in ROUTES {
        let responses = &spec["paths"][path][method.to_lowercase()]["responses"];
        let mut expected: Vec<&str> = common.to_vec();
        if path.starts_with("/v1/unsubscribe/") {
            // Unsigned, no JSON: the token is checked instead of a signature.
            expected = vec!["200", "403", "404", "405", "410", "413", "503"];
        } else if *method == "POST" {
            expected.extend(["200", "201", "409", "415"]);
        } else {
            expected.push("200");
        }
        for status in expected {
            assert!(
                responses.get(status).is_some(),
                "{method} {path} does not document {status}"
            );
        }
    }
}

#[test]
fn the_body_schemas_name_exactly_the_fields_the_code_takes() {
    let spec = spec();
    for (name, fields) in [
        ("NewTransaction", TRANSACTION_FIELDS),
        ("NewAccount", ACCOUNT_FIELDS),
        ("NewTopUp", TOP_UP_FIELDS),
        ("AccountPatch", PATCHABLE_FIELDS),
    ] {
        let schema = schema(&spec, name);
        assert_eq!(
            schema["additionalProperties"], false,
            "{name} refuses unknown fields, as the code does"
        );
        let documented: BTreeSet<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(documented, fields.iter().copied().collect::<BTreeSet<_>>(), "{name}");
    }
}

#[test]
fn sample_bodies_validate_and_bad_ones_do_not() {
    let spec = spec();
    let validator = |name: &str| jsonschema::validator_for(&standalone(&spec, name)).unwrap();
    let transaction = validator("NewTransaction");
    let good = json!({
        "transaction_id": "t-1", "account_id": "acc-fr-001", "kind": "card_purchase", "status": "approved",
        "amount_minor": 4599, "currency": "EUR", "channel": "pos",
        "merchant": {"name": "Carrefour City", "mcc": "5411", "country": "FR"}
    });
    assert!(transaction.is_valid(&good));
    for (field, value) in [
        ("amount_minor", json!(0)),
        ("kind", json!("purchase")),
        ("colour", json!("red")),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        assert!(!transaction.is_valid(&bad), "{field}");
    }
    let top_up = validator("NewTopUp");
    let good = json!({"top_up_id": "tu-1", "amount_minor": 10000, "currency": "EUR", "payment_method": "card", "fee_rate": 0.015});
    assert!(top_up.is_valid(&good));
    let mut bad = good.clone();
    bad["fee_rate"] = json!(1.5);
    assert!(!top_up.is_valid(&bad));
}

#[test]
fn the_currencies_the_spec_lists_are_exactly_those_the_server_takes() {
    let spec = spec();
    let listed: Vec<String> = schema(&spec, "Currency")["enum"]
        .as_array()
        .map(|codes| codes.iter().map(|c| c.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let taken: Vec<String> = txn_notify::domain::Currency::all()
        .iter()
        .map(|c| c.code().to_string())
        .collect();
    assert!(taken.len() > 100, "{}", taken.len());
    assert_eq!(listed, taken, "enum: [{}]", taken.join(", "));
}

#[test]
fn the_time_zones_the_spec_lists_are_exactly_those_the_server_takes() {
    let spec = spec();
    let listed: Vec<String> = schema(&spec, "TimeZone")["enum"]
        .as_array()
        .map(|zones| zones.iter().map(|z| z.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let mut taken: Vec<String> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name().to_string()).collect();
    taken.sort();
    assert_eq!(listed, taken, "enum: [{}]", taken.join(", "));
}

#[test]
fn an_account_with_every_field_validates_against_the_account_schema() {
    use txn_notify::domain::{AccountStatus, EmailState, EmailStatus, Pii, UndeliverableReason};
    let spec = spec();
    let validator = jsonschema::validator_for(&standalone(&spec, "Account")).unwrap();
    let mut account = common::account("acc-1", "FR", txn_notify::domain::Currency::EUR);
    let plain = serde_json::to_value(&account).unwrap();
    assert!(
        validator.is_valid(&plain),
        "{:?}",
        validator.iter_errors(&plain).map(|e| e.to_string()).collect::<Vec<_>>()
    );
    account.status = AccountStatus::Closed;
    account.version = 4;
    account.time_zone = Some("Europe/Paris".into());
    account.thresholds.large_amount_minor = Some(50_000);
    account.preferences.min_amount_minor = Some(1_000);
    account.preferences.statement_enabled = false;
    account.previous_email = Some(Pii("old@example.com".into()));
    account.updated_at = Some(common::now());
    account.email_status = Some(EmailStatus {
        state: EmailState::Undeliverable,
        reason: UndeliverableReason::Complaint,
        since: common::now(),
        address_hash: "3f2a".into(),
    });
    let full = serde_json::to_value(&account).unwrap();
    assert!(
        validator.is_valid(&full),
        "{:?}",
        validator.iter_errors(&full).map(|e| e.to_string()).collect::<Vec<_>>()
    );
    let mut extra = full.clone();
    extra["password"] = serde_json::json!("x");
    assert!(
        !validator.is_valid(&extra),
        "the schema names every field the API returns"
    );
}
