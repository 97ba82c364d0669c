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

use crate::domain::json_reader::{JsonReader, Read, Unread, once};

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
    pub detail: DetailText,
    /// Set by EventBridge on events re-sent from an archive.
    #[serde(rename = "replay-name", default)]
    pub replay_name: Option<String>,
}

/// An event's detail: the JSON text of one value, as it came (checked, not rebuilt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailText(Box<str>);

impl DetailText {
    pub fn get(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DetailText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(|raw| DetailText(raw.into()))
    }
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

/// An SQS batch already split into its messages, each its id and body: what the embedded
/// runtime hands a consumer, which has the messages in hand. The same messages as the SQS
/// event's text gives (`messages_of_text`), without writing the event and reading it back.
pub struct SqsMessages(pub Vec<(String, String)>);

impl ConsumerPayload for SqsMessages {
    fn messages(self) -> Result<(Shape, Vec<Message>), PayloadError> {
        let messages = self
            .0
            .into_iter()
            .map(|(message_id, body)| sqs_message(Some(message_id), Some(body)))
            .collect();
        Ok((Shape::SqsBatch, messages))
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
#[derive(Debug, PartialEq, Deserialize)]
struct SqsBatchText<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<SqsRecordText<'a>>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct SqsRecordText<'a> {
    #[serde(rename = "messageId", default, borrow)]
    message_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    body: Option<std::borrow::Cow<'a, str>>,
}

/// An SQS batch read by hand in one pass (`domain::json_reader`), as serde reads it into
/// [`SqsBatchText`]: each record's messageId and body. A body is a JSON text inside a JSON
/// string, an escape every few bytes, which serde_json decodes one call per escape; this
/// decodes it run by run. None when the text must go serde's way: not JSON, another shape
/// (`Records` not a list of objects, a messageId or body neither a string nor null, a name
/// given twice, nesting past 64), or a `\u` escape that is no character (serde judges it).
fn read_sqs_batch(payload: &str) -> Option<Vec<SqsRecordText<'_>>> {
    let mut reader = JsonReader::new(payload, ());
    let mut records = None;
    reader.space();
    reader
        .object(|reader, key| {
            if key == "Records" {
                let list = reader.list(sqs_record)?;
                once(&mut records, list)
            } else {
                reader.skip_value(1)
            }
        })
        .ok()?;
    reader.space();
    (reader.at == reader.bytes.len()).then_some(())?;
    records
}

fn sqs_record<'a>(reader: &mut JsonReader<'a, ()>) -> Read<SqsRecordText<'a>> {
    let (mut message_id, mut body) = (None, None);
    reader.object(|reader, key| match key.as_ref() {
        "messageId" => {
            let value = optional_string(reader)?;
            once(&mut message_id, value)
        }
        "body" => {
            let value = optional_string(reader)?;
            once(&mut body, value)
        }
        _ => reader.skip_value(3),
    })?;
    Ok(SqsRecordText {
        message_id: message_id.flatten(),
        body: body.flatten(),
    })
}

/// An EventBridge event read by hand in one pass, as serde reads it into [`Delivery`]: its
/// detail checked and kept as the slice of text it is (serde_json scans it a call per
/// string to capture it). None when the text must go serde's way: not JSON, a required
/// member missing, null or not a string, a name given twice, a `time` chrono does not read,
/// another shape, nesting past 64, a `\u` escape that is no character.
fn read_delivery(body: &str) -> Option<Delivery> {
    let mut reader = JsonReader::new(body, ());
    let (mut id, mut detail_type, mut source) = (None, None, None);
    let (mut time, mut detail, mut replay_name) = (None, None, None);
    reader.space();
    reader
        .object(|reader, key| match key.as_ref() {
            "id" => {
                let value = required_string(reader)?;
                once(&mut id, value)
            }
            "detail-type" => {
                let value = required_string(reader)?;
                once(&mut detail_type, value)
            }
            "source" => {
                let value = required_string(reader)?;
                once(&mut source, value)
            }
            "time" => {
                // As chrono's serde reads it: RFC 3339 with any offset, then in UTC.
                let value = match optional_string(reader)? {
                    Some(text) => Some(
                        text.parse::<DateTime<chrono::FixedOffset>>()
                            .map_err(|_| Unread::NotMine)?
                            .with_timezone(&Utc),
                    ),
                    None => None,
                };
                once(&mut time, value)
            }
            "detail" => {
                let start = reader.at;
                reader.skip_value(1)?;
                let value = &reader.text[start..reader.at];
                once(&mut detail, value)
            }
            "replay-name" => {
                let value = optional_string(reader)?;
                once(&mut replay_name, value)
            }
            _ => reader.skip_value(1),
        })
        .ok()?;
    reader.space();
    (reader.at == reader.bytes.len()).then_some(())?;
    Some(Delivery {
        id: id?.into_owned(),
        detail_type: detail_type?.into_owned(),
        source: source?.into_owned(),
        time: time.flatten(),
        detail: DetailText(detail?.into()),
        replay_name: replay_name.flatten().map(std::borrow::Cow::into_owned),
    })
}

/// A string; anything else (null included) is serde's to refuse.
fn required_string<'a>(reader: &mut JsonReader<'a, ()>) -> Read<std::borrow::Cow<'a, str>> {
    if reader.peek() != Some(b'"') {
        return Err(Unread::NotMine);
    }
    reader.string()
}

/// A string or null (None); anything else is serde's to refuse.
fn optional_string<'a>(reader: &mut JsonReader<'a, ()>) -> Read<Option<std::borrow::Cow<'a, str>>> {
    if reader.literal_null()? {
        return Ok(None);
    }
    if reader.peek() != Some(b'"') {
        return Err(Unread::NotMine);
    }
    reader.string().map(Some)
}

/// A body's text → its delivery: not JSON at all, or JSON that is not an event.
fn delivery_from_text(body: &str) -> Result<Delivery, MessageError> {
    if let Some(delivery) = read_delivery(body) {
        return Ok(delivery);
    }
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
    // Nearly every payload is an SQS batch that reads as one: a single pass over its text,
    // by hand, then by serde for what the hand reader leaves. Whatever does not read so is
    // told apart by its keys first, as the value reader does.
    if let Some(records) = read_sqs_batch(payload) {
        return Ok(sqs_batch(SqsBatchText { records }));
    }
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

    /// What serde reads of a batch, and what the hand reader reads of it (None: left to
    /// serde): whatever the hand reader reads, serde reads the same.
    fn both_readers(text: &str) -> (Option<SqsBatchText<'_>>, Option<Vec<SqsRecordText<'_>>>) {
        (serde_json::from_str::<SqsBatchText>(text).ok(), read_sqs_batch(text))
    }

    fn read_alike(text: &str) {
        let (by_serde, by_hand) = both_readers(text);
        if let Some(records) = by_hand {
            assert_eq!(Some(SqsBatchText { records }), by_serde, "{text}");
        }
    }

    #[test]
    fn an_sqs_batch_is_read_by_hand_as_serde_reads_it_or_left_to_serde() {
        let read_by_hand = [
            r#"{"Records":[]}"#,
            r#" { "Records" : [ { "body" : "{}" , "messageId" : "m1" } ] } "#,
            r#"{"Records":[{"messageId":"m1","body":"{\"id\":\"e\\u00e9\",\"n\":\"a\\\"b\"}","attributes":{"x":[1,2.5e3,true,null,{"y":"z"}]}}]}"#,
            r#"{"Records":[{"messageId":null,"body":null},{},{"body":"\u00e9\ud83d\ude00\/\b\f\n\r\t"}],"other":{"Records":5}}"#,
            r#"{"Rec\u006frds":[{"messageId":"m"}]}"#,
        ];
        for text in read_by_hand {
            assert!(read_sqs_batch(text).is_some(), "read by hand: {text}");
            read_alike(text);
        }
        let left_to_serde = [
            // Not JSON, or not all of it.
            r#"{"Records":[]} x"#,
            r#"{"Records":[{"body":"cut"#,
            "{\"Records\":[{\"body\":\"a\u{1}b\"}]}",
            r#"{"Records":[{"body":"\x"}]}"#,
            // Another shape: serde's derive says what it makes of it.
            r#"{"Records":[],"Records":[]}"#,
            r#"{"Records":[{"body":"a","body":"b"}]}"#,
            r#"{"Records":[{"messageId":5}]}"#,
            r#"{"Records":[["m1","a body read as a sequence"]]}"#,
            r#"{"Records":null}"#,
            r#"{"detail-type":"X"}"#,
            r#"["Records"]"#,
            // A surrogate that is no character.
            r#"{"Records":[{"body":"\ud800"}]}"#,
        ];
        for text in left_to_serde {
            assert!(read_sqs_batch(text).is_none(), "left to serde: {text}");
        }
        // The sequence form is serde's own, and still read.
        assert!(both_readers(r#"{"Records":[["m1","b"]]}"#).0.is_some());
    }

    /// A body as a producer writes it: an event's JSON, quotes and escapes every few bytes.
    fn batch_of(bodies: &[String]) -> String {
        let records: Vec<Value> = bodies
            .iter()
            .enumerate()
            .map(|(n, body)| {
                json!({"messageId": format!("m{n}"), "receiptHandle": "r", "body": body,
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}})
            })
            .collect();
        json!({ "Records": records }).to_string()
    }

    proptest::proptest! {
        #[test]
        fn any_batch_of_any_bodies_is_read_by_hand_as_serde_reads_it(bodies in proptest::collection::vec(proptest::prelude::any::<String>(), 0..6)) {
            let text = batch_of(&bodies);
            let records = read_sqs_batch(&text).expect("a batch serde_json wrote is read by hand");
            proptest::prop_assert_eq!(records.iter().map(|r| r.body.as_deref().unwrap_or_default().to_string()).collect::<Vec<_>>(), bodies);
            read_alike(&text);
        }

        #[test]
        fn bodies_thick_with_escapes_are_read_by_hand_as_serde_reads_them(body in "[\"\\\\\\x00-\\x1f a-z/é😀{}:,]{0,60}") {
            let text = batch_of(&[serde_json::to_string(&json!({"id": body, "detail": {"note": body}})).unwrap()]);
            proptest::prop_assert!(read_sqs_batch(&text).is_some());
            read_alike(&text);
        }

        /// Cut anywhere, a byte changed anywhere: the hand reader reads what serde reads, or
        /// leaves it to serde.
        #[test]
        fn a_batch_cut_or_changed_anywhere_is_read_alike_or_left_to_serde(
            body in "[\"\\\\a-z\\x00-\\x1f]{0,12}",
            cut in 0usize..400,
            at in 0usize..400,
            byte in proptest::prelude::any::<u8>(),
        ) {
            let text = batch_of(&[body.clone(), format!("{{\"k\":{}}}", serde_json::to_string(&body).unwrap())]);
            let cut_text = &text[..text.floor_char_boundary(cut.min(text.len()))];
            read_alike(cut_text);
            let mut bytes = text.clone().into_bytes();
            let at = at % bytes.len();
            bytes[at] = byte;
            if let Ok(changed) = String::from_utf8(bytes) {
                read_alike(&changed);
            }
        }
    }

    /// Whatever the hand reader reads of an event, serde reads the same.
    fn delivery_read_alike(text: &str) {
        if let Some(by_hand) = read_delivery(text) {
            let by_serde: Result<Delivery, _> = serde_json::from_str(text);
            assert_eq!(by_serde.ok(), Some(by_hand), "{text}");
        }
    }

    #[test]
    fn an_event_is_read_by_hand_as_serde_reads_it_or_left_to_serde() {
        let read_by_hand = [
            r#"{"version":"0","id":"e-1","detail-type":"Large Transaction","source":"txn-notify","account":"1","time":"2026-12-06T10:00:00Z","region":"eu-west-1","resources":[],"detail":{"event_id":"ev-1","note":"a \"q\" \u00e9","n":[1,-2.5e-3,true,null]}}"#,
            r#" { "id" : "e" , "detail-type" : "X" , "source" : "s" , "detail" : [ 1 , { } ] , "time" : null , "replay-name" : "after" } "#,
            r#"{"id":"e","detail-type":"X","source":"s","detail":"text","time":"2026-12-06T11:30:00.123+01:30"}"#,
            r#"{"id":"e","detail-type":"X","source":"s","detail":null,"replay-name":null}"#,
            r#"{"id":"\u00e9\ud83d\ude00","detail-type":"X\n","source":"s","detail":12.5}"#,
            // A detail is checked as serde passes over a value it keeps whole: any four hex
            // digits make an escape (the consumer that reads the detail judges them).
            r#"{"id":"e","detail-type":"X","source":"s","detail":{"a":"\ud800"}}"#,
        ];
        for text in read_by_hand {
            assert!(read_delivery(text).is_some(), "read by hand: {text}");
            delivery_read_alike(text);
        }
        let hand = read_delivery(read_by_hand[2]).unwrap();
        assert_eq!(hand.time.unwrap().to_rfc3339(), "2026-12-06T10:00:00.123+00:00");
        assert_eq!(read_delivery(read_by_hand[1]).unwrap().detail.get(), "[ 1 , { } ]");
        let left_to_serde = [
            r#"{"id":"e","detail-type":"X","source":"s"}"#,
            r#"{"id":null,"detail-type":"X","source":"s","detail":{}}"#,
            r#"{"id":5,"detail-type":"X","source":"s","detail":{}}"#,
            r#"{"id":"e","id":"f","detail-type":"X","source":"s","detail":{}}"#,
            r#"{"id":"e","detail-type":"X","source":"s","detail":{},"time":"yesterday"}"#,
            r#"{"id":"e","detail-type":"X","source":"s","detail":{},"time":5}"#,
            r#"{"id":"\ud800","detail-type":"X","source":"s","detail":{}}"#,
            r#"{"id":"e","detail-type":"X","source":"s","detail":{"a":1}} x"#,
            r#"{"id":"e","detail-type":"X","source":"s","detail":{"a":01}}"#,
            r#"["e","X","s",null,{}]"#,
            "not json",
        ];
        for text in left_to_serde {
            assert!(read_delivery(text).is_none(), "left to serde: {text}");
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-1e6f64..1e6).prop_map(|n| json!(n)),
            "[\"\\\\a-z\\x00-\\x1fé😀]{0,10}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_\"]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn any_event_is_read_by_hand_as_serde_reads_it(
            detail in json_value(),
            extra in json_value(),
            id in "[a-z0-9\"\\\\-]{1,12}",
            time in proptest::option::of(proptest::prop_oneof![
                proptest::strategy::Just("2026-12-06T10:00:00Z".to_string()),
                "20[0-9]{2}-1[0-2]-[0-2][0-9]T[01][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]0[0-9]:[0-5][0-9])",
                "[0-9TZ:.+-]{0,12}",
            ]),
            replay in proptest::option::of("[a-z-]{1,10}"),
        ) {
            let mut event = json!({"version": "0", "id": id, "detail-type": "X", "source": "s",
                "account": "123", "region": "local", "resources": [], "detail": detail, "extra": extra});
            if let Some(time) = &time {
                event["time"] = json!(time);
            }
            if let Some(replay) = &replay {
                event["replay-name"] = json!(replay);
            }
            let text = event.to_string();
            let by_serde: Result<Delivery, _> = serde_json::from_str(&text);
            // Read by hand whenever the time reads (all else is always of the usual shape).
            proptest::prop_assert_eq!(read_delivery(&text).is_some(), by_serde.is_ok(), "{}", text);
            delivery_read_alike(&text);
            let pretty = serde_json::to_string_pretty(&event).unwrap();
            delivery_read_alike(&pretty);
        }

        #[test]
        fn an_event_cut_or_changed_anywhere_is_read_alike_or_left_to_serde(
            detail in json_value(),
            cut in 0usize..300,
            at in 0usize..300,
            byte in proptest::prelude::any::<u8>(),
        ) {
            let text = json!({"id": "e-1", "detail-type": "X", "source": "s", "time": "2026-12-06T10:00:00Z",
                "detail": detail}).to_string();
            delivery_read_alike(&text[..text.floor_char_boundary(cut.min(text.len()))]);
            let mut bytes = text.clone().into_bytes();
            let at = at % bytes.len();
            bytes[at] = byte;
            if let Ok(changed) = String::from_utf8(bytes) {
                delivery_read_alike(&changed);
            }
        }
    }
}
