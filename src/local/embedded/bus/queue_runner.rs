//! Delivers a queue of the store to a consumer as Lambda's SQS event source does: up to
//! `batch_size` messages as one SQS event; the reply's `batchItemFailures` stay on the queue
//! (visible again after the visibility timeout), the others are deleted; a function error
//! leaves them all. Past the redrive policy, the store moves a message to its DLQ.

use std::future::Future;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

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

/// The SQS event Lambda would hand the consumer for these messages, as JSON text.
pub fn sqs_event(queue: &str, messages: &[crate::local::embedded::store::ReceivedMessage]) -> Box<RawValue> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Record<'a> {
        message_id: &'a str,
        receipt_handle: &'a str,
        body: &'a str,
        attributes: Attributes,
        message_attributes: Empty,
        md5_of_body: &'a str,
        event_source: &'a str,
        #[serde(rename = "eventSourceARN")]
        event_source_arn: &'a str,
        aws_region: &'a str,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Attributes {
        approximate_receive_count: String,
        sent_timestamp: String,
        sender_id: &'static str,
        approximate_first_receive_timestamp: String,
    }
    #[derive(Serialize)]
    struct Empty {}
    #[derive(Serialize)]
    struct Event<'a> {
        #[serde(rename = "Records")]
        records: Vec<Record<'a>>,
    }
    let arn = format!("arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{queue}");
    let event = Event {
        records: messages
            .iter()
            .map(|m| Record {
                message_id: &m.message_id,
                receipt_handle: &m.receipt,
                body: &m.body,
                attributes: Attributes {
                    approximate_receive_count: m.receive_count.to_string(),
                    sent_timestamp: m.sent_at_ms.to_string(),
                    sender_id: "events.amazonaws.com",
                    approximate_first_receive_timestamp: m.sent_at_ms.to_string(),
                },
                message_attributes: Empty {},
                md5_of_body: "",
                event_source: "aws:sqs",
                event_source_arn: &arn,
                aws_region: LOCAL_REGION,
            })
            .collect(),
    };
    serde_json::value::to_raw_value(&event).expect("an SQS event serializes")
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
    F: FnOnce(Box<RawValue>) -> Fut,
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
