//! Delivers a queue of the store to a consumer as Lambda's SQS event source does: up to
//! `batch_size` messages as one SQS event; the reply's `batchItemFailures` stay on the queue
//! (visible again after the visibility timeout), the others are deleted; a function error
//! leaves them all. Past the redrive policy, the store moves a message to its DLQ.

use std::future::Future;

use serde_json::Value;

use super::{LOCAL_ACCOUNT, LOCAL_REGION};
use crate::domain::json_text::{ObjectWriter, json_key, written_len};
use crate::local::embedded::store::EmbeddedStore;
use crate::pipeline::consumer::SqsMessages;
use crate::ports::{Clock, PortError};
use crate::template::QueueSettings;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
    pub function_error: Option<String>,
}

/// The SQS event Lambda would hand the consumer for these messages, as JSON text. Written
/// straight into its text: each body (itself a JSON text) is escaped once, run by run
/// (`json_text`); the test below holds it to what serde_json writes for the same record.
pub fn sqs_event(queue: &str, messages: &[crate::local::embedded::store::ReceivedMessage]) -> String {
    let arn = format!("arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{queue}");
    let mut out = String::with_capacity(sqs_event_len_bound(&arn, messages));
    let mut event = ObjectWriter::open(&mut out);
    event.array(json_key!("Records"), messages, |out, m| {
        let sent_at = itoa::Buffer::new().format(m.sent_at_ms).to_string();
        let mut record = ObjectWriter::open(out);
        record
            .str(json_key!("messageId"), &m.message_id)
            .str(json_key!("receiptHandle"), &m.receipt)
            .str(json_key!("body"), &m.body)
            .object(json_key!("attributes"), |attributes| {
                attributes
                    .str(
                        json_key!("ApproximateReceiveCount"),
                        itoa::Buffer::new().format(m.receive_count),
                    )
                    .str(json_key!("SentTimestamp"), &sent_at)
                    .str(json_key!("SenderId"), "events.amazonaws.com")
                    .str(json_key!("ApproximateFirstReceiveTimestamp"), &sent_at);
            })
            .object(json_key!("messageAttributes"), |_| {})
            .str(json_key!("md5OfBody"), "")
            .str(json_key!("eventSource"), "aws:sqs")
            .str(json_key!("eventSourceARN"), &arn)
            .str(json_key!("awsRegion"), LOCAL_REGION);
        record.close();
    });
    event.close();
    out
}

/// At least the length of [`sqs_event`]'s text, for its buffer to be sized once: each body as
/// it is written, escapes counted; the rest of a record is its ids, the queue's ARN twice
/// and under 400 bytes of keys and attributes.
fn sqs_event_len_bound(arn: &str, messages: &[crate::local::embedded::store::ReceivedMessage]) -> usize {
    messages
        .iter()
        .map(|m| written_len(&m.body) + written_len(&m.message_id) + written_len(&m.receipt) + 2 * arn.len() + 512)
        .sum::<usize>()
        + 16
}

/// One batch of a queue, received for a function.
pub struct Batch<'a> {
    queue: &'a str,
    messages: Vec<crate::local::embedded::store::ReceivedMessage>,
}

impl Batch<'_> {
    /// The SQS event Lambda would hand the function, as JSON text.
    pub fn event_text(&self) -> String {
        sqs_event(self.queue, &self.messages)
    }

    /// Its messages as a consumer takes them, with no event text between.
    pub fn into_messages(self) -> SqsMessages {
        SqsMessages(self.messages.into_iter().map(|m| (m.message_id, m.body)).collect())
    }
}

/// Receives one batch of `queue` and hands it to `handler`. Nothing visible: nothing done.
pub async fn deliver<'q, C, F, Fut, E>(
    store: &EmbeddedStore<C>,
    queue: &'q str,
    settings: &QueueSettings,
    batch_size: usize,
    handler: F,
) -> Result<Delivered, PortError>
where
    C: Clock,
    F: FnOnce(Batch<'q>) -> Fut,
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
    let received: Vec<(String, String)> = messages
        .iter()
        .map(|m| (m.message_id.clone(), m.receipt.clone()))
        .collect();
    let reply = handler(Batch { queue, messages }).await;
    let failed: Vec<String> = match &reply {
        Err(error) => {
            delivered.function_error = Some(error.to_string());
            received.iter().map(|(id, _)| id.clone()).collect()
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
    for (message_id, receipt) in &received {
        if failed.contains(message_id) {
            delivered.failed += 1;
        } else if store.delete_message(queue, receipt)? {
            delivered.deleted += 1;
        }
    }
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Serialize;

    use super::super::{LOCAL_ACCOUNT, LOCAL_REGION};
    use super::{Batch, sqs_event, sqs_event_len_bound};
    use crate::local::embedded::store::ReceivedMessage;

    /// The SQS event as serde_json writes it from its fields: the reference the text is
    /// held to.
    fn serialized(queue: &str, messages: &[ReceivedMessage]) -> String {
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
        let records = messages
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
            .collect();
        serde_json::to_string(&Event { records }).unwrap()
    }

    fn message(n: u32, body: &str, sent_at_ms: i64) -> ReceivedMessage {
        ReceivedMessage {
            message_id: format!("m-{n}"),
            receipt: format!("r-{n}\t\"quoted\""),
            body: body.to_string(),
            receive_count: n,
            sent_at_ms,
        }
    }

    #[test]
    fn an_sqs_event_is_written_as_serde_json_writes_its_fields() {
        let event = r#"{"version":"0","detail-type":"Large Transaction","detail":{"note":"a \"quoted\" word\\n","x":"\u0001é"}}"#;
        let messages = [
            message(1, event, 1_796_000_000_000),
            message(2, "", -5),
            message(3, "not JSON at all\r\n", 0),
        ];
        for batch in [&messages[..], &messages[..1], &[]] {
            let text = sqs_event("NotifyQueue", batch);
            assert_eq!(text, serialized("NotifyQueue", batch));
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(parsed["Records"].as_array().unwrap().len(), batch.len());
        }
        let parsed: serde_json::Value = serde_json::from_str(&sqs_event("q", &messages)).unwrap();
        assert_eq!(parsed["Records"][0]["body"], event, "the body comes back as it went in");
    }

    proptest! {
        #[test]
        fn any_batch_is_written_as_serde_json_writes_it(
            bodies in proptest::collection::vec(any::<String>(), 0..4),
            count in any::<u32>(),
            sent in any::<i64>(),
        ) {
            let messages: Vec<ReceivedMessage> =
                bodies.iter().map(|body| message(count, body, sent)).collect();
            prop_assert_eq!(sqs_event("q-1", &messages), serialized("q-1", &messages));
        }

        /// A consumer handed the batch's messages as they are reads what it reads from the
        /// SQS event's text: the same shape, ids and deliveries (or errors), in order.
        #[test]
        fn a_batch_handed_over_as_messages_reads_as_its_event_text(
            bodies in proptest::collection::vec(prop_oneof![
                any::<String>(),
                "[\"\\\\a-z{}:,é ]{0,40}",
                Just(r#"{"version":"0","id":"e-1","detail-type":"Large Transaction","source":"txn-notify","account":"1","time":"2026-12-01T00:00:00Z","region":"local","resources":[],"detail":{"event_id":"e-1","note":"a \"q\" é"}}"#.to_string()),
            ], 0..5),
            count in any::<u32>(),
        ) {
            use crate::pipeline::consumer::ConsumerPayload;
            let messages: Vec<ReceivedMessage> =
                bodies.iter().enumerate().map(|(n, body)| message(count.wrapping_add(n as u32), body, 0)).collect();
            let batch = Batch { queue: "q-1", messages };
            let (text_shape, from_text) = batch.event_text().as_str().messages().unwrap();
            let (shape, handed) = batch.into_messages().messages().unwrap();
            prop_assert_eq!(shape, text_shape);
            prop_assert_eq!(handed.len(), from_text.len());
            for (a, b) in handed.iter().zip(&from_text) {
                prop_assert_eq!(&a.message_id, &b.message_id);
                prop_assert_eq!(format!("{:?}", a.delivery()), format!("{:?}", b.delivery()));
            }
        }

        /// Its buffer sized once, and not much more than it needs: a statement's body of
        /// 50 KB, a fifth of it quotes, is not held twice over.
        #[test]
        fn an_events_buffer_is_sized_once(
            bodies in proptest::collection::vec("[\"\\\\\\x00-\\x1f a-z{}:,é]{0,2000}", 0..6),
            count in any::<u32>(),
            sent in any::<i64>(),
        ) {
            let messages: Vec<ReceivedMessage> =
                bodies.iter().map(|body| message(count, body, sent)).collect();
            let arn = format!("arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:q-1");
            let bound = sqs_event_len_bound(&arn, &messages);
            let text = sqs_event("q-1", &messages);
            prop_assert!(text.len() <= bound, "{} > {bound}", text.len());
            prop_assert!(bound - text.len() <= 600 * messages.len() + 16, "{} for {}", bound, text.len());
        }
    }
}
