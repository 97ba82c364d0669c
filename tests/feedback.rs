//! The feedback use case against the table of docs/feedback.md, row by row, on in-memory
//! adapters: SES's events as its EventBridge events carry them, in SQS batches.

mod common;

use serde_json::{Value, json};
use txn_notify::clock::FrozenClock;
use txn_notify::domain::ses_tag_value;
use txn_notify::domain::{Account, Decision, DeliveryState, Notification, NotificationEmail, Pii, Recipient};
use txn_notify::local::memory::{MemoryAuditLog, MemoryBus, MemoryIdempotency, MemoryLedger};
use txn_notify::pipeline::Reply;
use txn_notify::pipeline::feedback::{Feedback, FeedbackConfig, FeedbackStats};
use txn_notify::ports::{Ledger, NotificationLog, PortError};

const SET: &str = "txn-notify-emails";
const EVENT: &str = "3f8c2a10-5d7e-5b4a-9c1d-2e6f7a8b9c01";
const MESSAGE: &str = "0102019a-ses-0001";
const ADDRESS: &str = "marie.dupont@example.com";

type TestFeedback = Feedback<MemoryLedger, MemoryAuditLog, MemoryBus, MemoryIdempotency, FrozenClock>;

fn account() -> Account {
    let mut account = common::account("bank:acc-1", "FR", txn_notify::domain::Currency::EUR);
    account.email = Pii(ADDRESS.into());
    account
}

fn notification(message_ids: &[&str]) -> Notification {
    Notification {
        event_id: EVENT.into(),
        account_id: "bank:acc-1".into(),
        detail_type: "Transaction Recorded".into(),
        occurred_at: common::now(),
        transaction_id: Some("t-1".into()),
        decision: Decision::Sent,
        reason: None,
        emails: message_ids
            .iter()
            .map(|id| NotificationEmail {
                template: "transaction".into(),
                to: Recipient::Account,
                message_id: Some(id.to_string()),
                delivery_state: DeliveryState::Sent,
                delivery_state_at: common::now(),
            })
            .collect(),
        decided_at: common::now(),
        expires_at: common::now().timestamp() + 86_400,
    }
}

async fn feedback_with(bus: MemoryBus) -> TestFeedback {
    let ledger = MemoryLedger::new();
    ledger.put_account(&account()).await.unwrap();
    let log = MemoryAuditLog::new();
    log.record_notification(&notification(&[MESSAGE])).await.unwrap();
    Feedback::new(
        ledger,
        log,
        bus,
        MemoryIdempotency::new(),
        FrozenClock::at(common::now()),
        FeedbackConfig::new(SET, "txn-notify"),
    )
}

async fn feedback() -> TestFeedback {
    feedback_with(MemoryBus::new()).await
}

/// The `mail` object of SES's event record, tagged as the notifier tags (SES's encoding).
fn mail(message_id: &str, set: &str) -> Value {
    let tag = |value: &str| json!([ses_tag_value(value).unwrap()]);
    json!({
        "timestamp": "2026-11-20T18:00:00.000Z",
        "source": "alerts@bank.example",
        "messageId": message_id,
        "destination": [ADDRESS],
        "tags": {
            "ses:configuration-set": [set],
            "event_id": tag(EVENT),
            "account_id": tag("bank:acc-1"),
            "template": tag("transaction"),
            "detail_type": tag("Transaction_Recorded"),
            "transaction_id": tag("t-1"),
            "severity": tag("critical"),
        }
    })
}

fn ses(detail_type: &str, event_type: &str, key: &str, body: Value, mail: Value) -> Value {
    let mut detail = json!({"eventType": event_type, "mail": mail});
    if !key.is_empty() {
        detail[key] = body;
    }
    json!({"version": "0", "id": format!("env-{event_type}"), "detail-type": detail_type, "source": "aws.ses",
           "account": "123456789012", "time": "2026-11-20T18:00:05Z", "region": "eu-west-1", "resources": [],
           "detail": detail})
}

fn delivered() -> Value {
    ses(
        "Email Delivered",
        "Delivery",
        "delivery",
        json!({"timestamp": "2026-11-20T18:00:01Z", "recipients": [ADDRESS]}),
        mail(MESSAGE, SET),
    )
}

fn bounced(bounce_type: &str, address: &str) -> Value {
    ses(
        "Email Bounced",
        "Bounce",
        "bounce",
        json!({"bounceType": bounce_type, "bounceSubType": "General", "feedbackId": "fb-1",
               "timestamp": "2026-11-20T18:00:03Z",
               "bouncedRecipients": [{"emailAddress": address, "status": "5.1.1"}]}),
        mail(MESSAGE, SET),
    )
}

fn complained() -> Value {
    ses(
        "Email Complaint Received",
        "Complaint",
        "complaint",
        json!({"feedbackId": "fb-2", "timestamp": "2026-11-20T19:00:00Z",
               "complainedRecipients": [{"emailAddress": ADDRESS}]}),
        mail(MESSAGE, SET),
    )
}

fn rejected() -> Value {
    ses(
        "Email Rejected",
        "Reject",
        "reject",
        json!({"reason": "Bad content"}),
        mail(MESSAGE, SET),
    )
}

fn batch(events: &[Value]) -> Value {
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            json!({"messageId": format!("m-{i}"), "receiptHandle": "r", "body": event.to_string(),
                   "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:FeedbackQueue", "awsRegion": "eu-west-1"})
        })
        .collect();
    json!({ "Records": records })
}

async fn run(feedback: &TestFeedback, events: &[Value]) -> (Vec<String>, FeedbackStats) {
    let (reply, stats) = feedback.handle(batch(events)).await.unwrap();
    let Reply::Batch(response) = reply else {
        panic!("an SQS batch gets a batch reply")
    };
    (
        response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect(),
        stats,
    )
}

async fn state_of(feedback: &TestFeedback) -> DeliveryState {
    let page = feedback
        .notifications
        .notifications(&txn_notify::ports::NotificationQuery {
            account_id: "bank:acc-1",
            limit: 10,
            after: None,
        })
        .await
        .unwrap();
    page.notifications[0].emails[0].delivery_state
}

async fn stored(feedback: &TestFeedback) -> Account {
    feedback.ledger.get_account("bank:acc-1").await.unwrap().unwrap()
}

fn undeliverable(bus: &MemoryBus) -> Vec<Value> {
    bus.published()
        .iter()
        .filter(|e| e.detail_type == "Notification Undeliverable")
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect()
}

#[tokio::test]
async fn a_delivery_moves_the_state_and_a_late_one_never_overwrites_a_bounce() {
    let feedback = feedback().await;
    let (failed, stats) = run(&feedback, &[delivered()]).await;
    assert!(failed.is_empty());
    assert_eq!((stats.moved, stats.by_event_type["Delivery"]), (1, 1));
    assert_eq!(state_of(&feedback).await, DeliveryState::Delivered);
    // A complaint comes after delivery: the state moves on, the address is marked.
    let (_, stats) = run(&feedback, &[complained()]).await;
    assert_eq!((stats.moved, stats.addresses_marked, stats.undeliverable), (1, 1, 1));
    assert_eq!(state_of(&feedback).await, DeliveryState::Complained);
    // A bounce, a delivery, a delay after a final state: nothing moves.
    let (_, stats) = run(&feedback, &[delivered(), bounced("Transient", ADDRESS)]).await;
    assert_eq!((stats.moved, stats.unchanged, stats.undeliverable), (0, 2, 0));
    assert_eq!(state_of(&feedback).await, DeliveryState::Complained);
    let status = stored(&feedback).await.email_status.unwrap();
    assert_eq!(status.reason.as_str(), "complaint");
}

#[tokio::test]
async fn a_permanent_bounce_marks_the_address_reports_it_once_and_a_redelivery_changes_nothing() {
    let feedback = feedback().await;
    let (failed, stats) = run(&feedback, &[bounced("Permanent", "Marie.Dupont@Example.com")]).await;
    assert!(failed.is_empty());
    assert_eq!((stats.addresses_marked, stats.undeliverable), (1, 1));
    assert_eq!(state_of(&feedback).await, DeliveryState::Bounced);
    let account = stored(&feedback).await;
    let status = account.email_status.clone().unwrap();
    assert_eq!(
        (status.state.as_str(), status.reason.as_str()),
        ("undeliverable", "bounce")
    );
    assert!(status.marks(ADDRESS));
    assert_eq!(
        account.version, 2,
        "a new version: a PATCH from the old one must read it"
    );
    let reports = undeliverable(&feedback.bus);
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report["original_event_id"], EVENT);
    assert_eq!(report["account_id"], "bank:acc-1", "decoded from SES's tag");
    assert_eq!(report["original_detail_type"], "Transaction Recorded");
    assert_eq!(report["transaction_id"], "t-1");
    assert_eq!(
        (&report["reason"], &report["severity"], &report["message_id"]),
        (&json!("bounced"), &json!("critical"), &json!(MESSAGE))
    );
    assert!(!report.to_string().contains("marie"), "no address in the event");

    // The same bounce again (SQS redelivery, a replay of the default bus's archive, SES
    // repeating itself): nothing changes, nothing is published again.
    let (failed, stats) = run(
        &feedback,
        &[bounced("Permanent", ADDRESS), bounced("Permanent", ADDRESS)],
    )
    .await;
    assert!(failed.is_empty());
    assert_eq!((stats.moved, stats.addresses_marked, stats.undeliverable), (0, 0, 0));
    assert_eq!(stats.unchanged, 2);
    assert_eq!(stored(&feedback).await.version, 2);
    assert_eq!(undeliverable(&feedback.bus).len(), 1);
}

#[tokio::test]
async fn a_bounce_of_an_address_the_customer_changed_since_blocks_nothing() {
    let feedback = feedback().await;
    let mut moved = stored(&feedback).await;
    moved.email = Pii("marie@new.example".into());
    moved.version = 2;
    feedback.ledger.update_account(&moved, 1).await.unwrap();
    let (failed, stats) = run(&feedback, &[bounced("Permanent", ADDRESS)]).await;
    assert!(failed.is_empty());
    assert_eq!((stats.addresses_marked, stats.address_changed), (0, 1));
    assert!(
        stored(&feedback).await.email_status.is_none(),
        "the new address is not blocked"
    );
    assert_eq!(
        state_of(&feedback).await,
        DeliveryState::Bounced,
        "the email did bounce"
    );
    assert_eq!(undeliverable(&feedback.bus).len(), 1, "and did not arrive");
}

#[tokio::test]
async fn transient_and_undetermined_bounces_are_delays_and_nothing_else() {
    for bounce_type in ["Transient", "Undetermined"] {
        let feedback = feedback().await;
        let (failed, stats) = run(&feedback, &[bounced(bounce_type, ADDRESS)]).await;
        assert!(failed.is_empty());
        assert_eq!(state_of(&feedback).await, DeliveryState::Delayed, "{bounce_type}");
        assert_eq!((stats.addresses_marked, stats.undeliverable), (0, 0), "{bounce_type}");
        assert!(stored(&feedback).await.email_status.is_none());
        // The delivery that follows a delay still lands.
        run(&feedback, &[delivered()]).await;
        assert_eq!(state_of(&feedback).await, DeliveryState::Delivered);
    }
}

#[tokio::test]
async fn a_rejection_or_a_rendering_failure_is_rejected_and_reported_without_marking() {
    let rendering = ses(
        "Email Rendering Failed",
        "Rendering Failure",
        "failure",
        json!({"errorMessage": "Attribute 'name' is not present", "templateName": "t"}),
        mail(MESSAGE, SET),
    );
    for event in [rejected(), rendering] {
        let feedback = feedback().await;
        let (failed, stats) = run(&feedback, &[event]).await;
        assert!(failed.is_empty());
        assert_eq!(state_of(&feedback).await, DeliveryState::Rejected);
        assert_eq!((stats.addresses_marked, stats.undeliverable), (0, 1));
        assert_eq!(undeliverable(&feedback.bus)[0]["reason"], "rejected");
        assert!(stored(&feedback).await.email_status.is_none());
    }
}

#[tokio::test]
async fn what_is_not_ours_is_skipped_and_counted_and_what_is_malformed_fails() {
    let feedback = feedback().await;
    let other_set = ses(
        "Email Delivered",
        "Delivery",
        "delivery",
        json!({}),
        mail(MESSAGE, "marketing"),
    );
    let mut untagged = delivered();
    untagged["detail"]["mail"]["tags"] = json!({"ses:configuration-set": [SET]});
    let mut not_ses = delivered();
    not_ses["source"] = json!("txn-notify");
    let mut no_message_id = delivered();
    no_message_id["detail"]["mail"]
        .as_object_mut()
        .unwrap()
        .remove("messageId");
    let mut odd_bounce = bounced("Permanent", ADDRESS);
    odd_bounce["detail"]["bounce"]["bounceType"] = json!("Soft");
    let opened = ses("Email Opened", "Open", "open", json!({}), mail(MESSAGE, SET));
    let (failed, stats) = run(
        &feedback,
        &[other_set, untagged, not_ses, no_message_id, odd_bounce, opened],
    )
    .await;
    assert_eq!(
        (
            stats.other_configuration_set,
            stats.untagged,
            stats.not_ses,
            stats.other_event_type
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(stats.malformed, 2);
    assert_eq!(failed, ["m-3", "m-4"], "malformed messages go to the DLQ");
    assert_eq!(state_of(&feedback).await, DeliveryState::Sent, "nothing was applied");
    // A body that is not even an event.
    let (reply, stats) = feedback
        .handle(json!({"Records": [{"messageId": "x", "body": "not json", "eventSource": "aws:sqs"}]}))
        .await
        .unwrap();
    assert_eq!(stats.malformed, 1);
    assert!(matches!(reply, Reply::Batch(r) if r.batch_item_failures.len() == 1));
}

#[tokio::test]
async fn feedback_faster_than_the_notifiers_record_is_retried_until_the_record_is_there() {
    let ledger = MemoryLedger::new();
    ledger.put_account(&account()).await.unwrap();
    let feedback = Feedback::new(
        ledger,
        MemoryAuditLog::new(),
        MemoryBus::new(),
        MemoryIdempotency::new(),
        FrozenClock::at(common::now()),
        FeedbackConfig::new(SET, "txn-notify"),
    );
    let (failed, stats) = run(&feedback, &[bounced("Permanent", ADDRESS)]).await;
    assert_eq!(failed, ["m-0"]);
    assert_eq!(stats.retried, 1);
    assert!(undeliverable(&feedback.bus).is_empty());
    // The address was marked already: that part is done, and stays done.
    assert!(stored(&feedback).await.email_status.is_some());
    feedback
        .notifications
        .record_notification(&notification(&[MESSAGE]))
        .await
        .unwrap();
    let (failed, stats) = run(&feedback, &[bounced("Permanent", ADDRESS)]).await;
    assert!(failed.is_empty());
    assert_eq!((stats.moved, stats.addresses_marked, stats.undeliverable), (1, 0, 1));
    assert_eq!(state_of(&feedback).await, DeliveryState::Bounced);
}

#[tokio::test]
async fn a_failing_bus_retries_the_message_and_the_report_still_goes_out_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let down = Arc::new(AtomicBool::new(true));
    let bus_down = Arc::clone(&down);
    let bus = MemoryBus::failing_calls(move |_| {
        bus_down
            .load(Ordering::SeqCst)
            .then(|| PortError::transient("ThrottlingException"))
    });
    let feedback = feedback_with(bus).await;
    let (failed, stats) = run(&feedback, &[bounced("Permanent", ADDRESS)]).await;
    assert_eq!(failed, ["m-0"], "the report is owed: the message is retried");
    assert_eq!((stats.retried, stats.undeliverable), (1, 0));
    assert_eq!(state_of(&feedback).await, DeliveryState::Bounced, "what was done stays");
    down.store(false, Ordering::SeqCst);
    // The redelivery: the state is already bounced, the report goes out now, once.
    let (failed, stats) = run(&feedback, &[bounced("Permanent", ADDRESS)]).await;
    assert!(failed.is_empty());
    assert_eq!(stats.undeliverable, 1);
    run(&feedback, &[bounced("Permanent", ADDRESS)]).await;
    assert_eq!(undeliverable(&feedback.bus).len(), 1);
    assert_eq!(stored(&feedback).await.version, 2, "marked once");
}

#[tokio::test]
async fn a_bare_event_is_answered_as_lambda_expects() {
    let feedback = feedback().await;
    let (reply, _) = feedback.handle(bounced("Permanent", ADDRESS)).await.unwrap();
    assert!(matches!(reply, Reply::Single(Ok(()))));
    let mut broken = bounced("Permanent", ADDRESS);
    broken["detail"]["bounce"] = Value::Null;
    let (reply, _) = feedback.handle(broken).await.unwrap();
    assert!(matches!(reply, Reply::Single(Err(_))), "a malformed bare event fails");
}
