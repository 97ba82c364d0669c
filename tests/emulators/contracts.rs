//! The contract tests of tests/contracts.rs, on the AWS adapters against DynamoDB Local and
//! moto: what the in-memory and embedded adapters pass, the AWS ones pass too.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use txn_notify::aws::dynamodb::{DynamoAuditLog, DynamoIdempotency};
use txn_notify::aws::eventbridge::EventBridgeBus;
use txn_notify::aws::secrets::SecretsManagerSecrets;
use txn_notify::aws::ses::SesMailer;

use crate::common::audit_contract::audit_contract;
use crate::common::bus_contract::bus_contract;
use crate::common::idempotency_contract::idempotency_contract;
use crate::common::ledger_contract::ledger_contract;
use crate::common::mailer_contract::mailer_contract;
use crate::common::notification_contract::notification_contract;
use crate::common::queue_contract::{MAX_RECEIVES, QueueUnderTest, Received, VISIBILITY, queue_contract};
use crate::common::secrets_contract::secrets_contract;
use crate::moto_services::{bus_with_rule_to_queue, drain, sent_emails, verified_sender};
use crate::support::{create_table, dynamodb, moto, unique};

#[tokio::test]
async fn the_dynamodb_idempotency_table_keeps_the_idempotency_contract() {
    let client = dynamodb().await;
    let table = unique("idempotency");
    create_table(&client, "IdempotencyTable", &table).await;
    idempotency_contract(&DynamoIdempotency::new(client, &table), "dynamodb").await;
}

#[tokio::test]
async fn the_dynamodb_audit_table_keeps_the_notification_contract() {
    let client = dynamodb().await;
    let table = unique("audit");
    create_table(&client, "AuditTable", &table).await;
    notification_contract(&DynamoAuditLog::new(client, &table), "dynamodb").await;
}

#[tokio::test]
async fn the_dynamodb_audit_table_keeps_the_audit_contract() {
    let client = dynamodb().await;
    let table = unique("audit");
    create_table(&client, "AuditTable", &table).await;
    let log = DynamoAuditLog::new(client.clone(), &table);
    audit_contract(&log, "dynamodb", |event_id| {
        let client = client.clone();
        let table = table.clone();
        async move {
            let item = client
                .get_item()
                .table_name(&table)
                .key("event_id", aws_sdk_dynamodb::types::AttributeValue::S(event_id))
                .consistent_read(true)
                .send()
                .await
                .unwrap()
                .item?;
            Some(serde_dynamo::from_item(txn_notify::aws::dynamodb::item::from_sdk(item)).unwrap())
        }
    })
    .await;
}

#[tokio::test]
async fn the_dynamodb_ledger_keeps_the_ledger_contract() {
    ledger_contract(&crate::dynamodb::ledger().await).await;
}

#[tokio::test]
async fn eventbridge_keeps_the_bus_contract() {
    let routing = bus_with_rule_to_queue("AuditRule").await;
    let bus = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&moto().await));
    // Messages come off the queue as they are read: keep what was delivered so far.
    let seen = std::sync::Mutex::new(Vec::new());
    bus_contract(&bus, &routing.bus, || async {
        let bodies = drain(&routing).await;
        let mut seen = seen.lock().unwrap();
        for message in bodies {
            let event: Value = serde_json::from_str(message.body.as_deref().unwrap()).unwrap();
            seen.push(event["detail-type"].as_str().unwrap().to_string());
        }
        seen.clone()
    })
    .await;
}

#[tokio::test]
async fn ses_keeps_the_mailer_contract() {
    let sender = verified_sender().await;
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&moto().await), None);
    let prefix = unique("ses");
    mailer_contract(&mailer, &sender, &prefix, || async {
        sent_emails()
            .await
            .iter()
            .filter_map(|m| m["subject"].as_str().map(str::to_string))
            .collect()
    })
    .await;
}

#[tokio::test]
async fn secrets_manager_keeps_the_secrets_contract() {
    let client = aws_sdk_secretsmanager::Client::new(&moto().await);
    let name = unique("txn-notify/signing");
    client
        .create_secret()
        .name(&name)
        .secret_string("first-secret")
        .send()
        .await
        .unwrap();
    let secrets = SecretsManagerSecrets::new(client.clone(), &name);
    secrets_contract(&secrets, b"first-secret", |next| {
        let (client, name) = (client.clone(), name.clone());
        async move {
            client
                .put_secret_value()
                .secret_id(&name)
                .secret_string(std::str::from_utf8(next).unwrap())
                .send()
                .await
                .unwrap();
        }
    })
    .await;
}

/// A queue of moto's SQS with the contract's visibility timeout and redrive policy.
struct SqsQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
    dead_letter_url: String,
}

impl SqsQueue {
    async fn create() -> SqsQueue {
        use aws_sdk_sqs::types::QueueAttributeName as Attr;
        let sqs = aws_sdk_sqs::Client::new(&moto().await);
        let dead_letter_url = sqs
            .create_queue()
            .queue_name(unique("contract-dlq"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let dead_letter_arn = sqs
            .get_queue_attributes()
            .queue_url(&dead_letter_url)
            .attribute_names(Attr::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&Attr::QueueArn]
            .clone();
        let redrive = json!({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": MAX_RECEIVES.to_string()});
        let url = sqs
            .create_queue()
            .queue_name(unique("contract"))
            .attributes(Attr::VisibilityTimeout, VISIBILITY.as_secs().to_string())
            .attributes(Attr::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        SqsQueue {
            sqs,
            url,
            dead_letter_url,
        }
    }

    async fn receive_from(&self, url: &str, max: usize, visibility: Option<i32>) -> Vec<Received> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max as i32)
            .set_visibility_timeout(visibility)
            .wait_time_seconds(0)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .unwrap();
        output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| Received {
                receive_count: m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
                receipt: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
            })
            .collect()
    }
}

impl QueueUnderTest for SqsQueue {
    async fn send(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    async fn receive(&self, max: usize) -> Vec<Received> {
        self.receive_from(&self.url, max, None).await
    }

    async fn delete(&self, receipt: &str) {
        self.sqs
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .unwrap();
    }

    async fn dead_letters(&self) -> BTreeSet<String> {
        // A peek: a visibility timeout of zero leaves them visible.
        let held = self.receive_from(&self.dead_letter_url, 10, Some(0)).await;
        held.into_iter().map(|r| r.body).collect()
    }

    async fn wait(&self, by: Duration) {
        tokio::time::sleep(by).await;
    }
}

#[tokio::test]
async fn sqs_keeps_the_queue_contract() {
    queue_contract(&SqsQueue::create().await).await;
}
