//! The whole path on the real wire: a write into DynamoDB Local → its stream read through the
//! DynamoDB Streams API → the Lambda event the event source mapping would build → the
//! processor on AWS adapters → moto EventBridge, rules from template.yaml → SQS → the
//! notifier and the auditor on AWS adapters → the email among moto's sent messages and the
//! audit items in DynamoDB Local. Then the same messages again, and an archive replay:
//! nothing is done twice.

use std::sync::Arc;

use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, ShardIteratorType};
use base64::Engine;
use serde_json::{Map, Value, json};

use txn_notify::aws::dynamodb::{DynamoAuditLog, DynamoIdempotency, DynamoLedger};
use txn_notify::aws::eventbridge::EventBridgeBus;
use txn_notify::aws::secrets::SecretsManagerSecrets;
use txn_notify::aws::ses::SesMailer;
use txn_notify::clock::SystemClock;
use txn_notify::domain::Currency;
use txn_notify::domain::Mailbox;
use txn_notify::pipeline::Reply;
use txn_notify::pipeline::notify::{Notifier, NotifyConfig};
use txn_notify::pipeline::{AuditConfig, Auditor};
use txn_notify::pipeline::{Processor, ProcessorConfig, StreamBatch};
use txn_notify::ports::{Ledger, TransactionWrite};
use txn_notify::rules::Rules;

use crate::common::{account, purchase};
use crate::moto_services::{sent_emails, verified_sender};
use crate::support::{
    Queue, REGION, bus_with_archive, create_table, dynamodb, dynamodb_url, moto, resource_properties, route, unique,
};

/// DynamoDB JSON of a stream attribute value, as Lambda writes it into the event.
fn attribute_json(value: &StreamValue) -> Value {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    match value {
        StreamValue::S(s) => json!({ "S": s }),
        StreamValue::N(n) => json!({ "N": n }),
        StreamValue::B(b) => json!({ "B": b64(b.as_ref()) }),
        StreamValue::Bool(b) => json!({ "BOOL": b }),
        StreamValue::Null(n) => json!({ "NULL": n }),
        StreamValue::M(m) => json!({ "M": map_json(m) }),
        StreamValue::L(l) => json!({ "L": l.iter().map(attribute_json).collect::<Vec<_>>() }),
        StreamValue::Ss(ss) => json!({ "SS": ss }),
        StreamValue::Ns(ns) => json!({ "NS": ns }),
        StreamValue::Bs(bs) => json!({ "BS": bs.iter().map(|b| b64(b.as_ref())).collect::<Vec<_>>() }),
        other => panic!("unexpected attribute value {other:?}"),
    }
}

fn map_json(map: &std::collections::HashMap<String, StreamValue>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect::<Map<_, _>>(),
    )
}

/// Every record of the table's stream so far, as the Lambda event of one batch.
pub async fn stream_event(table: &str) -> Value {
    let config = crate::support::config_for(&dynamodb_url()).await;
    let stream_arn = dynamodb()
        .await
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .latest_stream_arn
        .unwrap();
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let shards = streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap()
        .shards
        .unwrap_or_default();
    let mut records = Vec::new();
    for shard in shards {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&stream_arn)
            .shard_id(shard.shard_id.unwrap())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(current) = iterator {
            let output = streams.get_records().shard_iterator(current).send().await.unwrap();
            let page = output.records.unwrap_or_default();
            if page.is_empty() {
                break;
            }
            for record in page {
                let change = record.dynamodb.unwrap();
                let mut dynamodb = json!({
                    "ApproximateCreationDateTime": change.approximate_creation_date_time.unwrap().secs(),
                    "Keys": map_json(change.keys.as_ref().unwrap()),
                    "SequenceNumber": change.sequence_number.unwrap(),
                    "SizeBytes": change.size_bytes.unwrap(),
                    "StreamViewType": change.stream_view_type.unwrap().as_str(),
                });
                if let Some(image) = &change.new_image {
                    dynamodb["NewImage"] = map_json(image);
                }
                if let Some(image) = &change.old_image {
                    dynamodb["OldImage"] = map_json(image);
                }
                records.push(json!({
                    "eventID": record.event_id.unwrap(),
                    "eventName": record.event_name.unwrap().as_str(),
                    "eventVersion": record.event_version.unwrap_or_else(|| "1.1".into()),
                    "eventSource": "aws:dynamodb",
                    "awsRegion": REGION,
                    "dynamodb": dynamodb,
                    "eventSourceARN": stream_arn,
                }));
            }
            iterator = output.next_shard_iterator;
        }
    }
    json!({ "Records": records })
}

/// What the queue holds, received (and deleted) as an SQS event source would, then shaped
/// as the Lambda SQS event.
pub async fn receive_batch(sqs: &aws_sdk_sqs::Client, queue: &Queue) -> Value {
    let mut records = Vec::new();
    loop {
        let output = sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let messages = output.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let attributes: Map<String, Value> = message
                .attributes
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), Value::String(v)))
                .collect();
            records.push(json!({
                "messageId": message.message_id,
                "receiptHandle": message.receipt_handle,
                "body": message.body,
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": message.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.arn,
                "awsRegion": REGION,
            }));
            sqs.delete_message()
                .queue_url(&queue.url)
                .receipt_handle(message.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    json!({ "Records": records })
}

fn failures(reply: &Reply) -> usize {
    match reply {
        Reply::Batch(response) => response.batch_item_failures.len(),
        Reply::Single(result) => usize::from(result.is_err()),
    }
}

/// The audit records, and the notifier's decisions.
async fn audit_items(table: &str) -> (Vec<Value>, Vec<Value>) {
    let output = dynamodb().await.scan().table_name(table).send().await.unwrap();
    output
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|item| serde_dynamo::from_item::<_, Value>(txn_notify::aws::dynamodb::item::from_sdk(item)).unwrap())
        .partition(|item| {
            !item["event_id"]
                .as_str()
                .unwrap_or_default()
                .starts_with(txn_notify::domain::keys::NOTIFICATION_PREFIX)
        })
}

async fn emails_to(address: &str) -> Vec<Value> {
    sent_emails()
        .await
        .into_iter()
        .filter(|m| m["destinations"].to_string().contains(address))
        .collect()
}

#[tokio::test]
async fn a_transaction_becomes_one_email_and_one_audit_trail_whatever_is_redelivered_or_replayed() {
    // DynamoDB Local: the three tables of template.yaml.
    let dynamo = dynamodb().await;
    let (ledger_table, audit_table, idempotency_table) = (unique("ledger"), unique("audit"), unique("idem"));
    create_table(&dynamo, "LedgerTable", &ledger_table).await;
    create_table(&dynamo, "AuditTable", &audit_table).await;
    create_table(&dynamo, "IdempotencyTable", &idempotency_table).await;

    // moto: the bus, its archive, the two rules of template.yaml to two queues, a sender.
    let moto_config = moto().await;
    let events = aws_sdk_eventbridge::Client::new(&moto_config);
    let sqs = aws_sdk_sqs::Client::new(&moto_config);
    let archive_pattern = serde_json::to_value(resource_properties("EventArchive")["EventPattern"].clone()).unwrap();
    let (bus, bus_arn, _, archive_arn) = bus_with_archive(&events, Some(&archive_pattern)).await;
    let notify_queue = route(&events, &sqs, &bus, "NotifyRule").await;
    let audit_queue = route(&events, &sqs, &bus, "AuditRule").await;
    let sender = verified_sender().await;
    let started = aws_sdk_eventbridge::primitives::DateTime::from_secs(chrono::Utc::now().timestamp() - 5);

    // The write: an account, then a large purchase, through the ledger adapter.
    let ledger = DynamoLedger::new(dynamo.clone(), &ledger_table);
    let eur = Currency::from_code("EUR").unwrap();
    let mut holder = account("acc-e2e", "FR", eur);
    let address = format!("{}@example.com", unique("marie"));
    holder.email = txn_notify::domain::Pii(address.clone());
    ledger.put_account(&holder).await.unwrap();
    let txn = purchase("t-e2e-1", "acc-e2e", 150_000, eur);
    assert_eq!(
        ledger.put_transaction(&txn, "fp").await.unwrap(),
        TransactionWrite::Stored
    );

    // The stream, as the event source mapping hands it over.
    let event = stream_event(&ledger_table).await;
    let records = event["Records"].as_array().unwrap();
    assert_eq!(records.len(), 3, "account, marker and transaction inserts");
    assert!(
        records
            .iter()
            .all(|r| r["eventSourceARN"].as_str().unwrap().contains("/stream/"))
    );

    let processor = Processor::new(
        DynamoLedger::new(dynamo.clone(), &ledger_table),
        EventBridgeBus::new(events.clone()),
        SystemClock,
        Arc::new(Rules::builtin()),
        ProcessorConfig::new(bus.clone()),
    );
    let outcome = processor
        .process_batch(StreamBatch::from_json(&event.to_string()).unwrap())
        .await;
    assert!(outcome.response.batch_item_failures.is_empty(), "{:?}", outcome.stats);
    assert_eq!(outcome.stats.records_ignored, 1, "the uniqueness marker");
    let published = outcome.stats.events_by_detail_type.clone();
    assert_eq!(published.get("Account Opened"), Some(&1));
    assert_eq!(published.get("Transaction Recorded"), Some(&1));
    assert_eq!(published.get("Large Transaction"), Some(&1));

    // The consumers, on AWS adapters.
    let notifier = Notifier::new(
        DynamoLedger::new(dynamo.clone(), &ledger_table),
        SesMailer::new(aws_sdk_sesv2::Client::new(&moto_config), None),
        EventBridgeBus::new(events.clone()),
        DynamoIdempotency::new(dynamo.clone(), &idempotency_table),
        DynamoAuditLog::new(dynamo.clone(), &audit_table),
        SecretsManagerSecrets::new(
            aws_sdk_secretsmanager::Client::new(&moto_config),
            unique("statements-only"),
        ),
        SystemClock,
        NotifyConfig {
            event_bus_name: bus.clone(),
            ..NotifyConfig::new(Mailbox::new(Some("txn-notify"), &sender).unwrap())
        },
    );
    let auditor = Auditor::new(
        DynamoAuditLog::new(dynamo.clone(), &audit_table),
        SystemClock,
        AuditConfig::default(),
    );
    let notify_batch = receive_batch(&sqs, &notify_queue).await;
    let audit_batch = receive_batch(&sqs, &audit_queue).await;
    assert_eq!(
        notify_batch["Records"].as_array().unwrap().len(),
        2,
        "welcome and transaction"
    );
    assert_eq!(audit_batch["Records"].as_array().unwrap().len(), 3, "every event");

    let (reply, stats) = notifier.handle(notify_batch.clone()).await.unwrap();
    assert_eq!((failures(&reply), stats.sent), (0, 2), "{stats:?}");
    let (reply, stats) = auditor.handle(audit_batch.clone()).await.unwrap();
    assert_eq!((failures(&reply), stats.written), (0, 3), "{stats:?}");

    let emails = emails_to(&address).await;
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(
        emails
            .iter()
            .any(|m| m["subject"].as_str().unwrap().contains("1\u{202f}500,00\u{a0}€")),
        "the large purchase email, in French: {emails:?}"
    );
    let (trail, notifications) = audit_items(&audit_table).await;
    assert_eq!(trail.len(), 3);
    assert!(trail.iter().all(|item| item["account_id"] == "acc-e2e"));
    // The notifier's decisions sit beside the records, with SES's own message ids.
    assert_eq!(notifications.len(), 2, "{notifications:?}");
    let ses_ids: std::collections::BTreeSet<String> = emails
        .iter()
        .map(|m| m["id"].as_str().unwrap_or_default().to_string())
        .collect();
    for item in &notifications {
        assert_eq!(item["decision"], "sent");
        let email = &item["notification"]["emails"][0];
        assert_eq!(email["delivery_state"], "sent");
        assert!(
            ses_ids.contains(email["message_id"].as_str().unwrap()),
            "{email} in {ses_ids:?}"
        );
    }

    // SQS delivers the same messages again: nothing new.
    let (_, stats) = notifier.handle(notify_batch).await.unwrap();
    assert_eq!((stats.sent, stats.duplicates), (0, 2), "{stats:?}");
    let (_, stats) = auditor.handle(audit_batch).await.unwrap();
    assert_eq!((stats.written, stats.duplicates), (0, 3), "{stats:?}");

    // Ops replay the archive: the events come back with replay-name, and nothing is redone.
    events
        .start_replay()
        .replay_name(unique("incident"))
        .event_source_arn(&archive_arn)
        .event_start_time(started)
        .event_end_time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
            chrono::Utc::now().timestamp() + 5,
        ))
        .destination(
            aws_sdk_eventbridge::types::ReplayDestination::builder()
                .arn(&bus_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let replayed_notify = receive_batch(&sqs, &notify_queue).await;
    let replayed_audit = receive_batch(&sqs, &audit_queue).await;
    assert_eq!(replayed_notify["Records"].as_array().unwrap().len(), 2);
    assert!(
        replayed_audit["Records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["body"].as_str().unwrap().contains("replay-name")),
        "replayed events carry replay-name"
    );
    let (reply, stats) = notifier.handle(replayed_notify).await.unwrap();
    assert_eq!(
        (failures(&reply), stats.sent, stats.duplicates, stats.replays),
        (0, 0, 2, 2),
        "{stats:?}"
    );
    let (reply, stats) = auditor.handle(replayed_audit).await.unwrap();
    assert_eq!(
        (failures(&reply), stats.written, stats.duplicates, stats.replays),
        (0, 0, 3, 3),
        "{stats:?}"
    );

    assert_eq!(emails_to(&address).await.len(), 2, "no second email");
    let (trail, notifications) = audit_items(&audit_table).await;
    assert_eq!(
        (trail.len(), notifications.len()),
        (3, 2),
        "no second audit item or decision"
    );
}
