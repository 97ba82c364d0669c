//! Delivers a queue of the store to a consumer as Lambda's SQS event source does: up to
//! `batch_size` messages as one SQS event; the reply's `batchItemFailures` stay on the queue
//! (visible again after the visibility timeout), the others are deleted; a function error
//! leaves them all. Past the redrive policy, the store moves a message to its DLQ.

use std::future::Future;

use serde_json::{Value, json};

use super::{LOCAL_ACCOUNT, LOCAL_REGION};
use crate::local::embedded::store::EmbeddedStore;
use crate::ports::{Clock, PortError};
use crate::template::QueueSettings;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
    pub function_error: Option<String>,
}

/// The SQS event Lambda would hand the consumer for these messages.
pub fn sqs_event(queue: &str, messages: &[crate::local::embedded::store::ReceivedMessage]) -> Value {
    let arn = format!("arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{queue}");
    json!({
        "Records": messages.iter().map(|m| json!({
            "messageId": m.message_id,
            "receiptHandle": m.receipt,
            "body": m.body,
            "attributes": {
                "ApproximateReceiveCount": m.receive_count.to_string(),
                "SentTimestamp": m.sent_at_ms.to_string(),
                "SenderId": "events.amazonaws.com",
                "ApproximateFirstReceiveTimestamp": m.sent_at_ms.to_string(),
            },
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": LOCAL_REGION,
        })).collect::<Vec<_>>()
    })
}

/// Receives one batch of `queue` and hands it to `handler`. Nothing visible: nothing done.
pub async fn deliver<C, F, Fut, E>(
    store: &EmbeddedStore<C>,
    queue: &str,
    settings: &QueueSettings,
    batch_size: usize,
    handler: F,
) -> Result<Delivered, PortError>
where
    C: Clock,
    F: FnOnce(Value) -> Fut,
    Fut: Future<Output = Result<Value, E>>,
    E: std::fmt::Display,
{
    let messages = store.receive(queue, settings, batch_size)?;
    let mut delivered = Delivered {
        received: messages.len(),
        ..Delivered::default()
    };
    if messages.is_empty() {
        return Ok(delivered);
    }
    let reply = handler(sqs_event(queue, &messages)).await;
    let failed: Vec<String> = match &reply {
        Err(error) => {
            delivered.function_error = Some(error.to_string());
            messages.iter().map(|m| m.message_id.clone()).collect()
        }
        Ok(response) => response
            .get("batchItemFailures")
            .and_then(Value::as_array)
            .map(|failures| {
                failures
                    .iter()
                    .filter_map(|f| f.get("itemIdentifier").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    };
    for message in &messages {
        if failed.contains(&message.message_id) {
            delivered.failed += 1;
        } else if store.delete_message(queue, &message.receipt)? {
            delivered.deleted += 1;
        }
    }
    Ok(delivered)
}
