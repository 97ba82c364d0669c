//! One stream record read in place: `RecordView` takes exactly what `aws_lambda_events`'s
//! `EventRecord` takes (a test compares the two on every field given every kind of value),
//! its images borrowed as `ItemView`s. `batch_reader` fills it by hand, serde by derive.

use aws_lambda_events::event::dynamodb::{EventRecord, StreamViewType};
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::domain::Transaction;
use crate::domain::item_view::{ItemView, Text};

/// Why a record of a batch is not a stream record (it becomes a Record Rejected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedRecord {
    #[error("the record is not a stream record")]
    NotARecord,
    #[error("the record is not a JSON object of the stream record shape")]
    NotAnObject,
    /// serde's own message may quote the offending value: the field is named instead.
    #[error("field `{0}` is missing or has the wrong shape")]
    Field(String),
}

/// A stream record read in place. It takes exactly what `aws_lambda_events`'s
/// `EventRecord` takes (the tests compare the two), without copying the images.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordView<'a> {
    #[serde(borrow)]
    #[allow(dead_code)]
    aws_region: Text<'a>,
    #[serde(rename = "dynamodb", borrow)]
    pub change: ChangeView<'a>,
    #[serde(rename = "eventID", borrow)]
    pub event_id: Text<'a>,
    #[serde(borrow)]
    pub event_name: Text<'a>,
    #[serde(default, borrow)]
    #[allow(dead_code)]
    event_source: Option<Text<'a>>,
    #[serde(default, borrow)]
    #[allow(dead_code)]
    event_version: Option<Text<'a>>,
    #[serde(rename = "eventSourceARN", default, borrow)]
    pub event_source_arn: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub user_identity: Option<UserIdentityView<'a>>,
    #[serde(default, borrow)]
    #[allow(dead_code)]
    record_format: Option<Text<'a>>,
    #[serde(default, borrow)]
    #[allow(dead_code)]
    table_name: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentityView<'a> {
    #[serde(rename = "type", default, borrow)]
    pub type_: Text<'a>,
    #[serde(default, borrow)]
    pub principal_id: Text<'a>,
}

#[derive(Debug, Deserialize)]
pub struct ChangeView<'a> {
    #[serde(
        rename = "ApproximateCreationDateTime",
        default = "epoch",
        deserialize_with = "float_epoch"
    )]
    pub approximate_creation_date_time: DateTime<Utc>,
    #[serde(rename = "Keys", default, borrow, deserialize_with = "nullish")]
    pub keys: ItemView<'a>,
    #[serde(rename = "NewImage", default, borrow, deserialize_with = "nullish")]
    pub new_image: ItemView<'a>,
    #[serde(rename = "OldImage", default, borrow, deserialize_with = "nullish")]
    pub old_image: ItemView<'a>,
    #[serde(rename = "SequenceNumber", default, borrow)]
    pub sequence_number: Option<Text<'a>>,
    #[serde(rename = "SizeBytes")]
    #[allow(dead_code)]
    size_bytes: i64,
    #[serde(rename = "StreamViewType", default)]
    #[allow(dead_code)]
    stream_view_type: Option<StreamViewType>,
    /// The NewImage, when the batch reader decoded it as a transaction as it read it
    /// (`new_image` is then empty until the image is read again from its text).
    #[serde(skip)]
    pub(super) new_transaction: Option<ReadTransaction<'a>>,
}

/// A NewImage the batch reader decoded as a transaction, and its text.
#[derive(Debug)]
pub struct ReadTransaction<'a> {
    pub transaction: Box<Transaction>,
    pub text: &'a str,
}

fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::default()
}

/// An image given as null reads as none, as `EventRecord` reads it.
fn nullish<'de: 'a, 'a, D: Deserializer<'de>>(deserializer: D) -> Result<ItemView<'a>, D::Error> {
    Ok(Option::<ItemView<'a>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Seconds since the epoch, as `EventRecord` reads them, to the same instant: its fraction
/// is taken as millionths and given to chrono as nanoseconds, so the events it gives stay
/// the events this gives.
pub(super) fn float_epoch<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    struct Seconds;
    impl serde::de::Visitor<'_> for Seconds {
        type Value = DateTime<Utc>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a unix timestamp as a float")
        }
        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<DateTime<Utc>, E> {
            single(Utc.timestamp_opt(value as i64, 0), value)
        }
        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<DateTime<Utc>, E> {
            single(Utc.timestamp_opt(value, 0), value)
        }
        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<DateTime<Utc>, E> {
            let fraction = (value.fract() * 1_000_000.).floor() as u32;
            single(Utc.timestamp_opt(value.trunc() as i64, fraction), value)
        }
    }
    fn single<E: serde::de::Error>(
        at: chrono::LocalResult<DateTime<Utc>>,
        value: impl std::fmt::Display,
    ) -> Result<DateTime<Utc>, E> {
        match at {
            chrono::LocalResult::Single(at) => Ok(at),
            _ => Err(E::custom(format!("value is not a legal timestamp: {value}"))),
        }
    }
    deserializer.deserialize_f64(Seconds)
}

impl<'a> RecordView<'a> {
    /// What `batch_reader` read: the required fields, the optional texts (eventSource,
    /// eventVersion, eventSourceARN, recordFormat, tableName) and the user identity.
    pub(super) fn from_parts(
        aws_region: Text<'a>,
        change: ChangeView<'a>,
        event_id: Text<'a>,
        event_name: Text<'a>,
        texts: [Option<Text<'a>>; 5],
        user_identity: Option<UserIdentityView<'a>>,
    ) -> RecordView<'a> {
        let [event_source, event_version, event_source_arn, record_format, table_name] = texts;
        RecordView {
            aws_region,
            change,
            event_id,
            event_name,
            event_source,
            event_version,
            event_source_arn,
            user_identity,
            record_format,
            table_name,
        }
    }
}

impl<'a> ChangeView<'a> {
    /// What `batch_reader` read: the images are Keys, NewImage, OldImage.
    pub(super) fn from_parts(
        approximate_creation_date_time: DateTime<Utc>,
        images: [ItemView<'a>; 3],
        new_transaction: Option<ReadTransaction<'a>>,
        sequence_number: Option<Text<'a>>,
        size_bytes: i64,
        stream_view_type: Option<StreamViewType>,
    ) -> ChangeView<'a> {
        let [keys, new_image, old_image] = images;
        ChangeView {
            approximate_creation_date_time,
            keys,
            new_image,
            old_image,
            sequence_number,
            size_bytes,
            stream_view_type,
            new_transaction,
        }
    }
}

/// One record of a batch: read if it has the shape of a stream record.
pub struct Incoming<'a> {
    pub record: Result<RecordView<'a>, MalformedRecord>,
    pub(super) raw: Option<&'a str>,
}

impl<'a> Incoming<'a> {
    /// A record `batch_reader` read, with its text.
    pub(super) fn read(record: RecordView<'a>, raw: &'a str) -> Incoming<'a> {
        Incoming {
            record: Ok(record),
            raw: Some(raw),
        }
    }

    pub fn from_raw(raw: &'a RawValue) -> Incoming<'a> {
        let record = serde_json::from_str::<RecordView>(raw.get()).map_err(|_| {
            // Read again, only when it failed, to learn where; path tracking costs on every
            // record. The Lambda event type names the field as it always did.
            let mut deserializer = serde_json::Deserializer::from_str(raw.get());
            let Err(e) = serde_path_to_error::deserialize::<_, EventRecord>(&mut deserializer) else {
                return MalformedRecord::NotARecord;
            };
            let path = e.path().to_string();
            if path.is_empty() || path == "." {
                MalformedRecord::NotAnObject
            } else {
                MalformedRecord::Field(path)
            }
        });
        Incoming {
            record,
            raw: Some(raw.get()),
        }
    }

    /// Drops the images (the bulk of a record's view) once the record is planned, while
    /// their memory is still in cache; the keys and the stream fields stay.
    pub(super) fn let_images_go(&mut self) {
        if let Ok(record) = &mut self.record {
            record.change.new_image = ItemView::default();
            record.change.old_image = ItemView::default();
            record.change.new_transaction = None;
        }
    }

    #[cfg(test)]
    pub(super) fn raw_text(&self) -> Option<&'a str> {
        self.raw
    }

    /// The record as received, for a Record Rejected event (null when it was not kept:
    /// `StreamBatch::keep_raw_records`).
    pub fn raw_json(&self) -> Value {
        match &self.raw {
            Some(raw) => serde_json::from_str(raw).unwrap_or(Value::Null),
            None => Value::Null,
        }
    }

    pub fn sequence_number(&self) -> Option<String> {
        match &self.record {
            Ok(record) => record.change.sequence_number.as_ref().map(|s| s.as_str().to_string()),
            Err(_) => self.raw_field(&["dynamodb", "SequenceNumber"]),
        }
    }

    pub fn stream_event_id(&self) -> Option<String> {
        match &self.record {
            Ok(record) => Some(record.event_id.as_str().to_string()),
            Err(_) => self.raw_field(&["eventID"]),
        }
    }

    fn raw_field(&self, path: &[&str]) -> Option<String> {
        let mut value = &self.raw_json();
        for key in path {
            value = value.get(key)?;
        }
        value.as_str().map(str::to_string)
    }

    /// When DynamoDB wrote the change; None when the record does not say.
    pub fn approximate_creation(&self) -> Option<DateTime<Utc>> {
        let record = self.record.as_ref().ok()?;
        let at = record.change.approximate_creation_date_time;
        (at.timestamp() > 0).then_some(at)
    }
}

/// Every variant of a JSON object: each member, at every depth, removed (None) or given each
/// replacement in turn. What the differential tests of the two readers walk through.
#[cfg(test)]
pub(super) fn every_variant(base: &Value, replacements: &[Option<Value>]) -> Vec<(String, Value)> {
    fn paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Object(map) = value {
            for (key, item) in map {
                let path = format!("{prefix}/{key}");
                out.push(path.clone());
                paths(item, &path, out);
            }
        }
    }
    let mut all = Vec::new();
    paths(base, "", &mut all);
    let mut variants = Vec::new();
    for path in &all {
        for replacement in replacements {
            let mut changed = base.clone();
            let (parent, key) = path.rsplit_once('/').expect("a path has a parent");
            let target = changed
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
                .expect("the parent is an object");
            match replacement {
                None => {
                    target.remove(key);
                }
                Some(value) => {
                    target.insert(key.to_string(), value.clone());
                }
            }
            variants.push((format!("{path} = {replacement:?}"), changed));
        }
    }
    variants
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use super::super::record_fixture::stream_record as sample_record;

    /// Every field of the record, at every depth, given a value of each JSON kind in turn
    /// (or removed): the view takes exactly the records the Lambda event type takes, and
    /// reads the same keys, images, sequence number and time from them.
    #[test]
    fn the_record_view_takes_exactly_what_the_lambda_event_type_takes() {
        let replacements = [
            None,
            Some(Value::Null),
            Some(json!(1)),
            Some(json!(-1.5)),
            Some(json!(1e300)),
            Some(json!("text")),
            Some(json!(true)),
            Some(json!([])),
            Some(json!({})),
            Some(json!({"S": "x"})),
            Some(json!(["NEW_IMAGE"])),
            Some(json!("NEW_IMAGE")),
        ];
        let mut compared = 0;
        for (what, record) in every_variant(&sample_record(), &replacements) {
            let text = record.to_string();
            let typed = serde_json::from_str::<EventRecord>(&text);
            let viewed = serde_json::from_str::<RecordView>(&text);
            assert_eq!(typed.is_ok(), viewed.is_ok(), "{what}: {text}");
            if let (Ok(typed), Ok(viewed)) = (typed, viewed) {
                assert_eq!(typed.change.keys.clone().into_inner(), viewed.change.keys.to_item());
                assert_eq!(
                    typed.change.new_image.clone().into_inner(),
                    viewed.change.new_image.to_item()
                );
                assert_eq!(
                    typed.change.old_image.clone().into_inner(),
                    viewed.change.old_image.to_item()
                );
                assert_eq!(
                    typed.change.sequence_number.as_deref(),
                    viewed.change.sequence_number.as_ref().map(Text::as_str)
                );
                assert_eq!(
                    typed.change.approximate_creation_date_time,
                    viewed.change.approximate_creation_date_time
                );
                assert_eq!(typed.event_name, viewed.event_name.as_str());
                assert_eq!(
                    typed.user_identity.map(|u| (u.type_, u.principal_id)),
                    viewed
                        .user_identity
                        .map(|u| (u.type_.as_str().to_string(), u.principal_id.as_str().to_string()))
                );
            }
            compared += 1;
        }
        assert!(compared > 200, "{compared}");
    }
}
