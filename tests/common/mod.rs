//! Builders shared by the integration tests: accounts, transactions, stream batches and a
//! processor on in-memory adapters with a frozen clock.
#![allow(dead_code)]

pub mod audit_contract;
pub mod bus_contract;
pub mod clock_contract;
pub mod idempotency_contract;
pub mod ledger_contract;
pub mod mailer_contract;
pub mod notification_contract;
pub mod queue_contract;
pub mod secrets_contract;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_dynamo::Item;
use serde_json::Value;

use txn_notify::clock::FrozenClock;
use txn_notify::domain::CountryCode;
use txn_notify::domain::Pii;
use txn_notify::domain::{Account, Currency, Money, Transaction};
use txn_notify::domain::{AccountStatus, AccountThresholds, Holder, Locale, Preferences};
use txn_notify::domain::{Channel, Mcc, Merchant, TransactionKind, TransactionStatus};
use txn_notify::local::memory::{MemoryBus, MemoryLedger};
use txn_notify::pipeline::{BatchOutcome, Processor, ProcessorConfig, StreamBatch};
use txn_notify::ports::BusEntry;
use txn_notify::rules::Rules;
use txn_notify::workload::LedgerWrite;
use txn_notify::workload::stream::to_stream_event;

/// A fresh folder under the system's temporary directory, unique to this process and call.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "txn-notify-{name}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// An embedded store in a fresh folder, its clock frozen at `now()`.
pub fn frozen_store(name: &str) -> txn_notify::local::embedded::store::EmbeddedStore<FrozenClock> {
    txn_notify::local::embedded::store::EmbeddedStore::open(&temp_dir(name), FrozenClock::at(now())).unwrap()
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 18, 0, 0).unwrap()
}

pub fn account(id: &str, country: &str, currency: Currency) -> Account {
    Account {
        account_id: id.into(),
        holder: Holder {
            first_name: Pii("Marie".into()),
            last_name: Pii("Dupont".into()),
        },
        email: Pii(format!("{id}@example.com")),
        locale: Locale::Fr,
        country: CountryCode::parse(country).unwrap(),
        currency,
        status: AccountStatus::Active,
        created_at: Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap(),
        thresholds: AccountThresholds::default(),
        preferences: Preferences::default(),
        time_zone: None,
        version: 1,
        email_status: None,
        previous_email: None,
        updated_at: None,
    }
}

/// An approved card purchase at a grocery shop in France.
pub fn purchase(id: &str, account_id: &str, amount_minor: i64, currency: Currency) -> Transaction {
    Transaction {
        transaction_id: id.into(),
        account_id: account_id.into(),
        kind: TransactionKind::CardPurchase,
        status: TransactionStatus::Approved,
        decline_reason: None,
        amount: Money::new(amount_minor, currency),
        balance_after_minor: None,
        channel: Channel::Pos,
        merchant: Some(Merchant {
            name: "Carrefour City".into(),
            mcc: Mcc::parse("5411").unwrap(),
            country: CountryCode::parse("FR").unwrap(),
            city: None,
        }),
        card_last4: Some("4242".into()),
        booked_at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap(),
        metadata: None,
    }
}

pub fn insert(item: Item) -> LedgerWrite {
    LedgerWrite::Insert {
        item,
        at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 1).unwrap(),
    }
}

pub fn insert_txn(transaction: &Transaction) -> LedgerWrite {
    insert(transaction.to_item())
}

/// The stream event of these writes, as JSON, with increasing sequence numbers.
pub fn stream_event(writes: &[LedgerWrite]) -> Value {
    to_stream_event(writes)
}

/// The batch of an event: it borrows its text, which a test keeps to its end.
pub fn batch_of(event: &Value) -> StreamBatch<'static> {
    StreamBatch::from_json(Box::leak(event.to_string().into_boxed_str())).unwrap()
}

pub fn sequence_numbers(event: &Value) -> Vec<String> {
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap().to_string())
        .collect()
}

pub type TestProcessor = Processor<MemoryLedger, MemoryBus, FrozenClock>;

pub fn processor(ledger: MemoryLedger, bus: MemoryBus) -> TestProcessor {
    processor_with(ledger, bus, Rules::builtin())
}

pub fn processor_with(ledger: MemoryLedger, bus: MemoryBus, rules: Rules) -> TestProcessor {
    Processor::new(
        ledger,
        bus,
        FrozenClock::at(now()),
        Arc::new(rules),
        ProcessorConfig::new("txn-notify"),
    )
}

pub fn ledger_with(accounts: &[Account]) -> MemoryLedger {
    let ledger = MemoryLedger::new();
    for account in accounts {
        ledger.insert_account(account);
    }
    ledger
}

pub async fn run(processor: &TestProcessor, event: &Value) -> BatchOutcome {
    processor.process_batch(batch_of(event)).await
}

pub fn failures(outcome: &BatchOutcome) -> Vec<String> {
    outcome
        .response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect()
}

pub fn detail(entry: &BusEntry) -> Value {
    serde_json::from_str(&entry.detail).unwrap()
}

pub fn detail_types(entries: &[BusEntry]) -> Vec<String> {
    entries.iter().map(|e| e.detail_type.to_string()).collect()
}

/// The transaction id an entry is about, if any.
pub fn transaction_id(entry: &BusEntry) -> Option<String> {
    detail(entry)["transaction"]["transaction_id"]
        .as_str()
        .map(str::to_string)
}

/// An audit trail holding, as sent, every email of our configuration set the batch's SES
/// events are about (as the notifier would have recorded them).
pub async fn sent_notifications_for(batch: &Value) -> txn_notify::local::memory::MemoryAuditLog {
    use txn_notify::domain::{Decision, DeliveryState, Notification, NotificationEmail, Recipient};
    use txn_notify::ports::NotificationLog;
    let log = txn_notify::local::memory::MemoryAuditLog::new();
    for record in batch["Records"].as_array().unwrap() {
        let event: Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
        let feedback = txn_notify::pipeline::feedback::SesFeedback::from_event(
            event["detail-type"].as_str().unwrap(),
            &event["detail"].to_string(),
        )
        .unwrap();
        if feedback.configuration_set.as_deref() != Some(txn_notify::template::CONFIGURATION_SET) {
            continue;
        }
        let notification = Notification {
            event_id: feedback.event_id.clone().unwrap(),
            account_id: feedback.account_id.clone().unwrap(),
            detail_type: feedback.detail_type.unwrap().as_str().to_string(),
            occurred_at: feedback.timestamp,
            transaction_id: feedback.transaction_id.clone(),
            decision: Decision::Sent,
            reason: None,
            emails: vec![NotificationEmail {
                template: feedback.template.clone().unwrap(),
                to: Recipient::Account,
                message_id: Some(feedback.message_id.clone()),
                delivery_state: DeliveryState::Sent,
                delivery_state_at: feedback.timestamp,
            }],
            decided_at: feedback.timestamp,
            expires_at: feedback.timestamp.timestamp() + 86_400,
        };
        log.record_notification(&notification).await.unwrap();
    }
    log
}
