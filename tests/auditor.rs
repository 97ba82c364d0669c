//! The auditor: one record per event, written once; duplicates and replays counted; bad
//! messages and transient failures reported for redelivery.

mod common;

use serde_json::{Value, json};
use txn_notify::clock::FrozenClock;
use txn_notify::local::memory::{MemoryAuditLog, MemoryBus, MemoryLedger};
use txn_notify::pipeline::Reply;
use txn_notify::pipeline::{AuditConfig, Auditor};

/// The processor's real output for the mixed sample batch, as EventBridge envelopes.
async fn real_events() -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events/mixed-batch.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ledger = MemoryLedger::new();
    ledger.load_stream_images(&event);
    let processor = common::processor(ledger, MemoryBus::new());
    common::run(&processor, &event).await;
    processor
        .bus
        .published()
        .iter()
        .enumerate()
        .map(|(i, entry)| entry.envelope(&format!("envelope-{i}"), "123456789012", "eu-west-3", common::now()))
        .collect()
}

fn sqs_batch(bodies: &[String]) -> Value {
    json!({ "Records": bodies.iter().enumerate().map(|(i, body)| json!({
        "messageId": format!("m-{i}"), "receiptHandle": "h", "body": body, "attributes": {}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-3:123456789012:audit", "awsRegion": "eu-west-3",
    })).collect::<Vec<_>>() })
}

fn auditor(log: MemoryAuditLog) -> Auditor<MemoryAuditLog, FrozenClock> {
    Auditor::new(log, FrozenClock::at(common::now()), AuditConfig::default())
}

fn failed_ids(reply: &Reply) -> Vec<String> {
    match reply {
        Reply::Batch(response) => response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect(),
        Reply::Single(_) => panic!("expected a batch reply"),
    }
}

#[tokio::test]
async fn every_event_is_written_once_and_redeliveries_are_counted() {
    let events = real_events().await;
    assert!(events.len() > 20);
    let bodies: Vec<String> = events.iter().map(Value::to_string).collect();
    let auditor = auditor(MemoryAuditLog::new());
    let (reply, stats) = auditor.handle(sqs_batch(&bodies)).await.unwrap();
    assert!(failed_ids(&reply).is_empty());
    assert_eq!(stats.written as usize, events.len());
    let first = auditor.log.records();
    assert_eq!(first.len(), events.len());

    let (_, again) = auditor.handle(sqs_batch(&bodies)).await.unwrap();
    assert_eq!((again.written, again.duplicates as usize), (0, events.len()));
    assert_eq!(auditor.log.records(), first, "a duplicate never rewrites a record");
}

#[tokio::test]
async fn replays_are_counted_and_fill_only_what_was_missed() {
    let events = real_events().await;
    let auditor = auditor(MemoryAuditLog::new());
    let half: Vec<String> = events.iter().take(events.len() / 2).map(Value::to_string).collect();
    auditor.handle(sqs_batch(&half)).await.unwrap();
    // A replay re-sends everything with new envelope ids and a replay-name.
    let replayed: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            e["id"] = json!(format!("replayed-{i}"));
            e["replay-name"] = json!("incident-2026-11-20");
            e.to_string()
        })
        .collect();
    let (reply, stats) = auditor.handle(sqs_batch(&replayed)).await.unwrap();
    assert!(failed_ids(&reply).is_empty());
    assert_eq!(stats.replays as usize, events.len());
    assert_eq!(stats.duplicates as usize, events.len() / 2);
    assert_eq!(stats.written as usize, events.len() - events.len() / 2);
    let records = auditor.log.records();
    assert_eq!(records.len(), events.len());
    let replay_names = records.iter().filter(|r| r.replay_name.is_some()).count();
    assert_eq!(
        replay_names,
        events.len() - events.len() / 2,
        "records written by the replay say so"
    );
}

#[tokio::test]
async fn records_carry_the_event_and_an_expiry() {
    let events = real_events().await;
    let auditor = auditor(MemoryAuditLog::new());
    auditor.handle(events[0].clone()).await.unwrap();
    let record = &auditor.log.records()[0];
    assert_eq!(record.event_id, events[0]["detail"]["event_id"].as_str().unwrap());
    assert_eq!(record.detail_type, events[0]["detail-type"].as_str().unwrap());
    assert_eq!(record.detail, events[0]["detail"]);
    assert_eq!(record.received_at, common::now());
    assert_eq!(
        record.expires_at,
        (common::now() + chrono::Duration::days(396)).timestamp()
    );
    let rejected = events
        .iter()
        .find(|e| e["detail-type"] == "Record Rejected" && e["detail"]["account_id"].is_null())
        .unwrap();
    auditor.handle(rejected.clone()).await.unwrap();
    assert!(
        auditor
            .log
            .records()
            .iter()
            .any(|r| r.detail_type == "Record Rejected" && r.account_id.is_none())
    );
}

#[tokio::test]
async fn malformed_messages_and_transient_failures_are_reported_for_redelivery() {
    let events = real_events().await;
    let bodies = vec![
        events[0].to_string(),
        "not json".to_string(),
        json!({"source": "txn-notify", "detail": {}}).to_string(),
        events[1].to_string(),
        events[2].to_string(),
    ];
    let log = MemoryAuditLog::new();
    let auditor = auditor(log);
    auditor.log.fail_next_writes(1);
    let (reply, stats) = auditor.handle(sqs_batch(&bodies)).await.unwrap();
    assert_eq!(failed_ids(&reply), ["m-0", "m-1", "m-2"]);
    assert_eq!((stats.malformed, stats.retried, stats.written), (2, 1, 2));
    // SQS redelivers m-0: it is written now.
    let (reply, stats) = auditor.handle(sqs_batch(&bodies[..1])).await.unwrap();
    assert!(failed_ids(&reply).is_empty());
    assert_eq!(stats.written, 1);
}

#[tokio::test]
async fn a_bare_event_is_answered_ok_or_err() {
    let events = real_events().await;
    let auditor = auditor(MemoryAuditLog::new());
    let (reply, _) = auditor.handle(events[0].clone()).await.unwrap();
    assert_eq!(reply, Reply::Single(Ok(())));
    auditor.log.fail_next_writes(1);
    let (reply, _) = auditor.handle(events[1].clone()).await.unwrap();
    assert!(matches!(reply, Reply::Single(Err(_))));
    assert!(
        auditor.handle(json!({"hello": "world"})).await.is_err(),
        "neither shape"
    );
}
