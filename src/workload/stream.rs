//! Encodes ledger writes as a DynamoDB stream event, shaped exactly as Lambda delivers one.

use serde_dynamo::{AttributeValue, Item};
use serde_json::{Value, json};

use super::LedgerWrite;

pub const REGION: &str = "eu-west-3";
pub const STREAM_ARN: &str = "arn:aws:dynamodb:eu-west-3:123456789012:table/ledger/stream/2026-11-01T00:00:00.000";

fn keys_of(item: &Item) -> Item {
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

/// One stream record of the stream `origin`.
pub fn stream_record_from(write: &LedgerWrite, index: usize, origin: StreamOrigin) -> Value {
    let (event_name, keys, new_image, old_image, by_ttl) = match write {
        LedgerWrite::Insert { item, .. } => ("INSERT", keys_of(item), Some(item), None, false),
        LedgerWrite::Modify { old, new, .. } => ("MODIFY", keys_of(new), Some(new), Some(old), false),
        LedgerWrite::Remove { old, by_ttl, .. } => ("REMOVE", keys_of(old), None, Some(old), *by_ttl),
    };
    let image_bytes = |image: Option<&Item>| image.map_or(0, |i| serde_json::to_vec(i).map_or(0, |b| b.len()));
    let size_bytes = image_bytes(Some(&keys)) + image_bytes(new_image) + image_bytes(old_image);
    let mut change = json!({
        "ApproximateCreationDateTime": write.at().timestamp(),
        "Keys": keys,
        "SequenceNumber": format!("{:021}", 4_000_000_000_000_000_000u128 + index as u128 * 100),
        "SizeBytes": size_bytes,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if let Some(image) = new_image {
        change["NewImage"] = serde_json::to_value(image).expect("items serialize");
    }
    if let Some(image) = old_image {
        change["OldImage"] = serde_json::to_value(image).expect("items serialize");
    }
    let mut record = json!({
        "eventID": format!("{:032x}", 0x7f3a_0000_0000_0000_0000_0000_0000_0000u128 + index as u128),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": origin.region,
        "dynamodb": change,
        "eventSourceARN": origin.stream_arn,
    });
    if by_ttl {
        record["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    }
    record
}

pub fn to_stream_event(writes: &[LedgerWrite]) -> Value {
    json!({ "Records": writes.iter().enumerate().map(|(i, w)| stream_record(w, i)).collect::<Vec<_>>() })
}
