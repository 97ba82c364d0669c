//! Properties: nothing panics on input, numbers round-trip exactly, and the publisher keeps
//! its limits and per-account order whatever the entry sizes and failures.

mod common;

use std::collections::HashMap;

use proptest::prelude::*;
use serde_dynamo::AttributeValue;
use serde_json::{Value, json};
use txn_notify::clock::FrozenClock;
use txn_notify::domain::LedgerItem;
use txn_notify::domain::{Attributes, parse_integer};
use txn_notify::domain::{Currency, Money};
use txn_notify::local::memory::{MemoryBus, MemoryLedger};
use txn_notify::pipeline::RetryPolicy;
use txn_notify::pipeline::{EntryGroup, MAX_ENTRIES_PER_CALL, MAX_REQUEST_BYTES, PublishLimits, publish};
use txn_notify::ports::BusEntry;

const FIELDS: &[&str] = &[
    "pk",
    "sk",
    "type",
    "transaction_id",
    "account_id",
    "kind",
    "status",
    "decline_reason",
    "amount_minor",
    "currency",
    "balance_after_minor",
    "channel",
    "merchant",
    "name",
    "mcc",
    "country",
    "city",
    "card_last4",
    "booked_at",
    "metadata",
    "holder",
    "first_name",
    "last_name",
    "email",
    "locale",
    "created_at",
    "thresholds",
    "preferences",
    "email_enabled",
    "muted_categories",
    "large_amount_minor",
    "min_amount_minor",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("TXN".to_string()),
        Just("ACCOUNT".to_string()),
        Just("ACCOUNT#acc-1".to_string()),
        Just("card_purchase".to_string()),
        Just("approved".to_string()),
        Just("EUR".to_string()),
        Just("pos".to_string()),
        Just("5411".to_string()),
        Just("FR".to_string()),
        Just("2026-11-20T10:00:00Z".to_string()),
        "[0-9]{1,25}",
        "-?[0-9]{0,20}(\\.[0-9]{0,5})?([eE][-+]?[0-9]{0,4})?",
        any::<String>(),
    ]
}

fn attribute_value() -> impl Strategy<Value = AttributeValue> {
    let leaf = prop_oneof![
        text().prop_map(AttributeValue::S),
        text().prop_map(AttributeValue::N),
        any::<bool>().prop_map(AttributeValue::Bool),
        any::<bool>().prop_map(AttributeValue::Null),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(AttributeValue::B),
        proptest::collection::vec(text(), 0..3).prop_map(AttributeValue::Ss),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
            proptest::collection::hash_map(field_name(), inner, 0..6).prop_map(AttributeValue::M),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![4 => proptest::sample::select(FIELDS).prop_map(str::to_string), 1 => any::<String>()]
}

fn attributes() -> impl Strategy<Value = Attributes> {
    proptest::collection::hash_map(field_name(), attribute_value(), 0..20)
}

/// A valid transaction item with some attributes replaced by arbitrary ones.
fn mutated_transaction() -> impl Strategy<Value = Attributes> {
    proptest::collection::hash_map(field_name(), attribute_value(), 0..4).prop_map(|changes| {
        let mut item: Attributes = common::purchase("t-1", "acc-1", 1000, Currency::EUR).to_item().into();
        item.extend(changes);
        item
    })
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::hash_map(
                prop_oneof![
                    Just("eventName".to_string()),
                    Just("dynamodb".to_string()),
                    Just("NewImage".to_string()),
                    Just("SequenceNumber".to_string()),
                    any::<String>()
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decoding_never_panics(item in prop_oneof![attributes(), mutated_transaction()]) {
        let _ = LedgerItem::decode(&item);
    }

    #[test]
    fn a_batch_of_arbitrary_records_never_panics_and_is_never_retried(
        images in proptest::collection::vec(prop_oneof![attributes(), mutated_transaction()], 0..8),
        junk in proptest::collection::vec(arbitrary_json(), 0..3),
    ) {
        let mut records: Vec<Value> = images.iter().enumerate().map(|(i, image)| json!({
            "eventID": format!("e{i}"),
            "eventName": "INSERT",
            "dynamodb": {"NewImage": serde_json::to_value(serde_dynamo::Item::from(image.clone())).unwrap(), "SequenceNumber": format!("{}", 100 + i), "SizeBytes": 1},
        })).collect();
        records.extend(junk);
        let event = json!({ "Records": records });
        let processor = common::processor(MemoryLedger::new(), MemoryBus::new());
        let outcome = runtime().block_on(common::run(&processor, &event));
        // With a healthy bus nothing is transient: every record is acknowledged.
        prop_assert!(outcome.response.batch_item_failures.is_empty());
        prop_assert_eq!(outcome.stats.records_received as usize, records.len());
        prop_assert_eq!(
            outcome.stats.records_processed + outcome.stats.records_ignored + outcome.stats.records_rejected,
            records.len() as u64
        );
    }

    #[test]
    fn integers_round_trip_in_every_spelling(n in any::<i64>(), zeros in 0usize..4) {
        prop_assert_eq!(parse_integer(&n.to_string()), Ok(n));
        prop_assert_eq!(parse_integer(&format!("{n}.{}", "0".repeat(zeros))), Ok(n));
        prop_assert_eq!(parse_integer(&format!("{n}e0")), Ok(n));
        if n % 10 == 0 && n != 0 {
            prop_assert_eq!(parse_integer(&format!("{}e1", n / 10)), Ok(n));
        }
    }

    #[test]
    fn decimal_strings_keep_every_minor_unit(amount in any::<i64>(), code in proptest::sample::select(vec!["JPY", "XAF", "EUR", "USD", "KWD", "BHD"])) {
        let currency = Currency::from_code(code).unwrap();
        let text = Money::new(amount, currency).decimal_string();
        let decimals = text.split_once('.').map_or(0, |(_, f)| f.len());
        prop_assert_eq!(decimals as u32, currency.exponent());
        prop_assert_eq!(parse_integer(&text.replace('.', "")), Ok(amount));
    }

    #[test]
    fn the_publisher_keeps_its_limits_and_per_account_order(
        groups in proptest::collection::vec((0u8..4, proptest::collection::vec(1usize..400_000, 0..4)), 1..25),
        failing in proptest::collection::hash_set((0u32..6, 0usize..60), 0..20),
    ) {
        let groups: Vec<EntryGroup> = groups
            .iter()
            .enumerate()
            .map(|(g, (account, sizes))| EntryGroup {
                account: Some(format!("acc-{account}")),
                entries: sizes.iter().enumerate().map(|(e, size)| BusEntry {
                    source: "txn-notify".into(),
                    detail_type: "Transaction Recorded".into(),
                    // A JSON object, as EventBridge takes; `{"g":"` is 6 bytes, then group-entry.
                    detail: format!(r#"{{"g":"{g:03}-{e}","pad":"{}"}}"#, "x".repeat(*size)),
                    event_bus_name: "txn-notify".into(),
                    resources: Vec::new(),
                    time: None,
                }).collect(),
            })
            .collect();
        // Entries whose (call, position in the whole batch) is listed fail; calls 6 and later all succeed.
        let order: HashMap<String, usize> = groups.iter().flat_map(|g| g.entries.iter()).enumerate().map(|(i, e)| (e.detail[6..11].to_string(), i)).collect();
        let bus = MemoryBus::failing_entries(move |call, entry| {
            failing.contains(&(call, order[&entry.detail[6..11]])).then(|| "ThrottlingException".to_string())
        }).logging_calls();
        let clock = FrozenClock::at(common::now());
        let policy = RetryPolicy { max_attempts: 10, ..RetryPolicy::default() };
        let outcome = runtime().block_on(publish(&bus, &clock, &policy, &PublishLimits::default(), &groups));
        prop_assert_eq!(outcome.first_unpublished, None);
        for call in bus.calls() {
            prop_assert!(call.len() <= MAX_ENTRIES_PER_CALL);
            prop_assert!(call.iter().map(BusEntry::size).sum::<usize>() <= MAX_REQUEST_BYTES);
            // One record per account per call.
            let mut by_account: HashMap<usize, &str> = HashMap::new();
            for entry in &call {
                let group: usize = entry.detail[6..9].parse().unwrap();
                let account = groups[group].account.as_deref().unwrap();
                for (other, other_account) in &by_account {
                    prop_assert!(*other == group || *other_account != account);
                }
                by_account.insert(group, account);
            }
        }
        let published = bus.published();
        prop_assert_eq!(published.len(), groups.iter().map(|g| g.entries.len()).sum::<usize>());
        // Per account, records are published in batch order.
        let mut last: HashMap<&str, usize> = HashMap::new();
        for entry in &published {
            let group: usize = entry.detail[6..9].parse().unwrap();
            let account = groups[group].account.as_deref().unwrap();
            let previous = last.insert(account, group).unwrap_or(0);
            prop_assert!(previous <= group, "{account}: record {group} after {previous}");
        }
    }
}
