//! Every event the processor emits validates against the JSON Schema (Draft 4) of its
//! detail-type, and every detail-type has a schema. The corpus: every file in events/,
//! a generated 10,000-record batch and a constructed Weekly Statement.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde_json::Value;
use txn_notify::domain::*;
use txn_notify::domain::{Currency, DetailType, Money};
use txn_notify::local::memory::{MemoryBus, MemoryLedger};
use txn_notify::ports::BusEntry;

fn schema_of(detail_type: DetailType) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(detail_type.schema_file());
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{detail_type} has no schema at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

struct Validators(HashMap<String, jsonschema::Validator>);

impl Validators {
    fn new() -> Self {
        let mut validators = HashMap::new();
        for detail_type in DetailType::ALL {
            let schema = schema_of(*detail_type);
            assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
            assert_eq!(schema["x-amazon-events-detail-type"], detail_type.as_str());
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft4)
                .should_validate_formats(true)
                .build(&schema)
                .unwrap_or_else(|e| panic!("{detail_type}: not a valid Draft 4 schema: {e}"));
            validators.insert(detail_type.as_str().to_string(), validator);
        }
        Validators(validators)
    }

    fn check(&self, detail_type: &str, detail: &Value) -> Result<(), String> {
        let validator = self
            .0
            .get(detail_type)
            .ok_or_else(|| format!("no schema for detail-type {detail_type:?}"))?;
        let errors: Vec<String> = validator
            .iter_errors(detail)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{detail_type}: {errors:#?}"))
        }
    }

    fn check_all(&self, entries: &[BusEntry]) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        for entry in entries {
            assert_eq!(entry.source, "txn-notify");
            let detail: Value = serde_json::from_str(&entry.detail).unwrap();
            if let Err(e) = self.check(&entry.detail_type, &detail) {
                panic!("{e}\nin {}", entry.detail);
            }
            seen.insert(entry.detail_type.to_string());
        }
        seen
    }
}

async fn published_for(event: &Value) -> Vec<BusEntry> {
    let ledger = MemoryLedger::new();
    ledger.load_stream_images(event);
    let processor = common::processor(ledger, MemoryBus::new());
    common::run(&processor, event).await;
    processor.bus.published()
}

#[tokio::test]
async fn every_emitted_event_validates_against_its_schema() {
    let validators = Validators::new();
    let mut seen = BTreeSet::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            seen.extend(validators.check_all(&published_for(&event).await));
            files += 1;
        }
    }
    assert!(files >= 4);
    let generated = txn_notify::workload::stream::to_stream_event(&txn_notify::workload::generate(
        &txn_notify::workload::WorkloadSpec::new(300, 9_500, 21),
    ));
    assert!(generated["Records"].as_array().unwrap().len() >= 10_000);
    seen.extend(validators.check_all(&published_for(&generated).await));
    // The processor emits every detail-type but the digest's and the notifier's and
    // feedback's (checked below).
    let expected: BTreeSet<String> = DetailType::ALL
        .iter()
        .filter(|d| ![DetailType::WeeklyStatement, DetailType::NotificationUndeliverable].contains(d))
        .map(|d| d.as_str().to_string())
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn a_weekly_statement_validates_against_its_schema() {
    let date = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
    let statement = WeeklyStatement {
        header: Header::new(
            txn_notify::domain::event_id::for_weekly_statement("acc-1", "2026-11-16"),
            "acc-1",
            common::now(),
        ),
        week: StatementWeek {
            start: date("2026-11-16"),
            end: date("2026-11-23"),
            time_zone: "Europe/Paris".into(),
        },
        totals_by_category: vec![CategoryTotal {
            category: txn_notify::domain::Category::Groceries,
            total: Money::new(4599, Currency::EUR).into(),
        }],
        money_in: vec![Money::new(20000, Currency::EUR).into()],
        money_out: vec![Money::new(4599, Currency::EUR).into()],
        transaction_count: 1,
        transactions: vec![StatementLine {
            transaction_id: "t-1".into(),
            booked_at: common::now(),
            kind: txn_notify::domain::TransactionKind::CardPurchase,
            status: txn_notify::domain::TransactionStatus::Approved,
            amount: Money::new(4599, Currency::EUR),
            category: txn_notify::domain::Category::Groceries,
            merchant_name: Some("Carrefour City".into()),
        }],
        truncated: false,
        severity: Severity::Info,
    };
    let event = BusEvent::WeeklyStatement(statement);
    let detail: Value = serde_json::from_str(&event.detail_json()).unwrap();
    Validators::new().check("Weekly Statement", &detail).unwrap();
}

#[test]
fn the_schemas_reject_what_the_contract_forbids() {
    let validators = Validators::new();
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("events/transaction-insert.json")).unwrap(),
    )
    .unwrap();
    let entries = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(published_for(&event));
    let good: Value = serde_json::from_str(&entries[0].detail).unwrap();
    validators.check("Transaction Recorded", &good).unwrap();
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut detail = good.clone();
        edit(&mut detail);
        validators.check("Transaction Recorded", &detail)
    };
    assert!(
        broken(&|d| d["transaction"]["amount_minor"] = serde_json::json!(12.5)).is_err(),
        "a float amount"
    );
    assert!(
        broken(&|d| d["transaction"]["amount_minor"] = serde_json::json!(0)).is_err(),
        "a zero amount"
    );
    assert!(broken(&|d| d["transaction"]["currency"] = serde_json::json!("euro")).is_err());
    assert!(broken(&|d| d["transaction"]["card_last4"] = serde_json::json!("4111111111111111")).is_err());
    assert!(
        broken(&|d| {
            d.as_object_mut().unwrap().remove("event_id");
        })
        .is_err()
    );
    assert!(broken(&|d| d["surprise"] = serde_json::json!(1)).is_err());
    assert!(broken(&|d| d["occurred_at"] = serde_json::json!("yesterday")).is_err());
    assert!(
        validators.check("Transaction Settled", &good).is_err(),
        "an unknown detail-type has no schema"
    );
}

/// Notification Undeliverable comes from the notifier (an email suppressed because the
/// address is undeliverable) and from feedback (a bounce, a complaint): both validate.
#[tokio::test]
async fn notification_undeliverable_events_validate_against_their_schema() {
    use txn_notify::clock::FrozenClock;
    use txn_notify::local::embedded::FixedSecret;
    use txn_notify::local::memory::{MemoryAuditLog, MemoryIdempotency, MemoryMailer};
    use txn_notify::pipeline::feedback::{Feedback, FeedbackConfig};
    use txn_notify::pipeline::notify::{Notifier, NotifyConfig};
    use txn_notify::ports::Ledger;
    let validators = Validators::new();

    let batch: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("events/feedback/sqs-feedback-batch.json"))
            .unwrap(),
    )
    .unwrap();
    let ledger = MemoryLedger::new();
    let seed: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("events/ledger/sample.json")).unwrap(),
    )
    .unwrap();
    for item in seed["Items"].as_array().unwrap() {
        ledger.put(serde_json::from_value(item.clone()).unwrap());
    }
    let feedback = Feedback::new(
        ledger,
        common::sent_notifications_for(&batch).await,
        MemoryBus::new(),
        MemoryIdempotency::new(),
        FrozenClock::at(common::now()),
        FeedbackConfig::new(txn_notify::template::CONFIGURATION_SET, "txn-notify"),
    );
    feedback.handle(batch).await.unwrap();
    let from_feedback = feedback.bus.published();
    assert_eq!(from_feedback.len(), 2, "the bounce and the complaint of the sample");

    // A warning that the notifier cannot send: the address bounced before.
    let generated = txn_notify::workload::stream::to_stream_event(&txn_notify::workload::generate(
        &txn_notify::workload::WorkloadSpec::new(50, 1_000, 5),
    ));
    let published = published_for(&generated).await;
    let (entry, detail) = published
        .iter()
        .filter(|e| e.detail_type == "Transaction Recorded")
        .map(|e| (e, serde_json::from_str::<Value>(&e.detail).unwrap()))
        .find(|(_, d)| d["severity"] == "warning" || d["severity"] == "critical")
        .expect("a transaction with a finding of warning or above");
    let ledger = MemoryLedger::new();
    ledger.load_stream_images(&generated);
    let account_id = detail["account_id"].as_str().unwrap();
    let mut account = ledger.get_account(account_id).await.unwrap().unwrap();
    account.email_status = Some(EmailStatus::undeliverable(
        account.email.expose(),
        UndeliverableReason::Bounce,
        common::now(),
    ));
    let version = account.version;
    account.version += 1;
    ledger.update_account(&account, version).await.unwrap();
    let notifier = Notifier::new(
        ledger,
        MemoryMailer::new(),
        MemoryBus::new(),
        MemoryIdempotency::new(),
        MemoryAuditLog::new(),
        FixedSecret::new(b"schema-test-secret"),
        FrozenClock::at(common::now()),
        NotifyConfig::new(Mailbox::new(Some("txn-notify"), "alerts@txn-notify.example").unwrap()),
    );
    let envelope = entry.envelope("env-1", "123456789012", "eu-west-1", common::now());
    notifier.handle(envelope).await.unwrap();
    assert!(notifier.mailer.sent().is_empty(), "nothing to an undeliverable address");
    let from_notifier = notifier.bus.published();
    assert_eq!(from_notifier.len(), 1);

    for entry in from_feedback.iter().chain(&from_notifier) {
        assert_eq!(entry.detail_type, "Notification Undeliverable");
        let detail: Value = serde_json::from_str(&entry.detail).unwrap();
        validators.check(&entry.detail_type, &detail).unwrap();
    }
    let suppressed: Value = serde_json::from_str(&from_notifier[0].detail).unwrap();
    assert_eq!(suppressed["reason"], "address_undeliverable");
    assert_eq!(suppressed["original_event_id"], detail["event_id"]);
    assert!(!suppressed["findings"].as_array().unwrap().is_empty(), "{suppressed}");
}
