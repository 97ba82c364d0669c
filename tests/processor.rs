//! The stream processor on in-memory adapters: partial batch failure, permanent vs
//! transient, PutEvents packing and resend, per-account order, profiles, determinism.

mod common;

use std::collections::{HashMap, HashSet};

use common::*;
use serde_json::json;
use txn_notify::domain::Metadata;
use txn_notify::domain::TransactionStatus;
use txn_notify::domain::{Currency, DetailType};
use txn_notify::local::memory::{LedgerFaults, MemoryBus, MemoryLedger};
use txn_notify::pipeline::MAX_REQUEST_BYTES;
use txn_notify::ports::PortError;
use txn_notify::workload::LedgerWrite;

fn purchases(count: usize, accounts: usize) -> Vec<LedgerWrite> {
    (0..count)
        .map(|i| {
            insert_txn(&purchase(
                &format!("t-{i}"),
                &format!("acc-{}", i % accounts),
                1000 + i as i64,
                Currency::EUR,
            ))
        })
        .collect()
}

#[tokio::test]
async fn an_all_success_batch_returns_an_empty_failure_list() {
    let event = stream_event(&purchases(30, 7));
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &event).await;
    assert!(outcome.response.batch_item_failures.is_empty());
    assert_eq!(outcome.stats.records_processed, 30);
    assert_eq!(processor.bus.published().len(), 30);
    assert_eq!(
        serde_json::to_value(&outcome.response).unwrap(),
        json!({"batchItemFailures": []})
    );
}

#[tokio::test]
async fn an_empty_batch_is_done_at_once() {
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &json!({"Records": []})).await;
    assert!(outcome.response.batch_item_failures.is_empty());
    assert_eq!(processor.bus.call_count(), 0);
}

#[tokio::test]
async fn a_transient_failure_at_record_k_reports_exactly_records_k_to_n() {
    for k in [0usize, 1, 6, 11] {
        let event = stream_event(&purchases(12, 12));
        let sequence_numbers = sequence_numbers(&event);
        let failing = format!("t-{k}");
        let bus = MemoryBus::failing_entries(move |_, entry| {
            (transaction_id_of(entry) == failing).then(|| "ThrottlingException".to_string())
        });
        let processor = processor(MemoryLedger::new(), bus);
        let outcome = run(&processor, &event).await;
        assert_eq!(failures(&outcome), sequence_numbers[k..].to_vec(), "k = {k}");
        assert_eq!(outcome.stats.records_retried, (12 - k) as u64);
        assert_eq!(outcome.stats.records_processed, k as u64);
        // Backoff between the attempts, each within the policy's ceiling.
        let sleeps = processor.clock.sleeps();
        assert!(
            !sleeps.is_empty() && sleeps.iter().all(|d| d.as_millis() <= 2000),
            "{sleeps:?}"
        );
    }
}

fn transaction_id_of(entry: &txn_notify::ports::BusEntry) -> String {
    transaction_id(entry).unwrap_or_default()
}

#[tokio::test]
async fn a_bus_that_fails_every_call_reports_the_whole_batch() {
    let event = stream_event(&purchases(5, 5));
    let bus = MemoryBus::failing_calls(|_| Some(PortError::transient("503 Service Unavailable")));
    let processor = processor(MemoryLedger::new(), bus);
    let outcome = run(&processor, &event).await;
    assert_eq!(failures(&outcome), sequence_numbers(&event));
    assert_eq!(
        processor.bus.call_count(),
        6,
        "one call, retried up to six sends in all"
    );
    assert_eq!(outcome.stats.last_error.as_deref(), Some("503 Service Unavailable"));
}

#[tokio::test]
async fn a_permanent_bus_error_is_not_retried() {
    let event = stream_event(&purchases(5, 5));
    let bus = MemoryBus::failing_calls(|_| Some(PortError::permanent("AccessDeniedException")));
    let processor = processor(MemoryLedger::new(), bus);
    let outcome = run(&processor, &event).await;
    assert_eq!(failures(&outcome), sequence_numbers(&event));
    assert_eq!(processor.bus.call_count(), 1);
    assert!(processor.clock.sleeps().is_empty());
}

#[tokio::test]
async fn only_failed_entries_are_resent_and_every_event_lands_once() {
    let event = stream_event(&purchases(25, 25));
    // The first two sends of t-3 and the first of t-17 fail.
    let bus = MemoryBus::failing_entries(|call, entry| {
        let id = transaction_id_of(entry);
        ((id == "t-3" && call < 2) || (id == "t-17" && call == 1)).then(|| "InternalFailure".to_string())
    })
    .logging_calls();
    let processor = processor(MemoryLedger::new(), bus);
    let outcome = run(&processor, &event).await;
    assert!(outcome.response.batch_item_failures.is_empty());
    let published: Vec<String> = processor.bus.published().iter().map(transaction_id_of).collect();
    let unique: HashSet<&String> = published.iter().collect();
    assert_eq!(published.len(), 25);
    assert_eq!(unique.len(), 25, "no event published twice");
    // Every entry sent after the first call is either new or one that had failed.
    let calls = processor.bus.calls();
    let sent: Vec<String> = calls.iter().flatten().map(transaction_id_of).collect();
    assert_eq!(sent.len(), 25 + 3, "exactly the three failed sends were repeated");
    assert_eq!(outcome.stats.put_events_failed_entries, 3);
    assert_eq!(
        processor.clock.sleeps().len(),
        2,
        "a backoff after each call with a failure"
    );
}

#[tokio::test]
async fn calls_hold_at_most_ten_entries() {
    let event = stream_event(&purchases(25, 25));
    let processor = processor(MemoryLedger::new(), MemoryBus::new().logging_calls());
    run(&processor, &event).await;
    let sizes: Vec<usize> = processor.bus.calls().iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5]);
}

/// A purchase whose metadata makes its Transaction Recorded entry about `bytes` long.
fn bulky_purchase(i: usize, bytes: usize) -> LedgerWrite {
    let mut t = purchase(&format!("t-{i}"), &format!("acc-{i}"), 1000, Currency::EUR);
    t.metadata = Metadata::from_json(&json!({ "blob": "x".repeat(bytes) }));
    insert_txn(&t)
}

#[tokio::test]
async fn calls_hold_at_most_one_megabyte_as_aws_computes_entry_size() {
    let event = stream_event(&(0..7).map(|i| bulky_purchase(i, 300_000)).collect::<Vec<_>>());
    let processor = processor(MemoryLedger::new(), MemoryBus::new().logging_calls());
    let outcome = run(&processor, &event).await;
    assert!(outcome.response.batch_item_failures.is_empty());
    let calls = processor.bus.calls();
    let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 1], "three ~300 kB entries fit in 1 MiB, four do not");
    for call in &calls {
        let bytes: usize = call.iter().map(|e| e.size()).sum();
        assert!(bytes <= MAX_REQUEST_BYTES, "{bytes}");
        // The size is Source + DetailType + Detail (no Time, no Resources).
        let entry = &call[0];
        assert_eq!(
            entry.size(),
            "txn-notify".len() + "Transaction Recorded".len() + entry.detail.len()
        );
    }
}

#[tokio::test]
async fn an_event_larger_than_a_call_rejects_its_record_and_the_batch_goes_on() {
    let writes = vec![
        bulky_purchase(0, 10),
        bulky_purchase(1, MAX_REQUEST_BYTES),
        bulky_purchase(2, 10),
    ];
    let event = stream_event(&writes);
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &event).await;
    assert!(outcome.response.batch_item_failures.is_empty());
    let published = processor.bus.published();
    assert_eq!(
        detail_types(&published),
        ["Transaction Recorded", "Record Rejected", "Transaction Recorded"]
    );
    let rejected = detail(&published[1]);
    assert_eq!(rejected["reason_code"], "event_too_large");
    assert_eq!(rejected["raw_record"], json!(null));
    assert_eq!(rejected["raw_record_truncated"], true);
    assert_eq!(rejected["account_id"], "acc-1", "the account its Keys name");
}

#[tokio::test]
async fn an_event_too_large_names_the_account_of_its_new_image_when_its_keys_do_not() {
    let mut event = stream_event(&[bulky_purchase(0, 10), bulky_purchase(1, MAX_REQUEST_BYTES)]);
    let keys = event["Records"][1]["dynamodb"].as_object_mut().unwrap().remove("Keys");
    assert!(keys.is_some(), "the record had Keys");
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &event).await;
    assert!(outcome.response.batch_item_failures.is_empty());
    let published = processor.bus.published();
    assert_eq!(detail_types(&published), ["Transaction Recorded", "Record Rejected"]);
    let rejected = detail(&published[1]);
    assert_eq!(rejected["reason_code"], "event_too_large");
    assert_eq!(rejected["account_id"], "acc-1");
}

#[tokio::test]
async fn per_account_order_holds_even_when_an_early_entry_is_resent() {
    // Two accounts, interleaved; A's first transaction fails twice before it is accepted.
    let writes: Vec<LedgerWrite> = (0..12)
        .map(|i| {
            insert_txn(&purchase(
                &format!("t-{i}"),
                if i % 2 == 0 { "acc-A" } else { "acc-B" },
                1000,
                Currency::EUR,
            ))
        })
        .collect();
    let event = stream_event(&writes);
    let bus = MemoryBus::failing_entries(|call, entry| {
        (transaction_id_of(entry) == "t-0" && call < 2).then(|| "ThrottlingException".into())
    })
    .logging_calls();
    let processor = processor(MemoryLedger::new(), bus);
    let outcome = run(&processor, &event).await;
    assert!(outcome.response.batch_item_failures.is_empty());
    let order = |account: &str| -> Vec<usize> {
        processor
            .bus
            .published()
            .iter()
            .filter(|e| detail(e)["account_id"] == account)
            .map(|e| transaction_id_of(e)[2..].parse().unwrap())
            .collect()
    };
    assert_eq!(order("acc-A"), [0, 2, 4, 6, 8, 10]);
    assert_eq!(order("acc-B"), [1, 3, 5, 7, 9, 11]);
    // No call ever carries two different transactions of one account.
    for call in processor.bus.calls() {
        let mut seen: HashMap<String, String> = HashMap::new();
        for entry in &call {
            let d = detail(entry);
            let account = d["account_id"].as_str().unwrap().to_string();
            let txn = transaction_id_of(entry);
            let previous = seen.entry(account).or_insert(txn.clone());
            assert_eq!(*previous, txn, "one record per account per call");
        }
    }
}

#[tokio::test]
async fn a_transaction_and_its_alerts_may_share_a_call() {
    let mut big = purchase("t-big", "acc-1", 500_000, Currency::EUR);
    big.balance_after_minor = Some(100);
    let event = stream_event(&[insert_txn(&big)]);
    let processor = processor(MemoryLedger::new(), MemoryBus::new().logging_calls());
    run(&processor, &event).await;
    let calls = processor.bus.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        detail_types(&calls[0]),
        ["Transaction Recorded", "Large Transaction", "Low Balance"]
    );
}

#[tokio::test]
async fn event_ids_are_the_same_in_two_runs_and_unique_within_one() {
    let event = txn_notify::workload::stream::to_stream_event(&txn_notify::workload::generate(
        &txn_notify::workload::WorkloadSpec::new(40, 600, 9),
    ));
    let first = processor(MemoryLedger::new(), MemoryBus::new());
    let second = processor(MemoryLedger::new(), MemoryBus::new());
    run(&first, &event).await;
    run(&second, &event).await;
    let ids = |p: &TestProcessor| -> Vec<String> {
        p.bus
            .published()
            .iter()
            .map(|e| detail(e)["event_id"].as_str().unwrap().to_string())
            .collect()
    };
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!(a, b);
    assert_eq!(a.iter().collect::<HashSet<_>>().len(), a.len(), "event ids are unique");
    // A retried delivery of one record yields the same ids as the first delivery.
    let single = json!({ "Records": [event["Records"][100].clone()] });
    let third = processor(MemoryLedger::new(), MemoryBus::new());
    run(&third, &single).await;
    for id in ids(&third) {
        assert!(a.contains(&id));
    }
}

#[tokio::test]
async fn the_same_transaction_stored_twice_yields_the_same_event_ids() {
    let original = purchase("t-1", "acc-1", 1000, Currency::EUR);
    let mut rebooked = original.clone();
    rebooked.booked_at += chrono::Duration::seconds(5);
    let event = stream_event(&[insert_txn(&original), insert_txn(&rebooked)]);
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    run(&processor, &event).await;
    let ids: Vec<_> = processor
        .bus
        .published()
        .iter()
        .map(|e| detail(e)["event_id"].clone())
        .collect();
    assert_eq!(ids[0], ids[1], "downstream idempotency sees one transaction");
}

/// A raw stream record with this NewImage (DynamoDB JSON).
fn raw_insert(sequence_number: &str, image: serde_json::Value) -> serde_json::Value {
    json!({
        "eventID": format!("e-{sequence_number}"),
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-3",
        "dynamodb": {
            "ApproximateCreationDateTime": 1795168800,
            "Keys": {"pk": image["pk"].clone(), "sk": image["sk"].clone()},
            "NewImage": image,
            "SequenceNumber": sequence_number,
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": "arn:aws:dynamodb:eu-west-3:123456789012:table/ledger/stream/x"
    })
}

fn valid_image() -> serde_json::Value {
    serde_json::to_value(purchase("t-ok", "acc-1", 1000, Currency::EUR).to_item()).unwrap()
}

#[tokio::test]
async fn every_malformed_record_kind_becomes_record_rejected_and_the_batch_goes_on() {
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut image = valid_image();
        f(&mut image);
        image
    };
    let cases: Vec<(&str, serde_json::Value)> = vec![
        (
            "missing_field",
            edit(&|i| {
                i.as_object_mut().unwrap().remove("transaction_id");
            }),
        ),
        ("wrong_type", edit(&|i| i["amount_minor"] = json!({"S": "1000"}))),
        ("not_an_integer", edit(&|i| i["amount_minor"] = json!({"N": "10.5"}))),
        (
            "amount_not_positive",
            edit(&|i| i["amount_minor"] = json!({"N": "-10"})),
        ),
        (
            "integer_out_of_range",
            edit(&|i| i["amount_minor"] = json!({"N": "9223372036854775808"})),
        ),
        ("bad_currency", edit(&|i| i["currency"] = json!({"S": "XYZ"}))),
        ("unknown_value", edit(&|i| i["kind"] = json!({"S": "purchase"}))),
        ("unknown_value", edit(&|i| i["status"] = json!({"S": "pending"}))),
        ("unknown_value", edit(&|i| i["channel"] = json!({"S": "fax"}))),
        ("unknown_value", edit(&|i| i["decline_reason"] = json!({"S": "bored"}))),
        ("bad_timestamp", edit(&|i| i["booked_at"] = json!({"S": "2026-13-01"}))),
        ("bad_mcc", edit(&|i| i["merchant"]["M"]["mcc"] = json!({"S": "54111"}))),
        (
            "bad_card_last4",
            edit(&|i| i["card_last4"] = json!({"S": "4111111111111111"})),
        ),
        (
            "bad_country",
            edit(&|i| i["merchant"]["M"]["country"] = json!({"S": "France"})),
        ),
        ("key_mismatch", edit(&|i| i["pk"] = json!({"S": "ACCOUNT#other"}))),
        (
            "missing_field",
            edit(&|i| {
                i.as_object_mut().unwrap().remove("type");
            }),
        ),
    ];
    let mut records = Vec::new();
    for (i, (_, image)) in cases.iter().enumerate() {
        records.push(raw_insert(&format!("{:03}", 2 * i + 100), image.clone()));
        // A valid record after each bad one: the batch goes on.
        let mut good = valid_image();
        good["transaction_id"] = json!({"S": format!("t-good-{i}")});
        records.push(raw_insert(&format!("{:03}", 2 * i + 101), good));
    }
    // Records that are not stream records at all, or lack what the processor needs.
    records.push(json!("just a string"));
    records.push(
        json!({"eventName": "INSERT", "dynamodb": {"SequenceNumber": "900", "NewImage": {"pk": "not DynamoDB JSON"}}}),
    );
    let mut no_sequence = raw_insert("0", valid_image());
    no_sequence["dynamodb"]
        .as_object_mut()
        .unwrap()
        .remove("SequenceNumber");
    records.push(no_sequence);
    let mut no_image = raw_insert("901", valid_image());
    no_image["dynamodb"].as_object_mut().unwrap().remove("NewImage");
    records.push(no_image);
    let mut odd_name = raw_insert("902", valid_image());
    odd_name["eventName"] = json!("UPSERT");
    records.push(odd_name);

    let event = json!({ "Records": records });
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &event).await;
    assert!(
        outcome.response.batch_item_failures.is_empty(),
        "permanent errors are never retried"
    );
    let published = processor.bus.published();
    let rejected: Vec<serde_json::Value> = published
        .iter()
        .filter(|e| e.detail_type == "Record Rejected")
        .map(detail)
        .collect();
    let mut expected: Vec<&str> = cases.iter().map(|(code, _)| *code).collect();
    expected.extend([
        "malformed_record",
        "malformed_record",
        "missing_sequence_number",
        "missing_new_image",
        "unknown_event_name",
    ]);
    let mut codes: Vec<&str> = rejected.iter().map(|r| r["reason_code"].as_str().unwrap()).collect();
    let mut expected_sorted = expected.clone();
    codes.sort();
    expected_sorted.sort();
    assert_eq!(codes, expected_sorted);
    assert_eq!(outcome.stats.records_rejected as usize, expected.len());
    let good = published
        .iter()
        .filter(|e| transaction_id(e).is_some_and(|t| t.starts_with("t-good-")))
        .count();
    assert_eq!(good, cases.len(), "every valid record after a bad one was processed");
    let everything = published.iter().map(|e| e.detail.clone()).collect::<String>();
    assert!(
        !everything.contains("4111111111111111"),
        "a full card number never reaches the bus"
    );
    let first = &rejected[0];
    assert_eq!(first["sequence_number"], "100");
    assert_eq!(first["account_id"], "acc-1");
    assert!(first["raw_record"]["dynamodb"]["NewImage"].is_object());
}

#[tokio::test]
async fn account_inserts_become_account_opened_without_personal_data() {
    let account = account("acc-9", "FR", Currency::EUR);
    let event = stream_event(&[insert(account.to_item())]);
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    run(&processor, &event).await;
    let published = processor.bus.published();
    assert_eq!(detail_types(&published), ["Account Opened"]);
    let text = &published[0].detail;
    assert!(
        !text.contains("Marie") && !text.contains("Dupont") && !text.contains("example.com"),
        "{text}"
    );
    assert_eq!(detail(&published[0])["account"]["currency"], "EUR");
}

#[tokio::test]
async fn modifies_and_removes_are_ignored_except_reversals_and_account_changes() {
    let original = purchase("t-1", "acc-1", 150_000, Currency::EUR);
    let mut reversed = original.clone();
    reversed.status = TransactionStatus::Reversed;
    let mut annotated = original.clone();
    annotated.metadata = Metadata::from_json(&json!({"note": "x"}));
    let at = chrono::Utc::now();
    let account_item = account("acc-1", "FR", Currency::EUR).to_item();
    let mut account_changed = account_item.clone();
    account_changed.insert("status".into(), serde_dynamo::AttributeValue::S("closed".into()));
    let writes = vec![
        LedgerWrite::Modify {
            old: original.to_item(),
            new: reversed.to_item(),
            at,
        },
        LedgerWrite::Modify {
            old: reversed.to_item(),
            new: reversed.to_item(),
            at,
        },
        LedgerWrite::Modify {
            old: original.to_item(),
            new: annotated.to_item(),
            at,
        },
        LedgerWrite::Modify {
            old: account_item.clone(),
            new: account_changed,
            at,
        },
        LedgerWrite::Remove {
            old: original.to_item(),
            at,
            by_ttl: false,
        },
        LedgerWrite::Remove {
            old: account_item,
            at,
            by_ttl: true,
        },
    ];
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &stream_event(&writes)).await;
    let published = processor.bus.published();
    assert_eq!(
        detail_types(&published),
        ["Transaction Recorded", "Account Updated"],
        "a reversal alerts no one, even a large one; a change of the profile is told"
    );
    assert_eq!(detail(&published[1])["changed"], json!(["status"]));
    let d = detail(&published[0]);
    assert_eq!(
        (d["change"].as_str(), d["transaction"]["status"].as_str()),
        (Some("reversed"), Some("reversed"))
    );
    assert_eq!(d["findings"], json!([]));
    assert_eq!(outcome.stats.records_ignored, 4);
    assert_eq!(outcome.stats.ignored_by_reason.get("modified"), Some(&2));
    assert_eq!(outcome.stats.ignored_by_reason.get("removed"), Some(&1));
    assert_eq!(outcome.stats.ignored_by_reason.get("ttl_expired"), Some(&1));
    assert!(outcome.response.batch_item_failures.is_empty());
}

fn account_modify(old: &serde_dynamo::Item, new: &serde_dynamo::Item) -> serde_json::Value {
    stream_event(&[LedgerWrite::Modify {
        old: old.clone(),
        new: new.clone(),
        at: chrono::Utc::now(),
    }])
}

#[tokio::test]
async fn a_change_of_a_profile_is_an_account_updated_naming_the_fields_never_their_values() {
    use serde_dynamo::AttributeValue as A;
    let before = account("acc-1", "FR", Currency::EUR);
    let mut after = before.clone();
    after.email = txn_notify::domain::Pii("marie.new@example.org".into());
    after.previous_email = Some(before.email.clone());
    after.preferences.statement_enabled = false;
    after.version = 2;
    after.updated_at = Some(now());
    let first = processor(MemoryLedger::new(), MemoryBus::new());
    let event = account_modify(&before.to_item(), &after.to_item());
    run(&first, &event).await;
    let published = first.bus.published();
    assert_eq!(detail_types(&published), ["Account Updated"]);
    let d = detail(&published[0]);
    assert_eq!(d["changed"], json!(["email", "preferences", "previous_email"]));
    assert_eq!(
        (d["severity"].as_str(), d["version"].as_u64()),
        (Some("warning"), Some(2))
    );
    assert_eq!(
        d["occurred_at"], "2026-11-20T18:00:00Z",
        "when the account says it changed"
    );
    let text = &published[0].detail;
    assert!(
        !text.contains("example.org") && !text.contains("example.com") && !text.contains("Marie"),
        "{text}"
    );

    // The same record again (a retry, a replay): the same event id.
    let again = processor(MemoryLedger::new(), MemoryBus::new());
    run(&again, &event).await;
    assert_eq!(again.bus.published()[0].detail, published[0].detail);

    // A change of the time zone alone is info; another change of the same fields, another id.
    let mut zoned = after.clone();
    zoned.time_zone = Some("America/New_York".into());
    zoned.version = 3;
    let other = processor(MemoryLedger::new(), MemoryBus::new());
    run(&other, &account_modify(&after.to_item(), &zoned.to_item())).await;
    let d2 = detail(&other.bus.published()[0]);
    assert_eq!(
        (d2["changed"].clone(), d2["severity"].as_str()),
        (json!(["time_zone"]), Some("info"))
    );
    assert_ne!(d2["event_id"], d["event_id"]);

    // Nothing but bookkeeping changed, or a set in another order: no change of the account.
    let mut bumped = after.to_item();
    bumped.insert("version".into(), A::N("9".into()));
    bumped.insert("updated_at".into(), A::S("2026-11-21T00:00:00Z".into()));
    let with_set = |order: [&str; 2]| {
        let mut item = after.to_item();
        let Some(A::M(mut prefs)) = item.get("preferences").cloned() else {
            panic!("preferences")
        };
        prefs.insert("muted_categories".into(), A::Ss(order.map(str::to_string).to_vec()));
        item.insert("preferences".into(), A::M(prefs));
        item
    };
    let (muted_item, reordered) = (with_set(["groceries", "travel"]), with_set(["travel", "groceries"]));
    let quiet = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(
        &quiet,
        &stream_event(&[
            LedgerWrite::Modify {
                old: after.to_item(),
                new: bumped,
                at: chrono::Utc::now(),
            },
            LedgerWrite::Modify {
                old: muted_item,
                new: reordered,
                at: chrono::Utc::now(),
            },
        ]),
    )
    .await;
    assert!(
        quiet.bus.published().is_empty(),
        "{:?}",
        detail_types(&quiet.bus.published())
    );
    assert_eq!(outcome.stats.ignored_by_reason.get("modified"), Some(&2));
}

#[tokio::test]
async fn an_account_change_without_its_old_image_or_with_a_broken_new_one_is_rejected() {
    let before = account("acc-1", "FR", Currency::EUR);
    let mut closed = before.clone();
    closed.status = txn_notify::domain::AccountStatus::Closed;
    let mut event = account_modify(&before.to_item(), &closed.to_item());
    event["Records"][0]["dynamodb"]
        .as_object_mut()
        .unwrap()
        .remove("OldImage");
    let mut broken = closed.to_item();
    broken.insert("status".into(), serde_dynamo::AttributeValue::S("suspended".into()));
    let broken_event = account_modify(&before.to_item(), &broken);
    for (event, code) in [(event, "missing_old_image"), (broken_event, "unknown_value")] {
        let processor = processor(MemoryLedger::new(), MemoryBus::new());
        let outcome = run(&processor, &event).await;
        let published = processor.bus.published();
        assert_eq!(detail_types(&published), ["Record Rejected"]);
        assert_eq!(detail(&published[0])["reason_code"], code);
        assert!(outcome.response.batch_item_failures.is_empty(), "never retried");
        assert!(!published[0].detail.contains("example.com"), "personal data masked");
    }
}

#[tokio::test]
async fn items_of_other_types_are_ignored_and_counted() {
    let mut marker = serde_dynamo::Item::default();
    marker.insert("pk".into(), serde_dynamo::AttributeValue::S("TXNID#t-1".into()));
    marker.insert("sk".into(), serde_dynamo::AttributeValue::S("TXNID".into()));
    marker.insert("type".into(), serde_dynamo::AttributeValue::S("TXN_ID".into()));
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &stream_event(&[insert(marker)])).await;
    assert!(processor.bus.published().is_empty());
    assert_eq!(outcome.stats.ignored_by_reason.get("other_item_type"), Some(&1));
}

#[tokio::test]
async fn profiles_are_loaded_once_per_batch_at_most_100_keys_a_call() {
    let accounts: Vec<_> = (0..250)
        .map(|i| account(&format!("acc-{i}"), "FR", Currency::EUR))
        .collect();
    let event = stream_event(&purchases(500, 250));
    let processor = processor(ledger_with(&accounts), MemoryBus::new());
    let outcome = run(&processor, &event).await;
    assert_eq!(outcome.stats.profile_lookups, 3);
    assert_eq!(outcome.stats.profiles_not_found, 0);
}

#[tokio::test]
async fn unprocessed_keys_are_asked_for_again() {
    let accounts: Vec<_> = (0..5)
        .map(|i| account(&format!("acc-{i}"), "FR", Currency::EUR))
        .collect();
    let ledger = ledger_with(&accounts);
    ledger.inject(LedgerFaults {
        partial_calls: 2,
        ..LedgerFaults::default()
    });
    // Paid in dollars: the Foreign Transaction alert needs the profile to fire.
    let writes: Vec<_> = (0..5)
        .map(|i| insert_txn(&purchase(&format!("t-{i}"), &format!("acc-{i}"), 100, Currency::USD)))
        .collect();
    let processor = processor(ledger, MemoryBus::new());
    let outcome = run(&processor, &stream_event(&writes)).await;
    assert_eq!(outcome.stats.profile_lookups, 3);
    let foreign = processor
        .bus
        .published()
        .iter()
        .filter(|e| e.detail_type == "Foreign Transaction")
        .count();
    assert_eq!(foreign, 5, "every profile was found in the end");
}

#[tokio::test]
async fn a_profile_that_cannot_be_read_fails_from_the_first_record_that_needs_it() {
    let ledger = ledger_with(&[account("acc-1", "FR", Currency::EUR)]);
    ledger.inject(LedgerFaults {
        failing_calls: 100,
        ..LedgerFaults::default()
    });
    let writes = vec![
        insert(account("acc-2", "FR", Currency::EUR).to_item()),
        insert(account("acc-3", "FR", Currency::EUR).to_item()),
        insert_txn(&purchase("t-1", "acc-1", 100, Currency::EUR)),
        insert(account("acc-4", "FR", Currency::EUR).to_item()),
    ];
    let event = stream_event(&writes);
    let processor = processor(ledger, MemoryBus::new());
    let outcome = run(&processor, &event).await;
    assert_eq!(failures(&outcome), sequence_numbers(&event)[2..].to_vec());
    assert_eq!(
        detail_types(&processor.bus.published()),
        ["Account Opened", "Account Opened"]
    );
    assert_eq!(outcome.stats.profile_lookups, 6, "retried up to the policy's attempts");
}

#[tokio::test]
async fn a_missing_profile_is_no_failure_and_rules_that_need_it_are_skipped() {
    let event = stream_event(&[insert_txn(&purchase("t-1", "acc-nobody", 100, Currency::USD))]);
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &event).await;
    assert!(outcome.response.batch_item_failures.is_empty());
    assert_eq!(detail_types(&processor.bus.published()), ["Transaction Recorded"]);
    assert_eq!(outcome.stats.profiles_not_found, 1);
}

#[tokio::test]
async fn transaction_recorded_lists_its_findings_with_their_event_ids() {
    let mut t = purchase("t-1", "acc-1", 200_000, Currency::EUR);
    t.balance_after_minor = Some(-50);
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    run(&processor, &stream_event(&[insert_txn(&t)])).await;
    let published = processor.bus.published();
    let recorded = detail(&published[0]);
    assert_eq!(recorded["severity"], "critical", "the most severe finding");
    let listed: Vec<(String, String)> = recorded["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["detail_type"].as_str().unwrap().to_string(),
                f["event_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let alerts: Vec<(String, String)> = published[1..]
        .iter()
        .map(|e| {
            (
                e.detail_type.to_string(),
                detail(e)["event_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(listed, alerts);
    assert_eq!(
        recorded["findings"][0]["rule"],
        json!({"id": "large_transaction", "threshold": {"amount_minor": 100000, "currency": "EUR"}, "threshold_source": "currency"})
    );
    assert!(DetailType::ALL.iter().any(|d| d.as_str() == published[1].detail_type));
}

/// A transaction item whose metadata holds this DynamoDB value under `key`.
fn with_metadata(id: &str, metadata: serde_json::Value) -> serde_json::Value {
    let mut image = valid_image();
    image["transaction_id"] = json!({"S": id});
    image["sk"] = json!({"S": format!("TXN#2026-11-20T10:00:00Z#{id}")});
    image["metadata"] = metadata;
    image
}

#[tokio::test]
async fn metadata_of_every_dynamodb_type_reaches_the_events_as_plain_json() {
    // Binary values as DynamoDB Streams deliver them: base64 text in the record.
    let cases = [
        (
            "t-b",
            json!({"M": {"receipt": {"B": "JVBERi0xLjQ="}}}),
            json!({"receipt": "JVBERi0xLjQ="}),
        ),
        (
            "t-bs",
            json!({"M": {"scans": {"BS": ["AQID", "BAU="]}}}),
            json!({"scans": ["AQID", "BAU="]}),
        ),
        (
            "t-list",
            json!({"M": {"parts": {"L": [{"B": "/w=="}, {"M": {"deep": {"BS": ["AA=="]}}}, {"NULL": true}]}}}),
            json!({"parts": ["/w==", {"deep": ["AA=="]}, null]}),
        ),
        (
            "t-sets",
            json!({"M": {"tags": {"SS": ["a", "b"]}, "codes": {"NS": ["1", "2.50"]}, "ok": {"BOOL": true}}}),
            json!({"tags": ["a", "b"], "codes": [1, 2.50], "ok": true}),
        ),
    ];
    let records: Vec<serde_json::Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (id, metadata, _))| raw_insert(&format!("{}", 100 + i), with_metadata(id, metadata.clone())))
        .collect();
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &json!({ "Records": records })).await;
    assert_eq!(
        outcome.stats.records_rejected, 0,
        "{:?}",
        outcome.stats.rejected_by_reason
    );
    assert_eq!(outcome.stats.records_processed, cases.len() as u64);
    let published = processor.bus.published();
    for (id, _, expected) in &cases {
        let recorded = published
            .iter()
            .find(|e| e.detail_type == "Transaction Recorded" && transaction_id(e).as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no Transaction Recorded for {id}"));
        assert_eq!(&detail(recorded)["transaction"]["metadata"], expected, "{id}");
    }
}

#[tokio::test]
async fn metadata_numbers_keep_every_digit_in_the_event_text() {
    let image = with_metadata(
        "t-n",
        json!({"M": {"rate": {"N": "0.10"}, "ref": {"N": "123456789012345678901234567890"}, "tiny": {"N": "1E-130"}}}),
    );
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    run(&processor, &json!({ "Records": [raw_insert("100", image)] })).await;
    let text = processor.bus.published()[0].detail.clone();
    assert!(
        text.contains(r#""metadata":{"rate":0.10,"ref":123456789012345678901234567890,"tiny":1e-130}"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_rejected_record_of_any_item_type_carries_no_name_address_or_phone() {
    let mut account = serde_json::to_value(account("acc-pii", "FR", Currency::EUR).to_item()).unwrap();
    account["holder"]["M"]["first_name"] = json!({"S": "Hortense"});
    account["holder"]["M"]["last_name"] = json!({"S": "Valjean-Thénardier"});
    account["email"] = json!({"S": "hortense.valjean@example.org"});
    account["currency"] = json!({"S": "EURO"});
    let mut transaction = valid_image();
    transaction["amount_minor"] = json!({"S": "oops"});
    transaction["metadata"] = json!({"M": {"payer": {"M": {"first_name": {"S": "Hortense"}, "email": {"S": "h@example.org"}}},
        "note": {"S": "ask hortense.valjean@example.org"}, "phone": {"S": "+33612345678"}}});
    let mut modify = raw_insert("103", valid_image());
    modify["eventName"] = json!("MODIFY");
    modify["dynamodb"]["NewImage"] = json!({"type": {"S": "TXN"}, "first_name": {"S": "Hortense"}});
    modify["dynamodb"]["OldImage"] = json!({"type": {"S": "TXN"}, "email": {"S": "hortense.valjean@example.org"}});
    let records = vec![
        raw_insert("100", account),
        raw_insert("101", transaction),
        json!({"eventName": "INSERT", "dynamodb": {"SequenceNumber": "102", "NewImage": {"email": "hortense.valjean@example.org", "holder": {"first_name": "Hortense"}}}}),
        modify,
    ];
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &json!({ "Records": records })).await;
    assert_eq!(
        outcome.stats.records_rejected, 4,
        "{:?}",
        outcome.stats.rejected_by_reason
    );
    for entry in processor.bus.published() {
        assert_eq!(entry.detail_type, "Record Rejected");
        let text = &entry.detail;
        for personal in [
            "Hortense",
            "hortense",
            "Valjean",
            "Thénardier",
            "example.org",
            "+33612345678",
        ] {
            assert!(!text.contains(personal), "{personal} reached the bus: {text}");
        }
        assert!(!detail(&entry)["raw_record"].is_null(), "the record is kept, masked");
    }
}

#[tokio::test]
async fn amounts_past_fifteen_digits_are_rejected_and_the_largest_pass() {
    let amount = |id: &str, field: &str, n: &str| {
        let mut image = with_metadata(id, json!({"NULL": true}));
        image[field] = json!({ "N": n });
        image
    };
    let records = vec![
        raw_insert("100", amount("t-max", "amount_minor", "999999999999999")),
        raw_insert("101", amount("t-over", "amount_minor", "1000000000000000")),
        raw_insert("102", amount("t-i64", "amount_minor", "9223372036854775807")),
        raw_insert("103", amount("t-low", "balance_after_minor", "-1000000000000000")),
        raw_insert("104", amount("t-low-ok", "balance_after_minor", "-999999999999999")),
    ];
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &json!({ "Records": records })).await;
    assert_eq!(outcome.stats.rejected_by_reason.get("integer_out_of_range"), Some(&3));
    assert_eq!(outcome.stats.records_processed, 2);
    let published = processor.bus.published();
    let recorded: Vec<String> = published
        .iter()
        .filter(|e| e.detail_type == "Transaction Recorded")
        .filter_map(transaction_id)
        .collect();
    assert_eq!(recorded, ["t-max", "t-low-ok"]);
}

#[tokio::test]
async fn an_event_too_large_is_counted_as_rejected_everywhere() {
    let event = stream_event(&[bulky_purchase(0, 10), bulky_purchase(1, MAX_REQUEST_BYTES)]);
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &event).await;
    let s = &outcome.stats;
    assert_eq!((s.records_processed, s.records_rejected), (1, 1));
    assert_eq!(s.rejected_by_reason.get("event_too_large"), Some(&1));
    assert_eq!(s.end_to_end_latency_ms.len(), 1, "the rejected record has no latency");
    let mut metrics = txn_notify::telemetry::emf::Invocation::new("processor", chrono::Utc::now());
    txn_notify::lambda::handlers::processor(&processor, event.clone(), None, &mut metrics)
        .await
        .unwrap();
    let documents = metrics.documents();
    let rejected: u64 = documents.iter().filter_map(|d| d["RecordsRejected"].as_u64()).sum();
    assert_eq!(rejected, 1, "RecordsRejected (and its alarm) sees it");
}

#[tokio::test]
async fn a_reversal_without_its_old_image_is_rejected_not_emailed_again() {
    let original = purchase("t-1", "acc-1", 1000, Currency::EUR);
    let mut reversed = original.clone();
    reversed.status = TransactionStatus::Reversed;
    let mut event = stream_event(&[LedgerWrite::Modify {
        old: original.to_item(),
        new: reversed.to_item(),
        at: now(),
    }]);
    event["Records"][0]["dynamodb"]
        .as_object_mut()
        .unwrap()
        .remove("OldImage");
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &event).await;
    assert_eq!(outcome.stats.rejected_by_reason.get("missing_old_image"), Some(&1));
    assert_eq!(detail_types(&processor.bus.published()), ["Record Rejected"]);
    // With its old image, the same change is the reversal it is.
    let with_old = stream_event(&[LedgerWrite::Modify {
        old: original.to_item(),
        new: reversed.to_item(),
        at: now(),
    }]);
    let processor = common::processor(MemoryLedger::new(), MemoryBus::new());
    run(&processor, &with_old).await;
    assert_eq!(detail_types(&processor.bus.published()), ["Transaction Recorded"]);
}

#[tokio::test]
async fn latencies_of_records_older_than_the_stream_keeps_are_left_out() {
    let mut old = purchase("t-old", "acc-1", 1000, Currency::EUR);
    old.booked_at = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .unwrap()
        .into();
    let fresh = purchase("t-fresh", "acc-1", 1000, Currency::EUR);
    let mut event = stream_event(&[insert_txn(&old), insert_txn(&fresh)]);
    // The first record was written two days before the processor reads it.
    event["Records"][0]["dynamodb"]["ApproximateCreationDateTime"] =
        json!((now() - chrono::Duration::days(2)).timestamp());
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&processor, &event).await;
    assert_eq!(outcome.stats.records_processed, 2);
    let day_ms = 24 * 3600 * 1000;
    assert_eq!(
        outcome.stats.end_to_end_latency_ms,
        [(now() - fresh.booked_at).num_milliseconds()]
    );
    assert_eq!(
        outcome.stats.stream_lag_ms.len(),
        1,
        "{:?}",
        outcome.stats.stream_lag_ms
    );
    assert!(outcome.stats.stream_lag_ms.iter().all(|ms| (0..=day_ms).contains(ms)));
}

/// A bus whose every call takes `seconds` on the clock and then fails, as a throttled or
/// far-away EventBridge would.
struct SlowFailingBus {
    clock: std::sync::Arc<txn_notify::clock::SkippingClock>,
    seconds: u64,
    calls: std::sync::atomic::AtomicU32,
}

impl txn_notify::ports::EventBus for SlowFailingBus {
    async fn put_events(
        &self,
        _: &[&txn_notify::ports::BusEntry],
    ) -> Result<Vec<txn_notify::ports::EntryResult>, PortError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.clock.advance(std::time::Duration::from_secs(self.seconds));
        Err(PortError::transient("ThrottlingException: slow down"))
    }
}

async fn run_against_a_slow_bus(deadline_after: Option<i64>) -> (txn_notify::pipeline::BatchOutcome, i64, u32) {
    use std::sync::Arc;
    let clock = Arc::new(txn_notify::clock::SkippingClock::new());
    let bus = SlowFailingBus {
        clock: Arc::clone(&clock),
        seconds: 8,
        calls: Default::default(),
    };
    let mut config = txn_notify::pipeline::ProcessorConfig::new("txn-notify");
    config.deadline_reserve = std::time::Duration::from_secs(9);
    let processor = txn_notify::pipeline::Processor::new(
        MemoryLedger::new(),
        bus,
        Arc::clone(&clock),
        Arc::new(txn_notify::rules::Rules::builtin()),
        config,
    );
    use txn_notify::ports::Clock;
    let started = clock.now();
    let deadline = deadline_after.map(|s| started + chrono::Duration::seconds(s));
    let event = stream_event(&purchases(5, 5));
    let outcome = processor.process_batch_until(batch_of(&event), deadline).await;
    let elapsed = (clock.now() - started).num_seconds();
    (
        outcome,
        elapsed,
        processor.bus.calls.load(std::sync::atomic::Ordering::SeqCst),
    )
}

#[tokio::test]
async fn retries_stop_in_time_to_answer_before_the_lambda_deadline() {
    // Without a deadline the six sends take 48 s on the slow bus, past a 30 s invocation.
    let (_, unbounded, calls) = run_against_a_slow_bus(None).await;
    assert_eq!(calls, 6);
    assert!(unbounded > 30, "{unbounded} s");
    let (outcome, elapsed, calls) = run_against_a_slow_bus(Some(30)).await;
    assert!(elapsed <= 30, "answered after {elapsed} s");
    assert!((1..6).contains(&calls), "{calls} calls");
    assert_eq!(outcome.stats.records_retried, 5, "every unpublished record is reported");
    assert_eq!(outcome.response.batch_item_failures.len(), 5);
    assert!(
        outcome.stats.last_error.as_deref().unwrap_or("").contains("deadline"),
        "{:?}",
        outcome.stats.last_error
    );
}

#[tokio::test]
async fn a_deadline_too_close_for_any_call_reports_the_whole_batch_at_once() {
    let (outcome, elapsed, calls) = run_against_a_slow_bus(Some(5)).await;
    assert_eq!((calls, elapsed), (0, 0));
    assert_eq!(outcome.stats.records_retried, 5);
}

#[tokio::test]
async fn the_lambda_handler_answers_an_error_for_what_is_not_a_stream_event() {
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    for payload in [
        json!({}),
        json!({"Records": "x"}),
        json!({"Records": null}),
        json!([1]),
        json!("text"),
    ] {
        let mut metrics = txn_notify::telemetry::emf::Invocation::new("processor", chrono::Utc::now());
        let reply = txn_notify::lambda::handlers::processor(&processor, payload.clone(), None, &mut metrics).await;
        let error = reply.expect_err(&payload.to_string());
        assert_eq!(error.error_type(), "UnexpectedPayload", "{payload}");
        assert!(
            error.to_string().starts_with("not a DynamoDB stream event"),
            "{payload}: {error}"
        );
    }
    assert_eq!(processor.bus.call_count(), 0);
}

/// The stats count each detail type as the bus received it, rejections and alerts included,
/// and count only the records acknowledged when a later one fails.
#[tokio::test]
async fn events_are_counted_by_the_detail_type_the_bus_received() {
    let writes = txn_notify::workload::generate(&txn_notify::workload::WorkloadSpec::new(20, 600, 3));
    let mut event = stream_event(&writes);
    event["Records"].as_array_mut().unwrap()[5] = json!({"eventName": "INSERT"});
    let counted = |entries: &[txn_notify::ports::BusEntry]| {
        let mut by_type: std::collections::BTreeMap<String, u64> = Default::default();
        for entry in entries {
            *by_type.entry(entry.detail_type.to_string()).or_default() += 1;
        }
        by_type
    };
    let as_strings = |stats: &std::collections::BTreeMap<&'static str, u64>| {
        stats
            .iter()
            .map(|(name, count)| (name.to_string(), *count))
            .collect::<std::collections::BTreeMap<_, _>>()
    };

    let whole = processor(MemoryLedger::new(), MemoryBus::new());
    let outcome = run(&whole, &event).await;
    let published = whole.bus.published();
    assert!(counted(&published).len() >= 5, "{:?}", counted(&published));
    assert!(counted(&published).contains_key("Record Rejected"));
    assert_eq!(as_strings(&outcome.stats.events_by_detail_type), counted(&published));
    assert_eq!(outcome.stats.events_published, published.len() as u64);

    // A failure at record k: the events of records before it are counted, none after.
    let records = event["Records"].as_array().unwrap();
    let count = records.len();
    let failing = records[count / 2..]
        .iter()
        .find(|record| record["eventName"] == "INSERT" && record["dynamodb"]["NewImage"]["type"]["S"] == "TXN")
        .map(transaction_id_of_record)
        .expect("an inserted transaction in the second half");
    let bus = MemoryBus::failing_entries(move |_, entry| {
        (transaction_id_of(entry) == failing).then(|| "ThrottlingException".to_string())
    });
    let failing = processor(MemoryLedger::new(), bus);
    let outcome = run(&failing, &event).await;
    assert!(!outcome.response.batch_item_failures.is_empty());
    let acknowledged = count - outcome.response.batch_item_failures.len();
    assert!(acknowledged >= count / 2, "{acknowledged} of {count}");
    let expected_processor = processor_for_first(&event, acknowledged).await;
    assert_eq!(
        as_strings(&outcome.stats.events_by_detail_type),
        counted(&expected_processor.bus.published())
    );
}

fn transaction_id_of_record(record: &serde_json::Value) -> String {
    record["dynamodb"]["NewImage"]["transaction_id"]["S"]
        .as_str()
        .expect("a transaction record")
        .to_string()
}

/// A processor that ran only the first `count` records of `event`.
async fn processor_for_first(event: &serde_json::Value, count: usize) -> TestProcessor {
    let mut first = event.clone();
    first["Records"].as_array_mut().unwrap().truncate(count);
    let processor = processor(MemoryLedger::new(), MemoryBus::new());
    run(&processor, &first).await;
    processor
}
