//! The embedded bus and queues: template.yaml's routing, SQS's visibility and redrive, the
//! archive and its replay, with the real consumers on embedded adapters.

mod common;

use std::sync::Arc;

use chrono::Duration;
use serde_json::{Value, json};

use txn_notify::clock::FrozenClock;
use txn_notify::domain::Currency;
use txn_notify::domain::Mailbox;
use txn_notify::local::embedded::bus::EmbeddedBus;
use txn_notify::local::embedded::bus::{Batch, deliver};
use txn_notify::local::embedded::store::{EmbeddedStore, QueueDepth};
use txn_notify::local::embedded::{PollerConfig, StreamPoller};
use txn_notify::local::memory::MemoryMailer;
use txn_notify::pipeline::notify::{Notifier, NotifyConfig};
use txn_notify::pipeline::{AuditConfig, Auditor};
use txn_notify::pipeline::{Processor, ProcessorConfig, StreamBatch};
use txn_notify::ports::{Clock, Ledger};
use txn_notify::rules::Rules;
use txn_notify::template::Routes;

use common::{account, now, purchase};

type Store = Arc<EmbeddedStore<FrozenClock>>;

fn store(name: &str) -> Store {
    Arc::new(EmbeddedStore::open(&common::temp_dir(name), FrozenClock::at(now())).unwrap())
}

fn reply_json(reply: txn_notify::pipeline::Reply) -> Result<Value, String> {
    match reply {
        txn_notify::pipeline::Reply::Batch(response) => Ok(serde_json::to_value(response).unwrap()),
        txn_notify::pipeline::Reply::Single(result) => result.map(|_| Value::Null).map_err(|e| e.to_string()),
    }
}

/// The event a consumer was handed, as a JSON value.
fn json_of(event: &str) -> Value {
    serde_json::from_str(event).unwrap()
}

#[tokio::test]
async fn a_transaction_flows_from_the_store_to_an_email_and_the_audit_trail_and_a_replay_redoes_nothing() {
    let store = store("flow");
    let eur = Currency::from_code("EUR").unwrap();
    store.put_account(&account("acc-b", "FR", eur)).await.unwrap();
    store
        .put_transaction(&purchase("t-b1", "acc-b", 150_000, eur), "fp")
        .await
        .unwrap();

    let bus = Arc::new(EmbeddedBus::new(Arc::clone(&store), Routes::builtin()));
    let processor = Processor::new(
        Arc::clone(&store),
        Arc::clone(&bus),
        FrozenClock::at(now()),
        Arc::new(Rules::builtin()),
        ProcessorConfig::new("txn-notify"),
    );
    let mut poller = StreamPoller::new(&store, PollerConfig::of_template(common::temp_dir("flow-failed")));
    let step = poller
        .step(true, |event| {
            let text = event.to_string();
            let processor = &processor;
            async move {
                let batch = StreamBatch::from_json(&text).unwrap();
                Ok::<_, String>(serde_json::to_value(processor.process_batch(batch).await.response).unwrap())
            }
        })
        .await
        .unwrap();
    assert_eq!(step.acknowledged, 3);

    let routes = bus.routes().clone();
    let notifier = Notifier::new(
        Arc::clone(&store),
        MemoryMailer::new(),
        Arc::clone(&bus),
        Arc::clone(&store),
        Arc::clone(&store),
        txn_notify::local::embedded::FixedSecret::new(b"bus-test-secret"),
        FrozenClock::at(now()),
        NotifyConfig::new(Mailbox::new(Some("txn-notify"), "alerts@txn-notify.example").unwrap()),
    );
    let auditor = Auditor::new(Arc::clone(&store), FrozenClock::at(now()), AuditConfig::default());
    let notify = |queue: &'static str| {
        let settings = routes.queues[queue].clone();
        (queue, settings)
    };
    let (queue, settings) = notify("NotifyQueue");
    let delivered = deliver(&store, queue, &settings, 10, |event| {
        let event = json_of(&event.event_text());
        let notifier = &notifier;
        async move { reply_json(notifier.handle(event).await.unwrap().0) }
    })
    .await
    .unwrap();
    assert_eq!(
        (delivered.received, delivered.deleted),
        (2, 2),
        "welcome and the large purchase"
    );
    let (queue, settings) = notify("AuditQueue");
    let delivered = deliver(&store, queue, &settings, 100, |event| {
        let event = json_of(&event.event_text());
        let auditor = &auditor;
        async move { reply_json(auditor.handle(event).await.unwrap().0) }
    })
    .await
    .unwrap();
    assert_eq!((delivered.received, delivered.deleted), (3, 3), "every event");
    assert_eq!(notifier.mailer.sent().len(), 2);
    assert_eq!(store.audit_records().unwrap().len(), 3);

    // Ops replay the audit rule only: three deliveries, nothing new written.
    let deliveries = bus
        .replay(
            "incident-1",
            now() - Duration::hours(1),
            now() + Duration::hours(1),
            &["AuditRule".into()],
        )
        .unwrap();
    assert_eq!(deliveries, 3);
    assert_eq!(store.queue_depth("NotifyQueue").unwrap().visible, 0);
    let (queue, settings) = notify("AuditQueue");
    let (mut stats, mut replays) = (None, 0);
    deliver(&store, queue, &settings, 100, |event| {
        let event = json_of(&event.event_text());
        replays = event["Records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["body"].as_str().unwrap().contains("\"replay-name\":\"incident-1\""))
            .count();
        let (auditor, stats) = (&auditor, &mut stats);
        async move {
            let (reply, s) = auditor.handle(event).await.unwrap();
            *stats = Some(s);
            reply_json(reply)
        }
    })
    .await
    .unwrap();
    let stats = stats.unwrap();
    assert_eq!((replays, stats.written, stats.duplicates), (3, 0, 3));
    assert_eq!(store.audit_records().unwrap().len(), 3);
}

#[tokio::test]
async fn a_failing_message_comes_back_after_its_visibility_timeout_then_goes_to_its_dlq() {
    let store = store("redrive");
    let routes = Routes::builtin();
    let settings = routes.queues["NotifyQueue"].clone();
    store.enqueue("NotifyQueue", &json!({"n": 1}).to_string()).unwrap();
    let fail_all = |event: Batch<'_>| {
        let event = json_of(&event.event_text());
        let failures: Vec<Value> = event["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| json!({"itemIdentifier": r["messageId"]}))
            .collect();
        async move { Ok::<_, String>(json!({ "batchItemFailures": failures })) }
    };
    for receive in 1..=5 {
        let delivered = deliver(&store, "NotifyQueue", &settings, 10, fail_all).await.unwrap();
        assert_eq!((delivered.received, delivered.failed), (1, 1), "receive {receive}");
        let again = deliver(&store, "NotifyQueue", &settings, 10, fail_all).await.unwrap();
        assert_eq!(again.received, 0, "invisible during its visibility timeout");
        store.clock().advance(Duration::seconds(180));
    }
    let delivered = deliver(&store, "NotifyQueue", &settings, 10, fail_all).await.unwrap();
    assert_eq!(delivered.received, 0, "past maxReceiveCount it is not received again");
    assert_eq!(store.queue_depth("NotifyQueue").unwrap(), Default::default());
    assert_eq!(store.queue_depth("NotifyDLQ").unwrap().visible, 1, "the DLQ keeps it");

    // A function error leaves the whole batch; a success deletes it.
    store.enqueue("AuditQueue", "{}").unwrap();
    let audit = routes.queues["AuditQueue"].clone();
    let failed = deliver(&store, "AuditQueue", &audit, 10, |_| async { Err("boom".to_string()) })
        .await
        .unwrap();
    assert_eq!((failed.failed, failed.function_error.as_deref()), (1, Some("boom")));
    store.clock().advance(Duration::seconds(180));
    let done = deliver(&store, "AuditQueue", &audit, 10, |_| async {
        Ok::<_, String>(json!({"batchItemFailures": []}))
    })
    .await
    .unwrap();
    assert_eq!(done.deleted, 1);
    assert_eq!(store.queue_depth("AuditQueue").unwrap(), Default::default());
}

/// A message sent and received inside a group, not deleted when it commits, is written
/// with its receive: after a restart it is still in flight, its receipt still deletes it
/// until the visibility timeout, and it then comes back received twice.
#[tokio::test]
async fn a_group_commit_writes_the_fresh_messages_still_on_their_queues_as_they_stand() {
    let store = store("fresh-messages");
    let settings = Routes::builtin().queues["NotifyQueue"].clone();
    let group = store.group();
    for n in 1..=3 {
        store.enqueue("NotifyQueue", &json!({ "n": n }).to_string()).unwrap();
    }
    let received = store.receive("NotifyQueue", &settings, 2).unwrap();
    assert_eq!(received.len(), 2);
    assert!(store.delete_message("NotifyQueue", &received[0].receipt).unwrap());
    assert!(
        !store.delete_message("NotifyQueue", &received[0].receipt).unwrap(),
        "deleted once"
    );
    assert_eq!(
        store.queue_depth("NotifyQueue").unwrap(),
        QueueDepth {
            visible: 1,
            in_flight: 1
        }
    );
    group.commit().unwrap();

    let (dir, clock) = (
        store.path().parent().unwrap().to_path_buf(),
        FrozenClock::at(store.clock().now()),
    );
    drop(store);
    let store = EmbeddedStore::open(&dir, clock).unwrap();
    assert_eq!(
        store.queue_depth("NotifyQueue").unwrap(),
        QueueDepth {
            visible: 1,
            in_flight: 1
        }
    );
    let third = store.receive("NotifyQueue", &settings, 10).unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(
        (json_of_text(&third[0].body)["n"].clone(), third[0].receive_count),
        (json!(3), 1)
    );
    store.clock().advance(Duration::seconds(180));
    let again = store.receive("NotifyQueue", &settings, 10).unwrap();
    let mut counts: Vec<(i64, u32)> = again
        .iter()
        .map(|m| (json_of_text(&m.body)["n"].as_i64().unwrap(), m.receive_count))
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        vec![(2, 2), (3, 2)],
        "both back after the timeout, the receive inside the group counted"
    );
    assert!(
        !store.delete_message("NotifyQueue", &received[1].receipt).unwrap(),
        "its old receipt is stale"
    );
}

fn json_of_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// Each SQS sample holds what template.yaml's rules route to the queue its records name
/// (`arn:…:<stack>-<QueueLogicalId>-<suffix>`, as CloudFormation names queues).
#[test]
fn the_sqs_samples_hold_exactly_what_the_rules_send_to_their_queue() {
    let routes = Routes::builtin();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events/consumers");
    for (file, queue) in [
        ("sqs-notify-queue.json", "NotifyQueue"),
        ("sqs-every-detail-type.json", "AuditQueue"),
    ] {
        let sample: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let records = sample["Records"].as_array().unwrap();
        assert!(!records.is_empty());
        for record in records {
            let arn = record["eventSourceARN"].as_str().unwrap();
            assert!(arn.contains(&format!("-{queue}-")), "{file}: {arn}");
            let event: serde_json::Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
            let queues: Vec<&str> = routes.matching(&event).map(|r| r.queue.as_str()).collect();
            assert!(
                queues.contains(&queue),
                "{file}: {} goes to {queues:?}",
                event["detail-type"]
            );
            let sent = record["attributes"]["SentTimestamp"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap();
            let time = chrono::DateTime::parse_from_rfc3339(event["time"].as_str().unwrap()).unwrap();
            let lag = sent - time.timestamp_millis();
            assert!(
                (0..60_000).contains(&lag),
                "{file}: sent {lag} ms after the event's time"
            );
        }
    }
}

/// The bus routes an entry on the part of its event the rules read and delivers the detail
/// as its producer wrote it; a detail that reaches past its own end is refused, and one a
/// JSON tree cannot hold takes the general path (delivered with a null detail).
#[tokio::test]
async fn an_entry_is_routed_on_what_the_rules_read_and_its_detail_cannot_reach_the_envelope() {
    use txn_notify::ports::{BusEntry, EntryResult, EventBus};
    let store = store("projection");
    let bus = EmbeddedBus::new(Arc::clone(&store), Routes::builtin());
    let entry = |bus_name: &str, source: &str, detail_type: &str, detail: &str| BusEntry {
        source: source.to_string().into(),
        detail_type: detail_type.to_string().into(),
        detail: detail.to_string(),
        event_bus_name: bus_name.to_string(),
        resources: vec![],
        time: None,
    };
    let tags = |set: &str| {
        format!(
            r#"{{ "eventType":"Delivery", "mail": {{"messageId":"m-1", "tags": {{"ses:configuration-set": ["{set}"], "other": ["x"]}}}} }}"#
        )
    };
    let ours = txn_notify::template::CONFIGURATION_SET;
    let spelled = r#"{ "z": 1, "account_id": "acc-1",  "event_id": "e-\u00e9" }"#;
    let entries = [
        entry("txn-notify", "txn-notify", "Transaction Recorded", spelled),
        entry("default", "aws.ses", "Email Delivered", &tags(ours)),
        entry("default", "aws.ses", "Email Delivered", &tags("someone-else")),
        entry("default", "x", "Email Delivered", r#"{"a":1},"source":"aws.ses""#),
        entry("txn-notify", "txn-notify", "Weekly Statement", r#"{"a":1} {"b":2}"#),
        entry("txn-notify", "txn-notify", "Account Opened", r#"{"big":1e400}"#),
    ];
    let results = bus.put_events(&entries.iter().collect::<Vec<_>>()).await.unwrap();
    let refused = |result: &EntryResult| matches!(result, EntryResult::Failed { error_code, .. } if error_code == "MalformedDetail");
    assert!(matches!(results[0], EntryResult::Accepted { .. }));
    assert!(matches!(results[1], EntryResult::Accepted { .. }));
    assert!(matches!(results[2], EntryResult::Accepted { .. }));
    assert!(refused(&results[3]), "{:?}", results[3]);
    assert!(refused(&results[4]), "{:?}", results[4]);
    assert!(matches!(results[5], EntryResult::Accepted { .. }));

    let settings = Routes::builtin().queues["NotifyQueue"].clone();
    let bodies = |queue: &str| -> Vec<String> {
        store
            .receive(queue, &settings, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.body)
            .collect()
    };
    // Sent in the same millisecond: received in either order.
    let mut notify = bodies("NotifyQueue");
    assert_eq!(notify.len(), 2, "{notify:?}");
    notify.sort_by_key(|body| !body.contains("Transaction Recorded"));
    assert!(notify[0].contains(&format!(r#""detail":{spelled},"#)), "{}", notify[0]);
    let event = json_of_text(&notify[0]);
    assert_eq!(
        (&event["source"], &event["detail-type"], &event["detail"]),
        (
            &json!("txn-notify"),
            &json!("Transaction Recorded"),
            &json!({"z": 1, "account_id": "acc-1", "event_id": "e-é"})
        )
    );
    assert_eq!(json_of_text(&notify[1])["detail"], Value::Null, "{}", notify[1]);
    assert_eq!(bodies("AuditQueue").len(), 2);
    let feedback = bodies("FeedbackQueue");
    assert_eq!(feedback.len(), 1, "only our configuration set's events: {feedback:?}");
    assert_eq!(json_of_text(&feedback[0])["detail"]["mail"]["messageId"], json!("m-1"));
    let archived = store
        .archived_events(now() - Duration::days(1), now() + Duration::days(1))
        .unwrap();
    assert_eq!(archived.len(), 2, "ours only, as the archive's pattern says");
}
