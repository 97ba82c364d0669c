//! What every `AuditLog` adapter must do: one record per event_id, the first write stands.
//! Run against the in-memory log, the embedded store and (in tests/emulators) DynamoDB
//! Local; `stored` reads a record back in the JSON shape of `AuditRecord`, by whatever means
//! the adapter offers.

use std::future::Future;

use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};

use txn_notify::domain::AuditRecord;
use txn_notify::ports::{AuditLog, PutOutcome};

pub fn audit_record(event_id: &str, account_id: Option<&str>) -> AuditRecord {
    let received_at = Utc.with_ymd_and_hms(2026, 11, 20, 18, 0, 5).unwrap();
    AuditRecord {
        event_id: event_id.into(),
        account_id: account_id.map(str::to_string),
        occurred_at: account_id.map(|_| Utc.with_ymd_and_hms(2026, 11, 20, 18, 0, 0).unwrap()),
        detail_type: "Transaction Recorded".into(),
        source: "txn-notify".into(),
        detail: json!({"event_id": event_id, "amount_minor": 1250, "findings": [], "merchant": {"name": "Café"}}),
        replay_name: None,
        received_at,
        expires_at: (received_at + Duration::days(396)).timestamp(),
    }
}

/// The record as JSON, without the members it does not have.
fn shape(record: &AuditRecord) -> Value {
    without_nulls(serde_json::to_value(record).unwrap())
}

fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

pub async fn audit_contract<L, F, Fut>(log: &L, prefix: &str, stored: F)
where
    L: AuditLog,
    F: Fn(String) -> Fut,
    Fut: Future<Output = Option<Value>>,
{
    let id = |name: &str| format!("{prefix}-{name}");
    let read = |event_id: String| {
        let found = stored(event_id);
        async move { found.await.map(without_nulls) }
    };

    let record = audit_record(&id("ev-1"), Some("acc-1"));
    assert_eq!(log.put_if_absent(&record).await.unwrap(), PutOutcome::Written);
    assert_eq!(read(id("ev-1")).await, Some(shape(&record)));

    // A redelivery or a replay of the same event: counted, never rewritten.
    let mut replayed = record.clone();
    replayed.replay_name = Some("incident-42".into());
    replayed.received_at += Duration::hours(1);
    replayed.detail = json!({"event_id": id("ev-1"), "amount_minor": 9999});
    assert_eq!(log.put_if_absent(&replayed).await.unwrap(), PutOutcome::AlreadyPresent);
    assert_eq!(read(id("ev-1")).await, Some(shape(&record)), "the first write stands");

    // An event without an account (a Record Rejected of an unreadable key), and a replay
    // that is the first delivery: both written as they came.
    let unowned = audit_record(&id("ev-2"), None);
    assert_eq!(log.put_if_absent(&unowned).await.unwrap(), PutOutcome::Written);
    assert_eq!(read(id("ev-2")).await, Some(shape(&unowned)));
    let mut first_by_replay = audit_record(&id("ev-3"), Some("acc-1"));
    first_by_replay.replay_name = Some("incident-42".into());
    assert_eq!(log.put_if_absent(&first_by_replay).await.unwrap(), PutOutcome::Written);
    assert_eq!(read(id("ev-3")).await, Some(shape(&first_by_replay)));
    assert_eq!(read(id("absent")).await, None);

    // Deliveries racing with one event: exactly one writes it.
    let race = audit_record(&id("race"), Some("acc-2"));
    let writes = tokio::join!(
        log.put_if_absent(&race),
        log.put_if_absent(&race),
        log.put_if_absent(&race),
        log.put_if_absent(&race),
    );
    let writes = [writes.0, writes.1, writes.2, writes.3].map(Result::unwrap);
    assert_eq!(
        writes.iter().filter(|w| **w == PutOutcome::Written).count(),
        1,
        "{writes:?}"
    );
}
