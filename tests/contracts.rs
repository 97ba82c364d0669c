//! Every port that has more than one adapter, through one contract test per port, on the
//! in-memory adapters and the embedded store (tests/emulators/contracts.rs runs the same
//! contracts on DynamoDB Local and moto). An adapter that drifts from the others fails here.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Duration;
use serde_json::Value;

use txn_notify::clock::{FrozenClock, SkippingClock, SystemClock};
use txn_notify::local::embedded::FixedSecret;
use txn_notify::local::embedded::bus::EmbeddedBus;
use txn_notify::local::embedded::store::EmbeddedStore;
use txn_notify::local::embedded::{OutboxLayout, OutboxMailer};
use txn_notify::local::memory::MemoryMailer;
use txn_notify::local::memory::{MemoryAuditLog, MemoryBus, MemoryIdempotency, MemoryLedger, MemorySecrets};
use txn_notify::ports::Clock;
use txn_notify::template::{QueueSettings, Routes};

use common::audit_contract::audit_contract;
use common::bus_contract::bus_contract;
use common::clock_contract::{Sleeps, clock_contract};
use common::idempotency_contract::idempotency_contract;
use common::ledger_contract::ledger_contract;
use common::mailer_contract::mailer_contract;
use common::notification_contract::notification_contract;
use common::queue_contract::{MAX_RECEIVES, QueueUnderTest, Received, VISIBILITY, queue_contract};
use common::secrets_contract::{fresh_secret_contract, secrets_contract};

/// Looks at a queue of the store without taking anything off it (a visibility timeout of
/// zero, as one peeks at an SQS queue).
fn peek(store: &EmbeddedStore<FrozenClock>, queue: &str) -> Vec<String> {
    let peek = QueueSettings {
        visibility_timeout: std::time::Duration::ZERO,
        max_receive_count: None,
        dead_letter_queue: None,
    };
    store
        .receive(queue, &peek, 100)
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect()
}

#[tokio::test]
async fn the_wall_the_skipping_and_the_frozen_clocks_keep_the_clock_contract() {
    clock_contract(&SystemClock, Sleeps::LetTimePass).await;
    let skipping = SkippingClock::new();
    clock_contract(&skipping, Sleeps::LetTimePass).await;
    assert!(
        skipping.skipped() >= std::time::Duration::from_millis(20),
        "it skipped ahead, it did not wait"
    );
    let frozen = FrozenClock::at(common::now());
    clock_contract(&frozen, Sleeps::KeepTimeStill).await;
    assert_eq!(
        frozen.sleeps()[0],
        std::time::Duration::from_millis(20),
        "the sleep was recorded"
    );
}

#[tokio::test]
async fn the_embedded_and_in_memory_ledgers_keep_the_ledger_contract() {
    ledger_contract(&MemoryLedger::new()).await;
    ledger_contract(&common::frozen_store("ledger")).await;
}

#[tokio::test]
async fn the_embedded_and_in_memory_stores_keep_the_idempotency_contract() {
    idempotency_contract(&MemoryIdempotency::new(), "memory").await;
    idempotency_contract(&common::frozen_store("idempotency"), "embedded").await;
}

#[tokio::test]
async fn the_embedded_and_in_memory_audit_logs_keep_the_notification_contract() {
    notification_contract(&MemoryAuditLog::new(), "memory").await;
    notification_contract(&common::frozen_store("notifications"), "embedded").await;
}

#[tokio::test]
async fn the_embedded_and_in_memory_audit_logs_keep_the_audit_contract() {
    let memory = MemoryAuditLog::new();
    audit_contract(&memory, "memory", |event_id| {
        let found = memory
            .records()
            .into_iter()
            .find(|r| r.event_id == event_id)
            .map(|r| serde_json::to_value(r).unwrap());
        async move { found }
    })
    .await;
    let embedded = common::frozen_store("audit");
    audit_contract(&embedded, "embedded", |event_id| {
        let found = embedded
            .audit_records()
            .unwrap()
            .into_iter()
            .find(|r| r["event_id"] == event_id.as_str());
        async move { found }
    })
    .await;
    assert_eq!(embedded.audit_count().unwrap(), 4);
}

#[tokio::test]
async fn the_embedded_and_in_memory_buses_keep_the_bus_contract() {
    let memory = MemoryBus::new();
    bus_contract(&memory, "txn-notify", || {
        let types = memory
            .published()
            .into_iter()
            .map(|e| e.detail_type.into_owned())
            .collect();
        async move { types }
    })
    .await;

    let embedded = Arc::new(common::frozen_store("bus"));
    let bus = EmbeddedBus::new(Arc::clone(&embedded), Routes::builtin());
    bus_contract(&bus, "txn-notify", || {
        let types = peek(&embedded, "AuditQueue")
            .iter()
            .map(|body| {
                let event: Value = serde_json::from_str(body).unwrap();
                event["detail-type"].as_str().unwrap().to_string()
            })
            .collect();
        async move { types }
    })
    .await;
}

#[tokio::test]
async fn the_in_memory_mailer_and_the_outbox_keep_the_mailer_contract() {
    let memory = MemoryMailer::new();
    mailer_contract(&memory, "alerts@txn-notify.example", "memory", || {
        let subjects = memory
            .sent()
            .into_iter()
            .map(|s| s.email.subject.as_str().to_string())
            .collect();
        async move { subjects }
    })
    .await;

    for layout in [OutboxLayout::EmlFiles, OutboxLayout::Mailboxes] {
        let dir = common::temp_dir(&format!("outbox-{layout:?}"));
        let embedded = Arc::new(EmbeddedStore::open(&dir, FrozenClock::at(common::now())).unwrap());
        let folder = dir.join("outbox");
        let layout = OutboxLayout::prepare(&embedded, &folder, layout).unwrap();
        let outbox = OutboxMailer::new(Arc::clone(&embedded), folder, layout);
        mailer_contract(&outbox, "alerts@txn-notify.example", "outbox", || {
            let subjects = embedded.outbox().unwrap().into_iter().map(|e| e.subject).collect();
            async move { subjects }
        })
        .await;
        // Each email the index holds reads back whole, in either layout.
        let entries = embedded.outbox().unwrap();
        assert!(!entries.is_empty());
        for entry in entries {
            let text = outbox.read_email(entry.number).unwrap().expect("an indexed email");
            let message = mail_parser::MessageParser::default().parse(text.as_bytes()).unwrap();
            assert_eq!(message.subject(), Some(entry.subject.as_str()), "{layout:?}");
            assert_eq!(
                message.message_id(),
                Some(format!("{:06}@outbox.txn-notify.local", entry.number).as_str())
            );
        }
        assert_eq!(outbox.read_email(999).unwrap(), None);
    }
}

#[tokio::test]
async fn the_fixed_secret_of_the_embedded_runtime_keeps_the_secrets_contract() {
    fresh_secret_contract(&FixedSecret::new(b"first-secret"), b"first-secret").await;
}

#[tokio::test]
async fn the_in_memory_secrets_keep_the_secrets_contract() {
    let secrets = MemorySecrets::new(b"first-secret");
    secrets_contract(&secrets, b"first-secret", |next| {
        secrets.rotate(next);
        async {}
    })
    .await;
}

/// A queue of the embedded store, its clock moved on by hand.
struct EmbeddedQueue {
    store: EmbeddedStore<FrozenClock>,
    settings: QueueSettings,
    /// Inside a group, whether each send is committed at once (its message then lives on
    /// disk) or stays fresh in memory until the group ends.
    commit_sends: bool,
}

impl QueueUnderTest for EmbeddedQueue {
    async fn send(&self, body: &str) {
        self.store.enqueue("Queue", body).unwrap();
        if self.commit_sends {
            self.store.commit_pending().unwrap();
        }
    }

    async fn receive(&self, max: usize) -> Vec<Received> {
        self.store
            .receive("Queue", &self.settings, max)
            .unwrap()
            .into_iter()
            .map(|m| Received {
                receipt: m.receipt,
                body: m.body,
                receive_count: m.receive_count,
            })
            .collect()
    }

    async fn delete(&self, receipt: &str) {
        assert!(self.store.delete_message("Queue", receipt).unwrap());
    }

    async fn dead_letters(&self) -> BTreeSet<String> {
        peek(&self.store, "QueueDLQ").into_iter().collect()
    }

    async fn wait(&self, by: std::time::Duration) {
        self.store.clock().advance(Duration::from_std(by).unwrap());
    }
}

fn embedded_queue(name: &str, commit_sends: bool) -> EmbeddedQueue {
    EmbeddedQueue {
        store: common::frozen_store(name),
        settings: QueueSettings {
            visibility_timeout: VISIBILITY,
            max_receive_count: Some(MAX_RECEIVES),
            dead_letter_queue: Some("QueueDLQ".into()),
        },
        commit_sends,
    }
}

#[tokio::test]
async fn the_embedded_queues_keep_the_queue_contract() {
    queue_contract(&embedded_queue("queues", false)).await;
}

/// Inside a group commit, messages sent stay in memory until the group commits: the
/// contract holds on them, and on messages the group committed on the way.
#[tokio::test]
async fn the_embedded_queues_keep_the_queue_contract_inside_a_group_commit() {
    for commit_sends in [false, true] {
        let queue = embedded_queue(&format!("queues-grouped-{commit_sends}"), commit_sends);
        let group = queue.store.group();
        queue_contract(&queue).await;
        group.commit().unwrap();
        // What the group left on the queues is what the file holds.
        let (dir, clock) = (
            queue.store.path().parent().unwrap().to_path_buf(),
            FrozenClock::at(queue.store.clock().now()),
        );
        drop(queue);
        let reopened = EmbeddedStore::open(&dir, clock).unwrap();
        assert_eq!(reopened.queue_depth("Queue").unwrap(), Default::default());
        assert_eq!(
            peek(&reopened, "QueueDLQ").into_iter().collect::<BTreeSet<_>>(),
            BTreeSet::from(["m2".to_string(), "m3".to_string()])
        );
    }
}
