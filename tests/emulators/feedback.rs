//! SES's feedback on the AWS adapters: template.yaml's configuration set on moto's SES, its
//! FeedbackRule on moto's default bus takes a real SES-shaped event to the queue; the feedback use case on DynamoDB Local marks
//! the address with a conditional write that a change of address in between wins.

use serde_json::{Value, json};

use txn_notify::aws::dynamodb::{DynamoAuditLog, DynamoIdempotency, DynamoLedger};
use txn_notify::aws::eventbridge::EventBridgeBus;
use txn_notify::clock::SystemClock;
use txn_notify::domain::{
    Currency, Decision, DeliveryState, Notification, NotificationEmail, Pii, Recipient, UndeliverableReason,
};
use txn_notify::pipeline::RetryPolicy;
use txn_notify::pipeline::feedback::{AddressMark, Feedback, FeedbackConfig, mark_undeliverable};
use txn_notify::ports::{AccountUpdate, Ledger, NotificationLog, NotificationQuery};

use crate::common::account;
use crate::moto_services::{Routing, drain};
use crate::support::{create_table, dynamodb, moto, resource_properties, rule_pattern, unique};

/// The rule's pattern with `!Ref EmailConfigurationSet` as CloudFormation resolves it.
fn resolved(pattern: Value, set: &str) -> Value {
    match pattern {
        Value::Object(map) if map.len() == 1 && map.contains_key("!Ref") => json!(set),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, resolved(v, set))).collect()),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| resolved(v, set)).collect()),
        other => other,
    }
}

fn ses_bounce(set: &str, message_id: &str, event_id: &str, address: &str) -> Value {
    let tag = |value: &str| json!([txn_notify::domain::ses_tag_value(value).unwrap()]);
    json!({
        "eventType": "Bounce",
        "bounce": {"feedbackId": unique("fb"), "bounceType": "Permanent", "bounceSubType": "General",
                   "bouncedRecipients": [{"emailAddress": address, "action": "failed", "status": "5.1.1",
                                          "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
                   "timestamp": "2026-11-20T18:00:03.100Z", "reportingMTA": "dsn; e226-55.smtp-out.amazonses.com"},
        "mail": {"timestamp": "2026-11-20T18:00:00.000Z", "source": "alerts@bank.example",
                 "sendingAccountId": "123456789012", "messageId": message_id, "destination": [address],
                 "headersTruncated": false,
                 "tags": {"ses:configuration-set": [set], "ses:source-ip": ["192.0.2.0"],
                          "event_id": tag(event_id), "account_id": tag("bank:acc-fb"), "template": tag("transaction"),
                          "detail_type": tag("Transaction_Recorded"), "severity": tag("critical")}}
    })
}

#[tokio::test]
async fn an_ses_event_on_the_default_bus_reaches_the_queue_and_marks_the_address_on_dynamodb() {
    let config = moto().await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let set = unique("emails");

    // The configuration set as template.yaml makes it: SES's suppression list for bounces
    // and complaints. The notifier sends with it and with our tags, and SES takes them.
    use aws_sdk_sesv2::types::{SuppressionListReason, SuppressionOptions};
    let ses = aws_sdk_sesv2::Client::new(&config);
    let reasons: Vec<SuppressionListReason> =
        resource_properties("EmailConfigurationSet")["SuppressionOptions"]["SuppressedReasons"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|r| SuppressionListReason::from(r.as_str().unwrap()))
            .collect();
    ses.create_configuration_set()
        .configuration_set_name(&set)
        .suppression_options(
            SuppressionOptions::builder()
                .set_suppressed_reasons(Some(reasons))
                .build(),
        )
        .send()
        .await
        .unwrap();
    // (moto's GetConfigurationSet answers `SendingEnabled: {}`, which the SDK refuses: the
    // set is checked by sending with it.)
    let sender = crate::moto_services::verified_sender().await;
    let mut email = crate::common::mailer_contract::contract_email(&sender, "Paiement de 89,90 €");
    email.tags = vec![
        txn_notify::domain::Tag {
            name: "event_id".into(),
            value: "3f8c2a10-5d7e-5b4a-9c1d-2e6f7a8b9c77".into(),
        },
        txn_notify::domain::Tag {
            name: "account_id".into(),
            value: "bank:acc-fb".into(),
        },
    ];
    let mailer = txn_notify::aws::ses::SesMailer::new(ses.clone(), Some(set.clone()));
    use txn_notify::ports::Mailer;
    assert!(!mailer.send(&email).await.unwrap().is_empty());

    // FeedbackRule, on the default bus (no EventBusName), to a queue.
    let crate::support::Queue {
        url: queue_url,
        arn: queue_arn,
    } = crate::support::queue(&sqs, "feedback").await;
    let rule = unique("FeedbackRule");
    let pattern = resolved(rule_pattern("FeedbackRule"), &set);
    assert_eq!(pattern["detail"]["mail"]["tags"]["ses:configuration-set"], json!([set]));
    events
        .put_rule()
        .name(&rule)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&rule)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let address = format!("{}@example.com", unique("marie"));
    let event_id = "3f8c2a10-5d7e-5b4a-9c1d-2e6f7a8b9c77";
    let message_id = unique("0102019a");
    let put = |set: &str| {
        aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source("aws.ses")
            .detail_type("Email Bounced")
            .detail(ses_bounce(set, &message_id, event_id, &address).to_string())
            .build()
    };
    let output = events
        .put_events()
        .entries(put(&set))
        .entries(put("marketing"))
        .send()
        .await
        .unwrap();
    assert_eq!(output.failed_entry_count, 0);
    let routing = Routing {
        bus: "default".into(),
        queue_url,
        sqs,
    };
    let messages = drain(&routing).await;
    assert_eq!(messages.len(), 1, "our configuration set's event only");

    // The feedback use case on the AWS adapters, on what the queue held.
    let dynamo = dynamodb().await;
    let (ledger_table, audit_table, idempotency_table) = (unique("ledger"), unique("audit"), unique("idem"));
    create_table(&dynamo, "LedgerTable", &ledger_table).await;
    create_table(&dynamo, "AuditTable", &audit_table).await;
    create_table(&dynamo, "IdempotencyTable", &idempotency_table).await;
    let ledger = DynamoLedger::new(dynamo.clone(), &ledger_table);
    let mut holder = account("bank:acc-fb", "FR", Currency::EUR);
    holder.email = Pii(address.clone());
    ledger.put_account(&holder).await.unwrap();
    let audit = DynamoAuditLog::new(dynamo.clone(), &audit_table);
    let now = chrono::Utc::now();
    audit
        .record_notification(&Notification {
            event_id: event_id.into(),
            account_id: "bank:acc-fb".into(),
            detail_type: "Transaction Recorded".into(),
            occurred_at: now,
            transaction_id: Some("t-fb".into()),
            decision: Decision::Sent,
            reason: None,
            emails: vec![NotificationEmail {
                template: "transaction".into(),
                to: Recipient::Account,
                message_id: Some(message_id.clone()),
                delivery_state: DeliveryState::Sent,
                delivery_state_at: now,
            }],
            decided_at: now,
            expires_at: now.timestamp() + 86_400,
        })
        .await
        .unwrap();
    let bus = unique("txn-notify");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let feedback = Feedback::new(
        ledger,
        audit,
        EventBridgeBus::new(events.clone()),
        DynamoIdempotency::new(dynamo.clone(), &idempotency_table),
        SystemClock,
        FeedbackConfig::new(&set, &bus),
    );
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                   "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
                   "eventSourceARN": queue_arn, "awsRegion": "eu-west-1"})
        })
        .collect();
    let payload = json!({ "Records": records });
    for round in 0..2 {
        let (_, stats) = feedback.handle(payload.clone()).await.unwrap();
        assert_eq!(stats.retried + stats.malformed, 0, "{stats:?}");
        assert_eq!(stats.addresses_marked, u64::from(round == 0), "marked once: {stats:?}");
        assert_eq!(stats.undeliverable, u64::from(round == 0), "{stats:?}");
    }
    let marked = feedback.ledger.get_account("bank:acc-fb").await.unwrap().unwrap();
    assert!(marked.email_status.as_ref().unwrap().marks(&address));
    assert_eq!(marked.version, 2);
    let page = feedback
        .notifications
        .notifications(&NotificationQuery {
            account_id: "bank:acc-fb",
            limit: 10,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(page.notifications[0].emails[0].delivery_state, DeliveryState::Bounced);
}

/// The mark and a change of address race from one version: whichever wins, the new address
/// is never marked with the old one's bounce.
#[tokio::test]
async fn a_change_of_address_racing_the_mark_is_never_blocked_on_dynamodb_local() {
    let ledger = crate::dynamodb::ledger().await;
    let retry = RetryPolicy::default();
    for round in 0..6 {
        let id = format!("acc-race-{round}");
        let old = format!("old-{round}@example.com");
        let mut holder = account(&id, "FR", Currency::EUR);
        holder.email = Pii(old.clone());
        ledger.put_account(&holder).await.unwrap();
        let mut moved = holder.clone();
        moved.previous_email = Some(moved.email.clone());
        moved.email = Pii(format!("new-{round}@example.com"));
        moved.version = 2;
        let (mark, change) = tokio::join!(
            mark_undeliverable(
                &ledger,
                &SystemClock,
                &retry,
                &id,
                &old,
                UndeliverableReason::Bounce,
                chrono::Utc::now()
            ),
            ledger.update_account(&moved, 1)
        );
        let stored = ledger.get_account(&id).await.unwrap().unwrap();
        match (mark.unwrap(), change.unwrap()) {
            (AddressMark::AddressChanged, AccountUpdate::Updated) => {
                assert_eq!(stored.email.expose(), moved.email.expose());
                assert!(stored.email_status.is_none(), "the new address is deliverable");
            }
            (AddressMark::Marked, AccountUpdate::Stale { current: 2 }) => {
                // The mark won: the PATCH from version 1 must read again (and then clears it).
                assert_eq!(stored.email.expose(), &old);
                assert!(stored.email_status.unwrap().marks(&old));
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
}
