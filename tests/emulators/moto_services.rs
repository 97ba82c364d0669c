//! EventBridge, SQS, SES v2 and Secrets Manager adapters against moto server.

use serde_json::{Value, json};

use txn_notify::aws::eventbridge::EventBridgeBus;
use txn_notify::aws::secrets::SecretsManagerSecrets;
use txn_notify::aws::ses::SesMailer;
use txn_notify::ports::{BusEntry, EntryResult, EventBus, MailError, Mailer, Secrets};

use crate::common::mailer_contract::contract_email;
use crate::support::{moto, moto_data, route, unique};

/// A bus with one rule (the NotifyRule pattern of template.yaml) to a fresh queue.
pub struct Routing {
    pub bus: String,
    pub queue_url: String,
    pub sqs: aws_sdk_sqs::Client,
}

pub async fn bus_with_rule_to_queue(rule: &str) -> Routing {
    let config = moto().await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bus = unique("bus");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue = route(&events, &sqs, &bus, rule).await;
    Routing {
        bus,
        queue_url: queue.url,
        sqs,
    }
}

/// Every message the queue holds now (deleted as they are read).
pub async fn drain(routing: &Routing) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    loop {
        let output = routing
            .sqs
            .receive_message()
            .queue_url(&routing.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap();
        let messages = output.messages.unwrap_or_default();
        if messages.is_empty() {
            return all;
        }
        for message in &messages {
            routing
                .sqs
                .delete_message()
                .queue_url(&routing.queue_url)
                .receipt_handle(message.receipt_handle.clone().unwrap())
                .send()
                .await
                .unwrap();
        }
        all.extend(messages);
    }
}

fn entry(bus: &str, detail_type: &str, n: usize) -> BusEntry {
    BusEntry {
        source: "txn-notify".into(),
        detail_type: detail_type.to_string().into(),
        detail: json!({ "event_id": format!("ev-{n}"), "n": n }).to_string(),
        event_bus_name: bus.into(),
        resources: Vec::new(),
        time: None,
    }
}

#[tokio::test]
async fn put_events_reaches_the_rule_target_with_the_template_pattern() {
    let routing = bus_with_rule_to_queue("NotifyRule").await;
    let bus = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&moto().await));
    let entries = [
        entry(&routing.bus, "Transaction Recorded", 0),
        entry(&routing.bus, "Large Transaction", 1),
        entry(&routing.bus, "Account Opened", 2),
    ];
    let refs: Vec<&BusEntry> = entries.iter().collect();
    let results = bus.put_events(&refs).await.unwrap();
    assert!(
        results.iter().all(|r| matches!(r, EntryResult::Accepted { .. })),
        "{results:?}"
    );

    let bodies: Vec<Value> = drain(&routing)
        .await
        .iter()
        .map(|m| serde_json::from_str(m.body.as_deref().unwrap()).unwrap())
        .collect();
    let mut types: Vec<&str> = bodies.iter().map(|b| b["detail-type"].as_str().unwrap()).collect();
    types.sort();
    assert_eq!(
        types,
        ["Account Opened", "Transaction Recorded"],
        "the notify rule leaves alerts to other consumers"
    );
    assert!(
        bodies
            .iter()
            .all(|b| b["source"] == "txn-notify" && b["detail"]["event_id"].is_string())
    );
}

pub async fn verified_sender() -> String {
    let domain = format!("{}.example", unique("bank"));
    aws_sdk_sesv2::Client::new(&moto().await)
        .create_email_identity()
        .email_identity(&domain)
        .send()
        .await
        .unwrap();
    format!("alerts@{domain}")
}

/// The emails moto's SES has sent, as its data dump lists them.
pub async fn sent_emails() -> Vec<Value> {
    let data = moto_data().await;
    data["ses"]["Message"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_email_from_a_verified_identity_is_sent_with_both_parts() {
    let sender = verified_sender().await;
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&moto().await), None);
    let subject = unique("Paiement de 12,50 €");
    let message_id = mailer.send(&contract_email(&sender, &subject)).await.unwrap();
    assert!(!message_id.is_empty());
    let sent = sent_emails().await;
    let ours: Vec<&Value> = sent.iter().filter(|m| m["subject"] == subject.as_str()).collect();
    assert_eq!(ours.len(), 1, "{sent:?}");
    assert!(ours[0]["source"].as_str().unwrap().contains(&sender));
    assert!(ours[0]["body"].as_str().unwrap().contains("12,50"));
}

#[tokio::test]
async fn an_unverified_identity_is_a_rejected_message() {
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&moto().await), None);
    let result = mailer
        .send(&contract_email(
            &format!("alerts@{}.example", unique("unverified")),
            "never sent",
        ))
        .await;
    match result {
        Err(MailError::Rejected(reason)) => {
            assert!(reason.contains("MessageRejected"), "{reason}");
            assert!(!reason.contains("@"), "no address in what gets logged: {reason}");
        }
        other => panic!("expected a rejected message, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_signing_secret_is_a_permanent_failure() {
    let client = aws_sdk_secretsmanager::Client::new(&moto().await);
    let missing = SecretsManagerSecrets::new(client, unique("no-such-secret"));
    let error = missing.signing_secrets().await.unwrap_err();
    assert!(!error.is_transient(), "{error}");
}
