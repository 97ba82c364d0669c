//! What every consumer (notifier, auditor) shares: reading a Lambda payload that is either an
//! SQS batch of EventBridge events or one bare EventBridge event, and answering it.
//!
//! | message | outcome | SQS batch reply | bare event reply |
//! |---|---|---|---|
//! | handled, or already handled (duplicate, replay) | done | acknowledged | Ok |
//! | transient failure (throttling, 5xx, in progress elsewhere) | retry | listed in batchItemFailures: SQS redelivers it | Err: Lambda retries it |
//! | not an EventBridge event (bad JSON, missing fields) | malformed | listed: after maxReceiveCount it lands in the DLQ, nothing is lost | Err |

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// An EventBridge event as a target receives it; the detail stays JSON.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Delivery {
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
    pub detail: Value,
    /// Set by EventBridge on events re-sent from an archive.
    #[serde(rename = "replay-name", default)]
    pub replay_name: Option<String>,
}

impl Delivery {
    /// The idempotency key: the detail's deterministic event_id. The envelope id changes on
    /// a replay, so it is only a fallback for events that are not ours.
    pub fn event_id(&self) -> &str {
        self.detail.get("event_id").and_then(Value::as_str).unwrap_or(&self.id)
    }

    pub fn account_id(&self) -> Option<&str> {
        self.detail.get("account_id").and_then(Value::as_str)
    }

    pub fn occurred_at(&self) -> Option<DateTime<Utc>> {
        self.detail
            .get("occurred_at")
            .and_then(Value::as_str)
            .and_then(crate::domain::time::parse_timestamp)
    }
}

/// One message of the payload: the SQS message id when it came in a batch.
#[derive(Debug, Clone)]
pub struct Message {
    pub message_id: Option<String>,
    pub delivery: Result<Delivery, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    SqsBatch,
    Bare,
}

fn delivery_from(value: Value) -> Result<Delivery, String> {
    serde_json::from_value(value).map_err(|e| format!("not an EventBridge event: {e}"))
}

/// Splits a Lambda payload into messages. Err only when the payload is neither shape.
pub fn messages_of(payload: Value) -> Result<(Shape, Vec<Message>), String> {
    if payload.get("Records").is_some() {
        let batch: SqsEvent = serde_json::from_value(payload).map_err(|e| format!("not an SQS batch: {e}"))?;
        let messages = batch
            .records
            .into_iter()
            .map(|record| Message {
                delivery: match record.body {
                    Some(body) => serde_json::from_str::<Value>(&body)
                        .map_err(|e| format!("the message body is not JSON: {e}"))
                        .and_then(delivery_from),
                    None => Err("the message has no body".into()),
                },
                message_id: record.message_id,
            })
            .collect();
        return Ok((Shape::SqsBatch, messages));
    }
    if payload.get("detail-type").is_some() {
        return Ok((
            Shape::Bare,
            vec![Message {
                message_id: None,
                delivery: delivery_from(payload),
            }],
        ));
    }
    Err("the payload is neither an SQS batch nor an EventBridge event".into())
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Retry(String),
    Malformed(String),
}

impl Outcome {
    pub fn failed(&self) -> bool {
        !matches!(self, Outcome::Done)
    }
}

/// The reply Lambda expects for that shape of payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Batch(SqsBatchResponse),
    /// A bare event: Err makes Lambda retry it, then hand it to its failure destination.
    Single(Result<(), String>),
}

pub fn reply(shape: Shape, messages: &[Message], outcomes: &[Outcome]) -> Reply {
    match shape {
        Shape::SqsBatch => {
            let mut response = SqsBatchResponse::default();
            for (message, outcome) in messages.iter().zip(outcomes) {
                if outcome.failed()
                    && let Some(id) = &message.message_id
                {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id.clone();
                    response.batch_item_failures.push(failure);
                }
            }
            Reply::Batch(response)
        }
        Shape::Bare => Reply::Single(match outcomes.first() {
            Some(Outcome::Retry(reason) | Outcome::Malformed(reason)) => Err(reason.clone()),
            _ => Ok(()),
        }),
    }
}
