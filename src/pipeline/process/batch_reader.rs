//! Reads a stream batch in one pass, by hand: the processor's hot path. serde_json through
//! `RecordView`'s derive costs more than all the rest of the processor together; this reader
//! takes the same text at several times the speed.
//!
//! It is exact by construction, not by imitation: it validates the JSON as serde_json does
//! (whitespace, strings and their escapes, control characters, numbers, literals, nothing
//! after the value), and reads only what it is sure to read as serde would. Whatever else
//! it meets it gives back:
//!
//! | what it meets | what happens |
//! |---|---|
//! | a record of the usual shape, its strings without `\u` escapes | read here into a `RecordView` |
//! | any other record (a field of another type, a name given twice, a `\u` escape, nesting past 64) | that record alone is read by serde, as the slow path reads it |
//! | a payload that is not valid JSON, not an object, with no literal `"Records"` list | the whole batch goes to the slow path, which names what is wrong |
//!
//! Numbers that are read (SizeBytes, ApproximateCreationDateTime) are handed to serde_json
//! itself, on their own text.

use std::borrow::Cow;

use aws_lambda_events::event::dynamodb::StreamViewType;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{TimeZone, Utc};
use serde_json::value::RawValue;

use super::record_view::{ChangeView, Incoming, ReadTransaction, RecordView, UserIdentityView, float_epoch};
use crate::domain::Transaction;
use crate::domain::fields::plain_digits;
use crate::domain::item_view::{Attr, ItemView, Text};
use crate::domain::json_reader::{JsonReader, MAX_DEPTH, Read, Unread, once};
use crate::domain::transaction::TransactionMembers;

/// The records of a batch, or None when the slow path must read it.
#[cfg(test)]
pub fn read_batch(text: &str) -> Option<Vec<Incoming<'_>>> {
    read_batch_with(text, NewImages::AsViews, |_| ()).map(|(records, _)| records)
}

/// How the reader takes a record's NewImage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewImages {
    /// Always as an `ItemView`.
    AsViews,
    /// A transaction that decodes is read straight into its members and decoded there
    /// (`ChangeView::new_transaction`, with the image's text), with no view built; any other
    /// image as a view.
    TransactionsDecoded,
}

/// The records of a batch and what `each` makes of each record while it is still in cache
/// (the processor plans it there, then lets go of what it no longer needs), or None when
/// the slow path must read the batch.
pub fn read_batch_with<'a, T>(
    text: &'a str,
    new_images: NewImages,
    mut each: impl FnMut(&mut Incoming<'a>) -> T,
) -> Option<(Vec<Incoming<'a>>, Vec<T>)> {
    let mut reader = Reader::new(text, new_images);
    let mut made = Vec::new();
    reader.space();
    reader.expect(b'{')?;
    let mut records = None;
    reader.space();
    if reader.peek()? != b'}' {
        loop {
            reader.space();
            let key = reader.plain_key()?;
            reader.space();
            reader.expect(b':')?;
            reader.space();
            if key == "Records" {
                if records.is_some() {
                    return None;
                }
                records = Some(reader.records(&mut |incoming| made.push(each(incoming)))?);
            } else {
                reader.skip_value(0).ok()?;
            }
            reader.space();
            match reader.next()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
    } else {
        reader.at += 1;
    }
    reader.space();
    (reader.at == reader.bytes.len()).then_some(())?;
    Some((records?, made))
}

/// The JSON reader, with how it takes a record's NewImage.
type Reader<'a> = JsonReader<'a, NewImages>;

/// An image the reader took as a transaction, read again as a view: what a record planned
/// some other way needs. The text was read whole before, so it reads the same again.
pub(super) fn image_of(text: &str) -> ItemView<'_> {
    let mut reader = Reader::new(text, NewImages::AsViews);
    let image = reader.image(24);
    debug_assert!(image.is_ok(), "an image read before reads again");
    image.unwrap_or_default()
}

/// A NewImage as the reader took it.
enum NewImage<'a> {
    View(ItemView<'a>),
    Transaction(ReadTransaction<'a>),
}

impl<'a> JsonReader<'a, NewImages> {
    /// The elements of the `Records` array, each read here or by serde.
    fn records(&mut self, each: &mut impl FnMut(&mut Incoming<'a>)) -> Option<Vec<Incoming<'a>>> {
        self.expect(b'[')?;
        // A stream record takes about a kilobyte of text: room for most batches at once.
        let mut records = Vec::with_capacity((self.bytes.len() - self.at) / 1024 + 1);
        self.space();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(records);
        }
        loop {
            self.space();
            let start = self.at;
            let mut incoming = match self.record() {
                Ok(record) => Incoming::read(record, &self.text[start..self.at]),
                Err(Unread::Invalid) => return None,
                Err(Unread::NotMine) => {
                    self.at = start;
                    self.skip_value(0).ok()?;
                    let raw: &RawValue = serde_json::from_str(&self.text[start..self.at]).ok()?;
                    Incoming::from_raw(raw)
                }
            };
            each(&mut incoming);
            records.push(incoming);
            self.space();
            match self.next()? {
                b',' => continue,
                b']' => return Some(records),
                _ => return None,
            }
        }
    }

    fn record(&mut self) -> Read<RecordView<'a>> {
        let mut aws_region = None;
        let mut change = None;
        let mut event_id = None;
        let mut event_name = None;
        let (mut event_source, mut event_version, mut event_source_arn) = (None, None, None);
        let (mut user_identity, mut record_format, mut table_name) = (None, None, None);
        self.object(|reader, key| match key.as_ref() {
            "awsRegion" => once(&mut aws_region, reader.text_value()?),
            "dynamodb" => once(&mut change, reader.change()?),
            "eventID" => once(&mut event_id, reader.text_value()?),
            "eventName" => once(&mut event_name, reader.text_value()?),
            "eventSource" => once(&mut event_source, reader.optional_text()?),
            "eventVersion" => once(&mut event_version, reader.optional_text()?),
            "eventSourceARN" => once(&mut event_source_arn, reader.optional_text()?),
            "userIdentity" => once(&mut user_identity, reader.user_identity()?),
            "recordFormat" => once(&mut record_format, reader.optional_text()?),
            "tableName" => once(&mut table_name, reader.optional_text()?),
            _ => reader.skip_value(1),
        })?;
        Ok(RecordView::from_parts(
            aws_region.ok_or(Unread::NotMine)?,
            change.ok_or(Unread::NotMine)?,
            event_id.ok_or(Unread::NotMine)?,
            event_name.ok_or(Unread::NotMine)?,
            [
                event_source.flatten(),
                event_version.flatten(),
                event_source_arn.flatten(),
                record_format.flatten(),
                table_name.flatten(),
            ],
            user_identity.flatten(),
        ))
    }

    fn change(&mut self) -> Read<ChangeView<'a>> {
        let mut created = None;
        let (mut keys, mut new_image, mut old_image) = (None, None, None);
        let mut sequence_number = None;
        let mut size_bytes = None;
        let mut view_type = None;
        self.object(|reader, key| match key.as_ref() {
            "ApproximateCreationDateTime" => {
                let number = reader.number_text()?;
                let at = match plain_digits(number) {
                    // Whole seconds, as DynamoDB Streams writes them: what serde's u64 gives.
                    Some(seconds) => Utc.timestamp_opt(seconds as i64, 0).single().ok_or(Unread::NotMine)?,
                    None => {
                        let mut deserializer = serde_json::Deserializer::from_str(number);
                        float_epoch(&mut deserializer).map_err(|_| Unread::NotMine)?
                    }
                };
                once(&mut created, at)
            }
            // An item has a score of attributes, its keys two, the maps inside it a few.
            "Keys" => once(&mut keys, reader.image(2)?),
            "NewImage" => once(&mut new_image, reader.new_image()?),
            "OldImage" => once(&mut old_image, reader.image(24)?),
            "SequenceNumber" => once(&mut sequence_number, reader.optional_text()?),
            "SizeBytes" => {
                let number = reader.number_text()?;
                let size = match plain_digits(number) {
                    Some(size) => size as i64,
                    None => serde_json::from_str::<i64>(number).map_err(|_| Unread::NotMine)?,
                };
                once(&mut size_bytes, size)
            }
            "StreamViewType" => {
                let parsed = match reader.optional_text()? {
                    None => None,
                    Some(text) => Some(match text.as_str() {
                        "NEW_IMAGE" => StreamViewType::NewImage,
                        "OLD_IMAGE" => StreamViewType::OldImage,
                        "NEW_AND_OLD_IMAGES" => StreamViewType::NewAndOldImages,
                        "KEYS_ONLY" => StreamViewType::KeysOnly,
                        _ => return Err(Unread::NotMine),
                    }),
                };
                once(&mut view_type, parsed)
            }
            _ => reader.skip_value(2),
        })?;
        let (new_image, new_transaction) = match new_image {
            Some(NewImage::View(view)) => (view, None),
            Some(NewImage::Transaction(read)) => (ItemView::default(), Some(read)),
            None => (ItemView::default(), None),
        };
        Ok(ChangeView::from_parts(
            created.unwrap_or_default(),
            [keys.unwrap_or_default(), new_image, old_image.unwrap_or_default()],
            new_transaction,
            sequence_number.flatten(),
            size_bytes.ok_or(Unread::NotMine)?,
            view_type.flatten(),
        ))
    }

    fn user_identity(&mut self) -> Read<Option<UserIdentityView<'a>>> {
        if self.literal_null()? {
            return Ok(None);
        }
        let (mut kind, mut principal) = (None, None);
        self.object(|reader, key| match key.as_ref() {
            "type" => once(&mut kind, reader.text_value()?),
            "principalId" => once(&mut principal, reader.text_value()?),
            _ => reader.skip_value(2),
        })?;
        Ok(Some(UserIdentityView {
            type_: kind.unwrap_or_default(),
            principal_id: principal.unwrap_or_default(),
        }))
    }

    /// Keys, NewImage, OldImage: null is none.
    fn image(&mut self, capacity: usize) -> Read<ItemView<'a>> {
        if self.literal_null()? {
            return Ok(ItemView::default());
        }
        self.item(3, capacity)
    }

    /// A NewImage: a transaction decoded where it was read, when the reader is asked to
    /// and the image is one; else (or if it is not) a view read from where it began.
    fn new_image(&mut self) -> Read<NewImage<'a>> {
        let start = self.at;
        if self.mode == NewImages::TransactionsDecoded
            && let Some(transaction) = self.transaction_image()
        {
            let text = &self.text[start..self.at];
            return Ok(NewImage::Transaction(ReadTransaction { transaction, text }));
        }
        self.at = start;
        self.image(24).map(NewImage::View)
    }

    /// An image read into a transaction's members and decoded there, with no entries
    /// listed: as `item` reads it (the same members, the same checks, the last of a name
    /// given twice), with the members no transaction reads checked and dropped. None when
    /// it is not a transaction that decodes, or anything `item` would not read: the caller
    /// reads it again as a view, and the usual way says what is wrong with it.
    fn transaction_image(&mut self) -> Option<Box<Transaction>> {
        const DEPTH: usize = 3;
        let mut members = TransactionMembers::default();
        self.object_with(
            &mut members,
            |reader, members| {
                reader.compact_members(|name, value| {
                    members.set(&name, value);
                })
            },
            |reader, members, name| {
                let value = reader.attr(DEPTH + 1)?;
                members.set(&name, value);
                Ok(())
            },
        )
        .ok()?;
        if !members.is_transaction() {
            return None;
        }
        Transaction::decode_members(&members).ok().map(Box::new)
    }

    /// An attribute map; a name given twice is kept twice, as the view keeps it.
    fn item(&mut self, depth: usize, capacity: usize) -> Read<ItemView<'a>> {
        if depth > MAX_DEPTH {
            return Err(Unread::NotMine);
        }
        let mut entries = Vec::with_capacity(capacity);
        // A scalar member's depth is checked in `attr` as a map's is.
        let compact = depth < MAX_DEPTH;
        self.object_with(
            &mut entries,
            |reader, entries| compact && reader.compact_members(|name, value| entries.push((name, value))),
            |reader, entries, key| {
                let value = reader.attr(depth + 1)?;
                entries.push((key, value));
                Ok(())
            },
        )?;
        Ok(ItemView::from_entries(entries))
    }

    /// Members `"name":{"S":"..."}` or `"name":{"N":"..."}` with no space and no escape
    /// (most members of an item), read whole for as long as they come one after another;
    /// true when at least one was read, the reader then after it (at its `,` or `}`). A
    /// member of any other form is left where it starts.
    #[inline(always)]
    fn compact_members(&mut self, mut keep: impl FnMut(Cow<'a, str>, Attr<'a>)) -> bool {
        let mut read = false;
        let mut at = self.at;
        while let Some(((name, value), end)) = self.compact_member_at(at) {
            keep(name, value);
            read = true;
            self.at = end;
            if self.bytes.get(end..end + 2) != Some(&b",\""[..]) {
                break;
            }
            at = end + 1;
        }
        read
    }

    /// The compact member whose name opens at `at`, and where it ends.
    #[inline(always)]
    fn compact_member_at(&self, at: usize) -> Option<((Cow<'a, str>, Attr<'a>), usize)> {
        let (name, end) = self.plain_string_at(at)?;
        if self.bytes.get(end) != Some(&b':') {
            return None;
        }
        let (value, end) = self.compact_scalar_at(end + 1)?;
        Some(((Cow::Borrowed(name), value), end))
    }

    fn attr(&mut self, depth: usize) -> Read<Attr<'a>> {
        if depth > MAX_DEPTH {
            return Err(Unread::NotMine);
        }
        if let Some(value) = self.compact_scalar() {
            return Ok(value);
        }
        let mut value = None;
        self.object(|reader, tag| {
            if value.is_some() {
                return Err(Unread::NotMine);
            }
            value = Some(match tag.as_ref() {
                "S" => Attr::S(reader.text_value()?.0),
                "N" => Attr::N(reader.text_value()?.0),
                "BOOL" => Attr::Bool(reader.boolean()?),
                "NULL" => Attr::Null(reader.boolean()?),
                "M" => Attr::M(reader.item(depth + 1, 4)?),
                "L" => Attr::L(reader.list(|reader| reader.attr(depth + 2))?),
                "SS" => Attr::Ss(reader.list(|reader| reader.text_value().map(|t| t.0))?),
                "NS" => Attr::Ns(reader.list(|reader| reader.text_value().map(|t| t.0))?),
                "B" => Attr::B(binary(reader.text_value()?)?),
                "BS" => Attr::Bs(reader.list(|reader| binary(reader.text_value()?))?),
                _ => return Err(Unread::NotMine),
            });
            Ok(())
        })?;
        value.ok_or(Unread::NotMine)
    }

    /// Most attributes, as DynamoDB and the SDKs write them: `{"S":"..."}` or `{"N":"..."}`
    /// with no space and no escape. Anything else consumes nothing and takes the general way.
    fn compact_scalar(&mut self) -> Option<Attr<'a>> {
        let (value, end) = self.compact_scalar_at(self.at)?;
        self.at = end;
        Some(value)
    }

    /// The compact scalar that opens at `at`, and where it ends (past its `}`).
    #[inline(always)]
    fn compact_scalar_at(&self, at: usize) -> Option<(Attr<'a>, usize)> {
        let string = match self.bytes.get(at..at + 5)? {
            [b'{', b'"', b'S', b'"', b':'] => true,
            [b'{', b'"', b'N', b'"', b':'] => false,
            _ => return None,
        };
        let (text, end) = self.plain_string_at(at + 5)?;
        if self.bytes.get(end) != Some(&b'}') {
            return None;
        }
        let text = Cow::Borrowed(text);
        Some((if string { Attr::S(text) } else { Attr::N(text) }, end + 1))
    }

    fn text_value(&mut self) -> Read<Text<'a>> {
        if self.peek().ok_or(Unread::Invalid)? != b'"' {
            return Err(Unread::NotMine);
        }
        self.string().map(Text)
    }

    fn optional_text(&mut self) -> Read<Option<Text<'a>>> {
        if self.literal_null()? {
            return Ok(None);
        }
        self.text_value().map(Some)
    }
}

fn binary(text: Text<'_>) -> Read<Vec<u8>> {
    STANDARD.decode(text.as_str()).map_err(|_| Unread::NotMine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// What serde makes of each record of a batch, as the slow path reads them.
    fn by_serde(text: &str) -> Vec<Result<RecordView<'_>, String>> {
        #[derive(serde::Deserialize)]
        struct Shape<'a> {
            #[serde(rename = "Records", borrow)]
            records: Vec<&'a RawValue>,
        }
        let shape: Shape = serde_json::from_str(text).unwrap();
        shape
            .records
            .into_iter()
            .map(|raw| serde_json::from_str::<RecordView>(raw.get()).map_err(|e| e.to_string()))
            .collect()
    }

    fn same(read: &[Incoming<'_>], expected: &[Result<RecordView<'_>, String>]) {
        assert_eq!(read.len(), expected.len());
        for (incoming, expected) in read.iter().zip(expected) {
            match (&incoming.record, expected) {
                (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("read {:?}, serde {:?}", a.is_ok(), b.is_ok()),
            }
        }
    }

    #[test]
    fn a_generated_batch_is_read_here_as_serde_reads_it() {
        let writes = crate::workload::generate(&crate::workload::WorkloadSpec::new(50, 2_000, 5));
        let text = crate::workload::stream::to_stream_event(&writes).to_string();
        let read = read_batch(&text).expect("read here");
        same(&read, &by_serde(&text));
        let raws: Vec<&str> = read.iter().map(|r| r.raw_text().unwrap()).collect();
        let serde_raws: Vec<&str> = serde_json::from_str::<serde_json::Map<String, Value>>(&text)
            .map(|_| ())
            .map_or(Vec::new(), |_| {
                #[derive(serde::Deserialize)]
                struct Shape<'a> {
                    #[serde(rename = "Records", borrow)]
                    records: Vec<&'a RawValue>,
                }
                serde_json::from_str::<Shape>(&text)
                    .unwrap()
                    .records
                    .into_iter()
                    .map(RawValue::get)
                    .collect()
            });
        assert_eq!(raws, serde_raws, "each record keeps its own text");
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&text).unwrap()).unwrap();
        same(&read_batch(&pretty).unwrap(), &by_serde(&pretty));
    }

    use super::super::record_fixture::stream_record as record;

    /// Reads `records` both ways: here (or by serde where this reader gives a record back),
    /// and as the slow path would; the two must agree record by record.
    fn agrees(text: &str) {
        match read_batch(text) {
            Some(read) => same(&read, &by_serde(text)),
            None => {
                // Given back whole: only what the slow path must judge as a whole.
                let whole = serde_json::from_str::<Value>(text);
                let plain = whole
                    .as_ref()
                    .ok()
                    .and_then(|v| v.get("Records"))
                    .and_then(Value::as_array);
                assert!(
                    plain.is_none() || text.contains("\\u") || text.contains("Rec\\"),
                    "given back: {text}"
                );
            }
        }
    }

    /// Every field, at every depth, given each kind of JSON value (or removed): the reader
    /// reads the record as serde does, or gives it back to serde.
    #[test]
    fn every_field_of_every_kind_reads_as_serde_reads_it() {
        let replacements = [
            None,
            Some(Value::Null),
            Some(json!(0)),
            Some(json!(-1.25)),
            Some(json!(12345678901234567890u64)),
            Some(json!("text")),
            Some(json!("a\"b\\c\n")),
            Some(json!(false)),
            Some(json!([])),
            Some(json!([{"S": "x"}])),
            Some(json!({})),
            Some(json!({"S": "x"})),
            Some(json!({"S": "x", "N": "1"})),
            Some(json!({"M": {}})),
            Some(json!({"B": "!!"})),
            Some(json!("KEYS_ONLY")),
        ];
        for (_, changed) in super::super::record_view::every_variant(&record(), &replacements) {
            agrees(&json!({"Records": [record(), changed, record()]}).to_string());
        }
    }

    /// The whole-second numbers read without serde, and every other form beside them.
    #[test]
    fn creation_times_and_sizes_read_as_serde_reads_them() {
        let numbers = [
            "0",
            "7",
            "1795046583",
            "253402300799",
            "253402300800000",
            "999999999999999999",
            "9999999999999999999",
            "1795046583.25",
            "1795046583.0",
            "1e9",
            "1E+9",
            "-5",
            "-0",
            "0.5",
        ];
        for number in numbers {
            for field in ["ApproximateCreationDateTime", "SizeBytes"] {
                let mut changed = record();
                changed["dynamodb"][field] = serde_json::from_str(number).unwrap();
                let text = json!({"Records": [record(), changed]}).to_string().replace(
                    &format!("\"{field}\":{}", changed["dynamodb"][field]),
                    &format!("\"{field}\":{number}"),
                );
                assert!(text.contains(&format!("\"{field}\":{number}")), "{text}");
                agrees(&text);
            }
        }
    }

    #[test]
    fn texts_that_only_serde_may_judge_are_given_back() {
        let good = record().to_string();
        let cases = [
            // A record given as a list, names given twice, escapes serde must judge.
            format!(r#"{{"Records": [{good}, ["eu-west-1"]]}}"#),
            good.replacen(
                r#""eventName":"INSERT""#,
                r#""eventName":"INSERT","eventName":"MODIFY""#,
                1,
            ),
            good.replacen("e-1", "e-\\u0031", 1),
            good.replacen("e-1", "e-\\ud800", 1),
            good.replacen("e-1", "e-\\udc00", 1),
            good.replacen("e-1", "e-\\ud800\\u0041", 1),
            good.replacen("e-1", "e-\\ud83d\\ude00 \\u00E9\\u00e9", 1),
            good.replacen("ACCOUNT#a\"}", "ACCOUNT#\\u0061\"}", 2),
            good.replacen("\"pk\"", "\"p\\u006b\"", 2),
            good.replacen("\"n\":{\"N\":\"1\"}", "\"n\":{\"N\":\"1\"},\"n\":{\"S\":\"again\"}", 1),
            good.replacen("aws:dynamodb", "aws\\tdynamodb", 1),
        ];
        for record in &cases[1..] {
            agrees(&format!(r#"{{"Records": [{record}]}}"#));
        }
        agrees(&cases[0]);
        let mut deep = json!({"S": "bottom"});
        for _ in 0..80 {
            deep = json!({"M": {"d": deep}});
        }
        let mut nested = record();
        nested["dynamodb"]["NewImage"]["deep"] = deep;
        agrees(&json!({"Records": [nested]}).to_string());
    }

    /// Runs of compact members (`"n":{"S":"v"}`, read whole) broken by every other form a
    /// member may take, at the start, the middle and the end of an item and of a map in it.
    #[test]
    fn compact_members_and_every_other_form_read_as_serde_reads_them() {
        let others = [
            r#""o":{"BOOL":true}"#,
            r#""o": {"S":"x"}"#,
            r#""o":{ "S":"x"}"#,
            r#""o":{"S" :"x"}"#,
            r#""o":{"S":"x" }"#,
            r#""o":{"S":"a\"b"}"#,
            r#""o":{"S":"a\nb"}"#,
            r#""o\"q":{"S":"x"}"#,
            r#""o":{"N":"1","S":"x"}"#,
            r#""o":{"M":{"i":{"S":"x"},"j":{"N":"2"}}}"#,
            r#""o":{"L":[{"S":"x"},{"N":"1"}]}"#,
            r#""o":{"X":"x"}"#,
            r#""o":{"S":1}"#,
            r#""o":{"SS":"x"}"#,
            r#""n1":{"S":"again"}"#,
            r#""":{"S":""}"#,
        ];
        let compact = [r#""n1":{"S":"v1"}"#, r#""n2":{"N":"2"}"#, r#""n3":{"S":""}"#];
        for other in others {
            for at in 0..=compact.len() {
                let mut members: Vec<&str> = compact.to_vec();
                members.insert(at, other);
                for separator in [",", ", ", " ,"] {
                    let image = format!("{{{}}}", members.join(separator));
                    let mut changed = record();
                    changed["dynamodb"]["NewImage"] = json!("IMAGE");
                    changed["dynamodb"]["OldImage"] = json!("IMAGE");
                    let text = json!({"Records": [record(), changed]}).to_string();
                    let nested = format!(r#"{{"m":{{"M":{image}}},"k":{{"S":"x"}}}}"#);
                    agrees(&text.replacen("\"IMAGE\"", &image, 1).replacen("\"IMAGE\"", &nested, 1));
                }
            }
        }
        // A record's own names, plain or spaced or escaped.
        let good = record().to_string();
        for (plain, other) in [
            (r#""eventName":"#, r#""eventName" :"#),
            (r#""dynamodb":"#, "\"dynamodb\"\n:"),
            (r#""SizeBytes":"#, r#""SizeBytes"	: "#),
            (r#""tableName":"#, r#""x\"y":1,"tableName":"#),
            (r#""tableName":"#, r#""x\\y":"\"","tableName":"#),
            (r#""Keys":"#, r#""Keys" :"#),
        ] {
            assert!(good.contains(plain), "{plain}");
            agrees(&format!(r#"{{"Records": [{}]}}"#, good.replacen(plain, other, 1)));
        }
        for invalid in [
            r#"{"n1":{"S":"v1"},}"#,
            r#"{"n1":{"S":"v1"}"n2":{"N":"2"}}"#,
            "{\"n1\":{\"S\":\"v\u{1}\"}}",
            "{\"n\u{1}\":{\"S\":\"v\"}}",
            r#"{"n1":{"S":"v1"},"n2":{"N":"2"}"#,
        ] {
            let text = json!({"Records": [record()]}).to_string().replacen(
                r#"{"b":{"B":"AAEC"}"#,
                &format!(r#"{{"i":{{"M":{invalid}}},"b":{{"B":"AAEC"}}"#),
                1,
            );
            assert!(text.contains(invalid), "{text}");
            assert!(serde_json::from_str::<Value>(&text).is_err(), "valid after all: {text}");
            assert!(read_batch(&text).is_none(), "read: {text}");
        }
    }

    #[test]
    fn invalid_json_is_never_read_here() {
        let good = record().to_string();
        for text in [
            format!(r#"{{"Records": [{good}]"#),
            format!(r#"{{"Records": [{good}]}} x"#),
            format!(r#"{{"Records": [{good},]}}"#),
            format!(r#"{{"Records": [{}]}}"#, good.replacen("e-1", "e\u{1}1", 1)),
            format!(r#"{{"Records": [{}]}}"#, good.replacen("12", "012", 1)),
            format!(r#"{{"Records": [{}]}}"#, good.replacen("12", "1.", 1)),
            format!(r#"{{"Records": [{}]}}"#, good.replacen("\"e-1\"", "\"e-1\\x\"", 1)),
            format!(r#"{{"Records": [{}]}}"#, good.replacen("true", "tru", 1)),
            format!(r#"{{"a": [1 2], "Records": [{good}]}}"#),
            format!(r#"{{"Records": [{good}], "z": "\u{{7}}"}}"#),
        ] {
            assert!(serde_json::from_str::<Value>(&text).is_err(), "valid after all: {text}");
            assert!(read_batch(&text).is_none(), "read: {text}");
        }
    }
}
