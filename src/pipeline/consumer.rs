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

/// Why a whole payload cannot be read: the invocation fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("not an SQS batch: {0}")]
    NotAnSqsBatch(String),
    #[error("the payload is neither an SQS batch nor an EventBridge event")]
    NeitherShape,
}

/// Why one message is not an event we can handle: it is reported failed, so that SQS keeps
/// it and in the end hands it to the DLQ.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the message has no body")]
    NoBody,
    #[error("the message body is not JSON: {0}")]
    BodyNotJson(String),
    #[error("not an EventBridge event: {0}")]
    NotAnEvent(String),
    /// An event of ours whose detail does not read as its detail-type says.
    #[error("the detail does not match its schema at `{path}`: {reason}")]
    BadDetail { path: String, reason: String },
    /// Its email cannot be rendered from it.
    #[error("the email could not be rendered: {0}")]
    Unrenderable(String),
}

/// One message of the payload: the SQS message id when it came in a batch.
#[derive(Debug, Clone)]
pub struct Message {
    pub message_id: Option<String>,
    pub delivery: Result<Delivery, MessageError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    SqsBatch,
    Bare,
}

fn delivery_from(value: Value) -> Result<Delivery, MessageError> {
    serde_json::from_value(value).map_err(|e| MessageError::NotAnEvent(e.to_string()))
}

/// Splits a Lambda payload into messages. Err only when the payload is neither shape.
pub fn messages_of(payload: Value) -> Result<(Shape, Vec<Message>), PayloadError> {
    if payload.get("Records").is_some() {
        let batch: SqsEvent =
            serde_json::from_value(payload).map_err(|e| PayloadError::NotAnSqsBatch(e.to_string()))?;
        let messages = batch
            .records
            .into_iter()
            .map(|record| Message {
                delivery: match record.body {
                    Some(body) => serde_json::from_str::<Value>(&body)
                        .map_err(|e| MessageError::BodyNotJson(e.to_string()))
                        .and_then(delivery_from),
                    None => Err(MessageError::NoBody),
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
    Err(PayloadError::NeitherShape)
}

/// Why a delivery failed: as a bare event's reply, Lambda retries it, then hands it to its
/// failure destination; in a batch, it is listed in batchItemFailures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Throttling, a 5xx, a store failure, in progress elsewhere: a later try may do it.
    #[error("{0}")]
    Retry(String),
    /// The message cannot be handled as it is.
    #[error(transparent)]
    Malformed(MessageError),
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed(DeliveryError),
}

impl Outcome {
    pub fn retry(reason: impl Into<String>) -> Outcome {
        Outcome::Failed(DeliveryError::Retry(reason.into()))
    }

    pub fn malformed(error: MessageError) -> Outcome {
        Outcome::Failed(DeliveryError::Malformed(error))
    }

    pub fn failed(&self) -> bool {
        !matches!(self, Outcome::Done)
    }
}

/// The reply Lambda expects for that shape of payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Batch(SqsBatchResponse),
    /// A bare event: Err makes Lambda retry it, then hand it to its failure destination.
    Single(Result<(), DeliveryError>),
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
            Some(Outcome::Failed(error)) => Err(error.clone()),
            _ => Ok(()),
        }),
    }
}
