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
use serde_json::value::RawValue;

/// An EventBridge event as a target receives it. The detail stays the JSON text it came
/// as: each consumer reads its own typed record straight from it ([`read_detail`]),
/// and no JSON tree of it is built on the way. A detail that names a key twice reads as
/// malformed.
#[derive(Debug, Clone, Deserialize)]
pub struct Delivery {
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
    pub detail: Box<RawValue>,
    /// Set by EventBridge on events re-sent from an archive.
    #[serde(rename = "replay-name", default)]
    pub replay_name: Option<String>,
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.id,
            &self.detail_type,
            &self.source,
            self.time,
            self.detail.get(),
            &self.replay_name,
        ) == (
            &other.id,
            &other.detail_type,
            &other.source,
            other.time,
            other.detail.get(),
            &other.replay_name,
        )
    }
}

impl Delivery {
    /// The detail as a JSON tree (the audit trail keeps it so).
    pub fn detail_value(&self) -> Value {
        serde_json::from_str(self.detail.get()).unwrap_or(Value::Null)
    }
}

/// Where a detail does not read as the record its detail-type promises, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailMismatch {
    pub path: String,
    pub reason: String,
}

/// A detail's JSON text read as `T`, straight from the text. Nearly every detail reads; the
/// path of one that does not is found by reading it a second time, keeping track of where
/// the reader is (which costs a third of the reading).
pub fn read_detail<T: serde::de::DeserializeOwned>(detail: &str) -> Result<T, DetailMismatch> {
    match serde_json::from_str(detail) {
        Ok(value) => Ok(value),
        Err(error) => Err(mismatch_of::<T>(detail).unwrap_or(DetailMismatch {
            path: ".".into(),
            reason: error.to_string(),
        })),
    }
}

/// Where and why `detail` does not read as `T` (None if it does).
fn mismatch_of<T: serde::de::DeserializeOwned>(detail: &str) -> Option<DetailMismatch> {
    let mut text = serde_json::Deserializer::from_str(detail);
    match serde_path_to_error::deserialize::<_, T>(&mut text) {
        Err(e) => Some(DetailMismatch {
            path: e.path().to_string(),
            reason: e.inner().to_string(),
        }),
        // What follows the value (only a caller's own text can have any).
        Ok(_) => text.end().err().map(|e| DetailMismatch {
            path: ".".into(),
            reason: e.to_string(),
        }),
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

/// One message of the payload: the SQS message id when it came in a batch. Its body is read
/// into a delivery when it is handled, one message at a time: a batch of a hundred Weekly
/// Statements is held as text, not as a hundred JSON trees.
#[derive(Debug, Clone)]
pub struct Message {
    pub message_id: Option<String>,
    content: Content,
}

#[derive(Debug, Clone)]
enum Content {
    Body(String),
    Read(Result<Delivery, MessageError>),
}

impl Message {
    /// The delivery it carries (its body is read at each call: call it once).
    pub fn delivery(&self) -> Result<Delivery, MessageError> {
        match &self.content {
            Content::Body(body) => delivery_from_text(body),
            Content::Read(read) => read.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    SqsBatch,
    Bare,
}

fn delivery_from(value: Value) -> Result<Delivery, MessageError> {
    serde_json::from_value(value).map_err(|e| MessageError::NotAnEvent(e.to_string()))
}

/// A Lambda payload a consumer takes: its JSON text as Lambda hands it over (read without a
/// JSON tree of the payload), or a JSON value (tests, `invoke`).
pub trait ConsumerPayload {
    /// Splits it into messages. Err only when it is neither shape.
    fn messages(self) -> Result<(Shape, Vec<Message>), PayloadError>;
}

impl ConsumerPayload for Value {
    fn messages(self) -> Result<(Shape, Vec<Message>), PayloadError> {
        messages_of(self)
    }
}

impl ConsumerPayload for &str {
    fn messages(self) -> Result<(Shape, Vec<Message>), PayloadError> {
        messages_of_text(self)
    }
}

/// The two keys that tell the shapes apart, present (even null) or not.
#[derive(Deserialize)]
struct ShapeProbe {
    #[serde(rename = "Records", default, deserialize_with = "present")]
    records: bool,
    #[serde(rename = "detail-type", default, deserialize_with = "present")]
    detail_type: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// An SQS batch as text: only the two fields a message needs.
#[derive(Deserialize)]
struct SqsBatchText<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<SqsRecordText<'a>>,
}

#[derive(Deserialize)]
struct SqsRecordText<'a> {
    #[serde(rename = "messageId", default, borrow)]
    message_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    body: Option<std::borrow::Cow<'a, str>>,
}

/// A body's text → its delivery: not JSON at all, or JSON that is not an event.
fn delivery_from_text(body: &str) -> Result<Delivery, MessageError> {
    serde_json::from_str(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => MessageError::NotAnEvent(e.to_string()),
        _ => MessageError::BodyNotJson(e.to_string()),
    })
}

/// One message of an SQS batch.
fn sqs_message(message_id: Option<String>, body: Option<String>) -> Message {
    Message {
        content: body.map_or(Content::Read(Err(MessageError::NoBody)), Content::Body),
        message_id,
    }
}

/// A bare event: one message, with no id.
fn bare(delivery: Result<Delivery, MessageError>) -> (Shape, Vec<Message>) {
    (
        Shape::Bare,
        vec![Message {
            message_id: None,
            content: Content::Read(delivery),
        }],
    )
}

/// `messages_of` on the payload's text, with no JSON tree of the payload: the same shapes,
/// messages and errors.
pub fn messages_of_text(payload: &str) -> Result<(Shape, Vec<Message>), PayloadError> {
    // Only an object has keys (serde would read an array as a struct's fields in order).
    if !payload.trim_start().starts_with('{') {
        return Err(PayloadError::NeitherShape);
    }
    let sqs_batch = |batch: SqsBatchText| {
        let messages = batch
            .records
            .into_iter()
            .map(|record| {
                sqs_message(
                    record.message_id.map(std::borrow::Cow::into_owned),
                    record.body.map(std::borrow::Cow::into_owned),
                )
            })
            .collect();
        (Shape::SqsBatch, messages)
    };
    // Nearly every payload is an SQS batch that reads as one: a single pass over its text.
    // Whatever does not read so is told apart by its keys first, as the value reader does.
    if let Ok(batch) = serde_json::from_str::<SqsBatchText>(payload) {
        return Ok(sqs_batch(batch));
    }
    let probe: ShapeProbe = serde_json::from_str(payload).map_err(|_| PayloadError::NeitherShape)?;
    if probe.records {
        let batch: SqsBatchText =
            serde_json::from_str(payload).map_err(|e| PayloadError::NotAnSqsBatch(e.to_string()))?;
        return Ok(sqs_batch(batch));
    }
    if probe.detail_type {
        return Ok(bare(
            serde_json::from_str(payload).map_err(|e| MessageError::NotAnEvent(e.to_string())),
        ));
    }
    Err(PayloadError::NeitherShape)
}

/// Splits a Lambda payload into messages. Err only when the payload is neither shape.
pub fn messages_of(payload: Value) -> Result<(Shape, Vec<Message>), PayloadError> {
    if payload.get("Records").is_some() {
        let batch: SqsEvent =
            serde_json::from_value(payload).map_err(|e| PayloadError::NotAnSqsBatch(e.to_string()))?;
        let messages = batch
            .records
            .into_iter()
            .map(|record| sqs_message(record.message_id, record.body))
            .collect();
        return Ok((Shape::SqsBatch, messages));
    }
    if payload.get("detail-type").is_some() {
        return Ok(bare(delivery_from(payload)));
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_detail_is_kept_as_the_text_it_came_as() {
        let details = [
            r#"{"event_id":"ev-1","amount_minor":1250,"x":{"event_id":"inner"},"note":"a \"q\" \u00e9"}"#,
            r#"[{"event_id":"in an array"}]"#,
            r#""text""#,
            "null",
            "12.5",
        ];
        for detail in details {
            let event = format!(r#"{{"id":"envelope","detail-type":"X","source":"s","detail":{detail}}}"#);
            let delivery: Delivery = serde_json::from_str(&event).unwrap();
            assert_eq!(delivery.detail.get(), detail);
            assert_eq!(delivery.detail_value(), serde_json::from_str::<Value>(detail).unwrap());
        }
    }

    #[test]
    fn a_detail_read_as_a_record_names_where_it_does_not_match() {
        #[derive(Debug, Deserialize)]
        struct Record {
            #[allow(dead_code)]
            inner: Inner,
        }
        #[derive(Debug, Deserialize)]
        struct Inner {
            #[allow(dead_code)]
            amount: i64,
        }
        let mismatch = read_detail::<Record>(r#"{"inner":{"amount":"12"}}"#).unwrap_err();
        assert_eq!(mismatch.path, "inner.amount");
        // A key written twice cannot be read one way or the other: refused, not guessed.
        let twice = read_detail::<Record>(r#"{"inner":{"amount":1,"amount":2}}"#).unwrap_err();
        assert!(twice.reason.contains("duplicate field `amount`"), "{twice:?}");
        let trailing = read_detail::<Inner>(r#"{"amount":1} {"amount":2}"#).unwrap_err();
        assert_eq!(trailing.path, ".");
        assert!(read_detail::<Inner>(r#" {"amount":1} "#).is_ok());
    }

    /// What a reading came to, errors by kind (their wording is serde's).
    fn outline(read: Result<(Shape, Vec<Message>), PayloadError>) -> String {
        match read {
            Err(PayloadError::NotAnSqsBatch(_)) => "not an SQS batch".into(),
            Err(PayloadError::NeitherShape) => "neither shape".into(),
            Ok((shape, messages)) => {
                let each: Vec<String> = messages
                    .iter()
                    .map(|m| {
                        let delivery = match &m.delivery() {
                            Ok(d) => format!("{d:?}"),
                            Err(MessageError::NoBody) => "no body".into(),
                            Err(MessageError::BodyNotJson(_)) => "body not JSON".into(),
                            Err(MessageError::NotAnEvent(_)) => "not an event".into(),
                            Err(other) => format!("{other:?}"),
                        };
                        format!("{:?}: {delivery}", m.message_id)
                    })
                    .collect();
                format!("{shape:?} {each:?}")
            }
        }
    }

    #[test]
    fn the_text_is_read_as_its_json_value_is() {
        let event = json!({"id": "e-1", "detail-type": "Large Transaction", "source": "txn-notify",
            "time": "2026-12-06T10:00:00Z", "detail": {"event_id": "ev-1", "note": "a \"quoted\" é\n"}});
        let replayed = json!({"id": "e-2", "detail-type": "X", "source": "s", "detail": [1, 2],
            "replay-name": "after-incident"});
        let record = |id: &str, body: Value| json!({"messageId": id, "body": body, "eventSource": "aws:sqs"});
        let payloads = [
            json!({"Records": [
                record("m1", Value::String(event.to_string())),
                record("m2", Value::String(replayed.to_string())),
                record("m3", json!("not json")),
                record("m4", json!("{\"id\": 5}")),
                record("m5", json!("[1, 2]")),
                record("m6", json!("{\"id\": \"x\", \"detail-type\": \"y\"")),
                json!({"messageId": "m7"}),
                record("m8", Value::Null),
                json!({"body": event.to_string()}),
            ]}),
            json!({"Records": []}),
            json!({"Records": "no"}),
            json!({"Records": [{"messageId": "m1", "body": 5}]}),
            json!({"Records": null}),
            event.clone(),
            json!({"detail-type": "Only this"}),
            json!({"detail-type": null, "id": "x"}),
            json!({"something": "else"}),
            json!([{"Records": []}]),
            json!("Records"),
            json!(null),
        ];
        for payload in payloads {
            let text = payload.to_string();
            assert_eq!(
                outline(messages_of_text(&text)),
                outline(messages_of(payload)),
                "{text}"
            );
        }
        // Texts no value prints: names given twice, spaces, text after the object.
        for text in [
            r#"{"Records":[],"detail-type":"a","detail-type":"b"}"#,
            r#"{"detail-type":"a","Records":[{"messageId":"m1","body":"x"}],"detail-type":"b"}"#,
            r#" { "Records" : [ { "body" : "{}" , "messageId" : "m1" } ] } "#,
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(outline(messages_of_text(text)), outline(messages_of(value)), "{text}");
        }
        assert!(messages_of_text(r#"{"Records":[]} x"#).is_err());
        assert!(outline(messages_of_text(&event.to_string())).contains("ev-1"));
        // Each kind of bad message, as the table at the top says.
        let batch = json!({"Records": [
            record("bad", json!("not json")),
            record("cut", json!("{\"id\": \"x\", \"detail-type\": \"y\"")),
            record("other", json!("{\"id\": 5}")),
            record("array", json!("[1, 2]")),
            json!({"messageId": "none"}),
        ]});
        let (_, messages) = messages_of_text(&batch.to_string()).unwrap();
        let kinds: Vec<&str> = messages
            .iter()
            .map(|m| match m.delivery() {
                Err(MessageError::BodyNotJson(_)) => "not JSON",
                Err(MessageError::NotAnEvent(_)) => "not an event",
                Err(MessageError::NoBody) => "no body",
                _ => "other",
            })
            .collect();
        assert_eq!(
            kinds,
            ["not JSON", "not JSON", "not an event", "not an event", "no body"]
        );
    }
}
