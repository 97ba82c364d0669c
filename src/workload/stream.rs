//! Encodes ledger writes as a DynamoDB stream event, shaped exactly as Lambda delivers one.

use serde_dynamo::{AttributeValue, Item};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::LedgerWrite;

pub const REGION: &str = "eu-west-3";
pub const STREAM_ARN: &str = "arn:aws:dynamodb:eu-west-3:123456789012:table/ledger/stream/2026-11-01T00:00:00.000";

/// The item's key attributes, as a record's `Keys`.
pub fn keys_of(item: &Item) -> Item {
    let mut keys = Item::default();
    for name in ["pk", "sk"] {
        if let Some(value) = item.get(name) {
            keys.insert(name.into(), value.clone());
        }
    }
    if keys.is_empty() {
        keys.insert("pk".into(), AttributeValue::S(String::new()));
    }
    keys
}

/// Where stream records say they come from.
#[derive(Debug, Clone, Copy)]
pub struct StreamOrigin {
    pub region: &'static str,
    pub stream_arn: &'static str,
}

/// The origin of generated sample events.
pub const SAMPLE_ORIGIN: StreamOrigin = StreamOrigin {
    region: REGION,
    stream_arn: STREAM_ARN,
};

/// One stream record. Sequence numbers increase with `index`, as DynamoDB's do within a shard.
pub fn stream_record(write: &LedgerWrite, index: usize) -> Value {
    stream_record_from(write, index, SAMPLE_ORIGIN)
}

/// The `SequenceNumber` of the record at `index`: increasing, 21 digits, as DynamoDB's.
pub fn sequence_number(index: usize) -> String {
    format!("{:021}", 4_000_000_000_000_000_000u128 + index as u128 * 100)
}

/// One stream record of the stream `origin`.
pub fn stream_record_from(write: &LedgerWrite, index: usize, origin: StreamOrigin) -> Value {
    let text = stream_record_text(write, index, origin);
    serde_json::from_str(&text).expect("a stream record is JSON")
}

/// One stream record of the stream `origin`, as JSON text.
pub fn stream_record_text(write: &LedgerWrite, index: usize, origin: StreamOrigin) -> String {
    let text = |image: &Item| serde_json::value::to_raw_value(image).expect("items serialize");
    let (event_name, keys, new_image, old_image, by_ttl) = match write {
        LedgerWrite::Insert { item, .. } => ("INSERT", keys_of(item), Some(text(item)), None, false),
        LedgerWrite::Modify { old, new, .. } => ("MODIFY", keys_of(new), Some(text(new)), Some(text(old)), false),
        LedgerWrite::Remove { old, by_ttl, .. } => ("REMOVE", keys_of(old), None, Some(text(old)), *by_ttl),
    };
    RecordParts {
        event_name,
        keys: &keys,
        new_image: new_image.as_deref(),
        old_image: old_image.as_deref(),
        at: write.at(),
        by_ttl,
    }
    .text(index, origin)
}

/// A change as a stream record holds it, its images already JSON text (the store has
/// written them so; a `RawValue` made by serializing is not read through again).
pub struct RecordParts<'a> {
    /// INSERT, MODIFY or REMOVE.
    pub event_name: &'static str,
    pub keys: &'a Item,
    pub new_image: Option<&'a RawValue>,
    pub old_image: Option<&'a RawValue>,
    pub at: chrono::DateTime<chrono::Utc>,
    /// A REMOVE done by TTL: the record names the service.
    pub by_ttl: bool,
}

impl RecordParts<'_> {
    /// The stream record at `index` of the stream `origin`, as JSON text.
    pub fn text(&self, index: usize, origin: StreamOrigin) -> String {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Change<'a> {
            approximate_creation_date_time: i64,
            keys: &'a Item,
            #[serde(skip_serializing_if = "Option::is_none")]
            new_image: Option<&'a RawValue>,
            #[serde(skip_serializing_if = "Option::is_none")]
            old_image: Option<&'a RawValue>,
            sequence_number: String,
            size_bytes: usize,
            stream_view_type: &'static str,
        }
        #[derive(serde::Serialize)]
        struct Identity {
            #[serde(rename = "type")]
            kind: &'static str,
            #[serde(rename = "principalId")]
            principal_id: &'static str,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Record<'a> {
            #[serde(rename = "eventID")]
            event_id: String,
            event_name: &'static str,
            event_version: &'static str,
            event_source: &'static str,
            aws_region: &'static str,
            dynamodb: Change<'a>,
            #[serde(rename = "eventSourceARN")]
            event_source_arn: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            user_identity: Option<Identity>,
        }
        let length = |image: Option<&RawValue>| image.map_or(0, |image| image.get().len());
        let keys_bytes = serde_json::to_vec(self.keys).map_or(0, |b| b.len());
        let size_bytes = keys_bytes + length(self.new_image) + length(self.old_image);
        let record = Record {
            event_id: format!("{:032x}", 0x7f3a_0000_0000_0000_0000_0000_0000_0000u128 + index as u128),
            event_name: self.event_name,
            event_version: "1.1",
            event_source: "aws:dynamodb",
            aws_region: origin.region,
            dynamodb: Change {
                approximate_creation_date_time: self.at.timestamp(),
                keys: self.keys,
                new_image: self.new_image,
                old_image: self.old_image,
                sequence_number: sequence_number(index),
                size_bytes,
                stream_view_type: "NEW_AND_OLD_IMAGES",
            },
            event_source_arn: origin.stream_arn,
            user_identity: self.by_ttl.then_some(Identity {
                kind: "Service",
                principal_id: "dynamodb.amazonaws.com",
            }),
        };
        serde_json::to_string(&record).expect("a stream record serializes")
    }
}

pub fn to_stream_event(writes: &[LedgerWrite]) -> Value {
    json!({ "Records": writes.iter().enumerate().map(|(i, w)| stream_record(w, i)).collect::<Vec<_>>() })
}
