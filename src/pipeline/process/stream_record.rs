//! Reading DynamoDB stream records: each record on its own, so that one malformed record
//! becomes a Record Rejected event instead of failing the whole batch.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::batch_reader::NewImages;
pub use super::record_view::{Incoming, RecordView};
use crate::domain::events::TransactionChange;
use crate::domain::fields::{DecodeError, Fields};
use crate::domain::item::LedgerItem;
use crate::domain::keys;
use crate::domain::transaction::TransactionStatus;
use crate::domain::{Account, Transaction};

/// A DynamoDB stream batch as Lambda delivers it, read in place: its records borrow their
/// names and strings from the payload's text.
pub struct StreamBatch<'a> {
    pub records: Vec<Incoming<'a>>,
    /// What the processor will do with each record, worked out as it was read.
    plans: Vec<Plan>,
    text: &'a str,
}

/// Why a payload is not a DynamoDB stream event at all (as opposed to a bad record in one,
/// which becomes a Record Rejected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAStreamEvent {
    #[error("not a DynamoDB stream event: it is not JSON ({0})")]
    NotJson(String),
    #[error("not a DynamoDB stream event: it is not a JSON object")]
    NotAnObject,
    #[error("not a DynamoDB stream event: it has no \"Records\" list")]
    NoRecords,
    #[error("not a DynamoDB stream event: \"Records\" is not a list")]
    RecordsNotAList,
}

/// `{"Records": [...]}` with the records of the stream record shape.
#[derive(Deserialize)]
struct WholeBatch<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<RecordView<'a>>,
}

/// `{"Records": [...]}`, each record kept raw.
fn raw_records(text: &str) -> Result<Vec<&RawValue>, NotAStreamEvent> {
    #[derive(Deserialize)]
    struct Shape<'a> {
        #[serde(rename = "Records", borrow)]
        records: Option<&'a RawValue>,
    }
    let shape: Shape = serde_json::from_str(text).map_err(|e| match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(_)) => NotAStreamEvent::RecordsNotAList,
        Ok(_) => NotAStreamEvent::NotAnObject,
        Err(_) => NotAStreamEvent::NotJson(e.to_string()),
    })?;
    let records = shape.records.ok_or(NotAStreamEvent::NoRecords)?;
    serde_json::from_str(records.get()).map_err(|_| NotAStreamEvent::RecordsNotAList)
}

/// The transaction the batch reader decoded from the NewImage of an INSERT that has its
/// SequenceNumber: such a record is planned by it alone (`plan_record` would decode the same
/// transaction from the view). Any other record gets its NewImage read again as a view, and
/// is planned from it as before.
fn take_inserted_transaction(incoming: &mut Incoming<'_>) -> Option<Box<Transaction>> {
    let record = incoming.record.as_mut().ok()?;
    let read = record.change.new_transaction.take()?;
    let sequenced = record
        .change
        .sequence_number
        .as_ref()
        .is_some_and(|s| !s.as_str().is_empty());
    if sequenced && record.event_name.as_str() == "INSERT" {
        return Some(read.transaction);
    }
    record.change.new_image = super::batch_reader::image_of(read.text);
    None
}

impl<'a> StreamBatch<'a> {
    /// `{"Records": [...]}`; anything else is refused, never read as an empty batch. The
    /// images of a record planned without a rejection are let go once it is planned (its
    /// keys, its text and its stream fields stay): the processor needs nothing else of it.
    pub fn from_json(text: &'a str) -> Result<StreamBatch<'a>, NotAStreamEvent> {
        Self::read(text, true)
    }

    /// `from_json`, keeping every record's images: for tools that read the items out of a
    /// batch (the ledger a command seeds from a file).
    pub fn with_images(text: &'a str) -> Result<StreamBatch<'a>, NotAStreamEvent> {
        Self::read(text, false)
    }

    fn read(text: &'a str, let_images_go: bool) -> Result<StreamBatch<'a>, NotAStreamEvent> {
        let plan = |incoming: &mut Incoming<'a>| {
            let plan = match take_inserted_transaction(incoming) {
                Some(transaction) => Plan::Transaction {
                    transaction,
                    change: TransactionChange::Inserted,
                },
                None => Plan::of(incoming),
            };
            if let_images_go && !matches!(plan, Plan::Reject(_)) {
                incoming.let_images_go();
            }
            plan
        };
        // Images kept whole are read as views; else an INSERT's transaction is decoded
        // where it is read.
        let new_images = if let_images_go {
            NewImages::TransactionsDecoded
        } else {
            NewImages::AsViews
        };
        if let Some((records, plans)) = super::batch_reader::read_batch_with(text, new_images, plan) {
            return Ok(StreamBatch { records, plans, text });
        }
        // One reading of the whole batch when every record has the shape of a stream
        // record; else each record on its own, so that a bad one is rejected alone.
        if let Ok(whole) = serde_json::from_str::<WholeBatch>(text) {
            let records = whole
                .records
                .into_iter()
                .map(|record| Incoming {
                    record: Ok(record),
                    raw: None,
                })
                .collect();
            return Ok(StreamBatch::planned(records, text));
        }
        let records = raw_records(text)?.into_iter().map(Incoming::from_raw).collect();
        Ok(StreamBatch::planned(records, text))
    }

    fn planned(records: Vec<Incoming<'a>>, text: &'a str) -> StreamBatch<'a> {
        StreamBatch {
            plans: records.iter().map(Plan::of).collect(),
            records,
            text,
        }
    }

    /// The plan of each record, in order (taken once: the batch keeps none after).
    pub(super) fn take_plans(&mut self) -> Vec<Plan> {
        std::mem::take(&mut self.plans)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Gives every record its raw text, for the Record Rejected events that carry it: a
    /// batch read whole does not keep them.
    pub fn keep_raw_records(&mut self) {
        if self.records.iter().all(|r| r.raw.is_some()) {
            return;
        }
        // The text was read whole without error: its records can be found by their
        // brackets alone. A "Records" key spelled with escapes is left to serde.
        let raws = match record_spans(self.text) {
            Some(spans) if spans.len() == self.records.len() => spans,
            _ => match raw_records(self.text) {
                Ok(raws) => raws.into_iter().map(RawValue::get).collect(),
                Err(_) => return,
            },
        };
        if raws.len() == self.records.len() {
            for (incoming, raw) in self.records.iter_mut().zip(raws) {
                incoming.raw = Some(raw);
            }
        }
    }
}

/// The text of each element of the top-level `"Records"` array, in a JSON text known to be
/// valid; None when no key is spelled `"Records"` literally.
fn record_spans(text: &str) -> Option<Vec<&str>> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    loop {
        at = skip_space(bytes, at);
        match bytes.get(at)? {
            b'"' => {}
            _ => return None,
        }
        let key_end = skip_string(bytes, at)?;
        let key = &text[at + 1..key_end - 1];
        at = skip_space(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(bytes, at + 1);
        if key == "Records" {
            if bytes.get(at) != Some(&b'[') {
                return None;
            }
            at += 1;
            let mut spans = Vec::new();
            loop {
                at = skip_space(bytes, at);
                match bytes.get(at)? {
                    b']' => return Some(spans),
                    b',' => at += 1,
                    _ => {
                        let end = skip_value(bytes, at)?;
                        spans.push(&text[at..end]);
                        at = end;
                    }
                }
            }
        }
        at = skip_space(bytes, skip_value(bytes, at)?);
        match bytes.get(at)? {
            b',' => at += 1,
            _ => return None,
        }
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// Past the string that opens at `at`.
fn skip_string(bytes: &[u8], at: usize) -> Option<usize> {
    let mut at = at + 1;
    loop {
        at += memchr::memchr2(b'"', b'\\', &bytes[at..])?;
        if bytes[at] == b'"' {
            return Some(at + 1);
        }
        at += 2;
    }
}

/// Past the value that starts at `at`.
fn skip_value(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => skip_string(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut at = at;
            loop {
                match bytes.get(at)? {
                    b'"' => {
                        at = skip_string(bytes, at)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        _ => {
            let mut at = at;
            while !matches!(
                bytes.get(at),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                at += 1;
            }
            Some(at)
        }
    }
}

/// Why a record produced nothing (counted, never failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IgnoreReason {
    Removed,
    /// A REMOVE by DynamoDB's Time to Live.
    TtlExpired,
    /// A MODIFY that is not a reversal.
    Modified,
    /// An item whose `type` is neither TXN nor ACCOUNT.
    OtherItemType,
}

impl IgnoreReason {
    pub fn as_str(self) -> &'static str {
        match self {
            IgnoreReason::Removed => "removed",
            IgnoreReason::TtlExpired => "ttl_expired",
            IgnoreReason::Modified => "modified",
            IgnoreReason::OtherItemType => "other_item_type",
        }
    }
}

/// A record that can never be processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub reason: String,
}

impl From<DecodeError> for Rejection {
    fn from(error: DecodeError) -> Self {
        Rejection {
            code: error.code(),
            reason: error.to_string(),
        }
    }
}

/// What one record asks of the processor.
#[derive(Debug)]
pub enum Plan {
    Ignore(IgnoreReason),
    Reject(Rejection),
    Transaction {
        transaction: Box<Transaction>,
        change: TransactionChange,
    },
    AccountOpened(Box<Account>),
    AccountUpdated {
        account: Box<Account>,
        /// Top-level fields whose value changed, sorted.
        changed: Vec<String>,
        event_id: String,
    },
}

impl Plan {
    pub fn of(incoming: &Incoming<'_>) -> Plan {
        match &incoming.record {
            Ok(record) => plan_record(record),
            Err(error) => Plan::Reject(Rejection {
                code: "malformed_record",
                reason: format!("not a DynamoDB stream record: {error}"),
            }),
        }
    }
}

fn plan_record(record: &RecordView<'_>) -> Plan {
    if record
        .change
        .sequence_number
        .as_ref()
        .is_none_or(|s| s.as_str().is_empty())
    {
        return Plan::Reject(Rejection {
            code: "missing_sequence_number",
            reason: "the record has no dynamodb.SequenceNumber".into(),
        });
    }
    let new_image = &record.change.new_image;
    match record.event_name.as_str() {
        "REMOVE" => {
            let by_ttl = record
                .user_identity
                .as_ref()
                .is_some_and(|u| u.type_.as_str() == "Service" && u.principal_id.as_str() == "dynamodb.amazonaws.com");
            Plan::Ignore(if by_ttl {
                IgnoreReason::TtlExpired
            } else {
                IgnoreReason::Removed
            })
        }
        "INSERT" if new_image.is_empty() => Plan::Reject(Rejection {
            code: "missing_new_image",
            reason: "INSERT record has no NewImage (the stream view type must be NEW_AND_OLD_IMAGES)".into(),
        }),
        "INSERT" => match LedgerItem::decode_view(new_image) {
            Ok(LedgerItem::Transaction(transaction)) => Plan::Transaction {
                transaction,
                change: TransactionChange::Inserted,
            },
            Ok(LedgerItem::Account(account)) => Plan::AccountOpened(account),
            Ok(LedgerItem::Other { .. }) => Plan::Ignore(IgnoreReason::OtherItemType),
            Err(error) => Plan::Reject(error.into()),
        },
        "MODIFY" => plan_modify(record),
        other => Plan::Reject(Rejection {
            code: "unknown_event_name",
            reason: format!(
                "eventName {:?} is not INSERT, MODIFY or REMOVE",
                other.chars().take(16).collect::<String>()
            ),
        }),
    }
}

/// A MODIFY matters only when a transaction's status becomes `reversed`.
fn plan_modify(record: &RecordView<'_>) -> Plan {
    let new_image = &record.change.new_image;
    if new_image.is_empty() {
        return Plan::Reject(Rejection {
            code: "missing_new_image",
            reason: "MODIFY record has no NewImage (the stream view type must be NEW_AND_OLD_IMAGES)".into(),
        });
    }
    match Fields::root(new_image).string("type") {
        Ok(keys::TRANSACTION_TYPE) => {}
        Ok(keys::ACCOUNT_TYPE) => return plan_account_modify(record),
        Ok(_) => return Plan::Ignore(IgnoreReason::Modified),
        Err(error) => return Plan::Reject(error.into()),
    }
    let transaction = match Transaction::decode_view(new_image) {
        Ok(transaction) => transaction,
        Err(error) => return Plan::Reject(error.into()),
    };
    let old_image = &record.change.old_image;
    if transaction.status == TransactionStatus::Reversed && old_image.is_empty() {
        // Without the image before, a reversal cannot be told from a replay of one (or
        // from any later change of a reversed transaction): it would be emailed again.
        return Plan::Reject(Rejection {
            code: "missing_old_image",
            reason: "MODIFY record of a reversed transaction has no OldImage (the stream view type must be NEW_AND_OLD_IMAGES)"
                .into(),
        });
    }
    let was_reversed =
        Fields::root(old_image).opt_string("status").ok().flatten() == Some(TransactionStatus::Reversed.as_str());
    if transaction.status == TransactionStatus::Reversed && !was_reversed {
        Plan::Transaction {
            transaction: Box::new(transaction),
            change: TransactionChange::Reversed,
        }
    } else {
        Plan::Ignore(IgnoreReason::Modified)
    }
}

/// Attributes the server sets on every change through the API, and the statement index's
/// key (derived from the profile): a change of them alone is no change of the account.
const BOOKKEEPING: [&str; 6] = [
    "pk",
    "sk",
    "type",
    "version",
    "updated_at",
    crate::domain::keys::STATEMENT_ZONE,
];

/// A MODIFY of an account's profile: Account Updated, naming the fields that changed.
fn plan_account_modify(record: &RecordView<'_>) -> Plan {
    let account = match Account::decode_view(&record.change.new_image) {
        Ok(account) => account,
        Err(error) => return Plan::Reject(error.into()),
    };
    if record.change.old_image.is_empty() {
        // Without the image before, what changed cannot be said, and a replay of the
        // record could not be told from a new change.
        return Plan::Reject(Rejection {
            code: "missing_old_image",
            reason: "MODIFY record of an account has no OldImage (the stream view type must be NEW_AND_OLD_IMAGES)"
                .into(),
        });
    }
    // Rare enough to compare as owned items.
    let (old_image, new_image) = (record.change.old_image.to_item(), record.change.new_image.to_item());
    let mut changed: Vec<String> = old_image
        .keys()
        .chain(new_image.keys())
        .filter(|name| !BOOKKEEPING.contains(&name.as_str()))
        .filter(|name| !same_value(old_image.get(*name), new_image.get(*name)))
        .cloned()
        .collect();
    changed.sort();
    changed.dedup();
    if changed.is_empty() {
        return Plan::Ignore(IgnoreReason::Modified);
    }
    let event_id = crate::domain::event_id::for_account_updated(
        &account.account_id,
        account.version,
        &canonical(&old_image),
        &canonical(&new_image),
    );
    Plan::AccountUpdated {
        account: Box::new(account),
        changed,
        event_id,
    }
}

/// Equal as DynamoDB compares them: sets in any order, an explicit NULL as absent.
fn same_value(a: Option<&serde_dynamo::AttributeValue>, b: Option<&serde_dynamo::AttributeValue>) -> bool {
    use serde_dynamo::AttributeValue as A;
    fn present(v: Option<&A>) -> Option<&A> {
        v.filter(|v| !matches!(v, A::Null(_)))
    }
    match (present(a), present(b)) {
        (None, None) => true,
        (Some(A::Ss(x)), Some(A::Ss(y))) | (Some(A::Ns(x)), Some(A::Ns(y))) => {
            let (mut x, mut y) = (x.clone(), y.clone());
            x.sort();
            y.sort();
            x == y
        }
        (Some(A::M(x)), Some(A::M(y))) => x.len() == y.len() && x.iter().all(|(k, v)| same_value(Some(v), y.get(k))),
        (Some(A::L(x)), Some(A::L(y))) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_value(Some(v), Some(w)))
        }
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The image as JSON with its maps in key order: the same image, the same text.
fn canonical(image: &crate::domain::fields::Attributes) -> String {
    serde_dynamo::from_item::<_, Value>(serde_dynamo::Item::from(image.clone()))
        .map(|value| value.to_string())
        .unwrap_or_default()
}

/// The account a record is about, read from its keys (`pk = ACCOUNT#<id>`) or image.
pub fn account_of(incoming: &Incoming<'_>) -> Option<String> {
    let record = incoming.record.as_ref().ok()?;
    let from_keys = Fields::root(&record.change.keys)
        .opt_string("pk")
        .ok()
        .flatten()
        .and_then(keys::account_id_of)
        .filter(|id| !id.is_empty());
    let from_image = || {
        Fields::root(&record.change.new_image)
            .opt_string("account_id")
            .ok()
            .flatten()
            .filter(|id| !id.is_empty())
    };
    from_keys.or_else(from_image).map(str::to_string)
}

/// Attributes that hold a person's name, address or phone number, wherever they appear
/// (an account item's `holder`, `email`, `previous_email`; anything a writer adds so named).
const PERSONAL_ATTRIBUTES: &[&str] = &[
    "holder",
    "first_name",
    "last_name",
    "email",
    "previous_email",
    "phone",
    "phone_number",
    "mobile",
];

const MASKED: &str = "<masked>";

/// Makes a raw record fit for the bus, the archive and the audit trail (a Record Rejected
/// carries it): every string under a personal attribute (PERSONAL_ATTRIBUTES, at any depth,
/// of any item type) becomes `<masked>`, the DynamoDB type tags kept; any other string that
/// holds an email address has it replaced; a string that looks like a full card number
/// (13 to 19 digits passing the Luhn check, spaces and dashes allowed) and any `card_last4`
/// that is not exactly four digits are masked too.
pub fn mask_personal_data(value: &mut Value) {
    match value {
        Value::String(text) if looks_like_card_number(text) => *text = "<masked card number>".into(),
        Value::String(text) if text.contains('@') => {
            let redacted = crate::domain::pii::redact_addresses(text);
            *text = redacted;
        }
        Value::Array(items) => items.iter_mut().for_each(mask_personal_data),
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key == "card_last4" {
                    mask_card_last4(item);
                } else if PERSONAL_ATTRIBUTES.contains(&key.as_str()) {
                    mask_every_string(item);
                } else {
                    mask_personal_data(item);
                }
            }
        }
        _ => {}
    }
}

fn mask_every_string(value: &mut Value) {
    match value {
        Value::String(text) => *text = MASKED.into(),
        Value::Array(items) => items.iter_mut().for_each(mask_every_string),
        Value::Object(map) => map.values_mut().for_each(mask_every_string),
        _ => {}
    }
}

fn mask_card_last4(value: &mut Value) {
    let text = match value {
        Value::String(text) => Some(text),
        Value::Object(map) => match map.get_mut("S") {
            Some(Value::String(text)) => Some(text),
            _ => None,
        },
        _ => None,
    };
    match text {
        Some(text) if text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()) => {}
        Some(text) => *text = "<masked>".into(),
        None => mask_personal_data(value),
    }
}

fn looks_like_card_number(text: &str) -> bool {
    if text.len() > 40 {
        return false;
    }
    let digits: Vec<u32> = text
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()
        .unwrap_or_default();
    (13..=19).contains(&digits.len()) && luhn_valid(&digits)
}

fn luhn_valid(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample_record() -> Value {
        json!({"eventID": "e-1", "eventName": "INSERT", "awsRegion": "eu-west-1",
               "dynamodb": {"Keys": {"sk": {"S": "TXN#1"}}, "NewImage": {"n": {"N": "1"}}, "SequenceNumber": "1", "SizeBytes": 1}})
    }

    #[test]
    fn records_are_found_by_their_brackets_as_serde_finds_them() {
        let mut tricky = sample_record();
        tricky["dynamodb"]["NewImage"]["note"] = json!({"S": "a ] } , \" [ { \\"});
        let texts = [
            json!({"Records": [sample_record(), tricky.clone(), 1, "x", [], {}]}).to_string(),
            serde_json::to_string_pretty(&json!({"before": {"Records": [1]}, "Records": [tricky, null, true]}))
                .unwrap(),
            "{ \"a\" : [ ] , \"Records\" : [ 1 , 2.5e3 , \"\\\"\" , { } ] , \"z\" : 1 }".to_string(),
        ];
        for text in &texts {
            let by_serde: Vec<&str> = raw_records(text).unwrap().into_iter().map(RawValue::get).collect();
            assert_eq!(record_spans(text).unwrap(), by_serde, "{text}");
        }
        assert_eq!(
            record_spans(r#"{"Rec\u006frds": [1]}"#),
            None,
            "an escaped key is left to serde"
        );
    }

    #[test]
    fn card_numbers_are_masked_wherever_they_appear() {
        let mut raw = json!({
            "dynamodb": {
                "NewImage": {
                    "card_last4": {"S": "4111111111111111"},
                    "metadata": {"M": {"note": {"S": "4242 4242 4242 4242"}}},
                    "transaction_id": {"S": "t-1"}
                },
                "SequenceNumber": "4421584500000000017450439091"
            }
        });
        mask_personal_data(&mut raw);
        let text = raw.to_string();
        assert!(!text.contains("4111") && !text.contains("4242 4242"), "{text}");
        assert!(
            text.contains("4421584500000000017450439091"),
            "sequence numbers stay: {text}"
        );
        assert!(text.contains("t-1"));
    }

    #[test]
    fn a_valid_last4_and_ordinary_numbers_stay() {
        let mut raw =
            json!({"card_last4": {"S": "4242"}, "amount_minor": {"N": "1234567890123"}, "id": "1234567890123"});
        let before = raw.clone();
        mask_personal_data(&mut raw);
        assert_eq!(raw, before, "1234567890123 fails the Luhn check and is kept");
    }

    #[test]
    fn names_addresses_and_phones_are_masked_in_every_item_type_and_image() {
        let mut raw = json!({
            "dynamodb": {
                "Keys": {"pk": {"S": "ACCOUNT#acc-1"}, "sk": {"S": "PROFILE"}},
                "NewImage": {
                    "type": {"S": "ACCOUNT"},
                    "account_id": {"S": "acc-1"},
                    "holder": {"M": {"first_name": {"S": "Marie"}, "last_name": {"S": "Curie-Sklodowska"}}},
                    "email": {"S": "marie.curie@example.com"},
                    "previous_email": {"S": "mc@old.example"},
                    "currency": {"N": "12"}
                },
                "OldImage": {
                    "type": {"S": "SOMETHING_ELSE"},
                    "contact": {"M": {"phone": {"S": "+33 6 12 34 56 78"}, "note": {"S": "write to bob@example.org"}}},
                    "first_name": {"S": "Bob"}
                }
            },
            "eventID": "e-1"
        });
        mask_personal_data(&mut raw);
        let text = raw.to_string();
        for personal in [
            "Marie",
            "Curie",
            "marie.curie",
            "mc@old",
            "12 34 56",
            "bob@example.org",
            "Bob",
        ] {
            assert!(!text.contains(personal), "{personal} in {text}");
        }
        assert_eq!(
            raw["dynamodb"]["NewImage"]["holder"]["M"]["first_name"],
            json!({"S": "<masked>"})
        );
        assert_eq!(raw["dynamodb"]["NewImage"]["email"], json!({"S": "<masked>"}));
        assert_eq!(
            raw["dynamodb"]["OldImage"]["contact"]["M"]["note"],
            json!({"S": "write to <address>"})
        );
        assert_eq!(
            raw["dynamodb"]["NewImage"]["account_id"],
            json!({"S": "acc-1"}),
            "ids stay"
        );
        assert_eq!(raw["dynamodb"]["NewImage"]["currency"], json!({"N": "12"}));
    }

    #[test]
    fn luhn_matches_known_test_numbers() {
        assert!(looks_like_card_number("4111111111111111"));
        assert!(looks_like_card_number("5555-5555-5555-4444"));
        assert!(!looks_like_card_number("4111111111111112"));
        assert!(!looks_like_card_number("411111111111"));
    }

    /// A transaction item's members as DynamoDB JSON text, in the order written.
    fn transaction_members() -> Vec<(&'static str, String)> {
        [
            ("pk", r#"{"S":"ACCOUNT#acc-1"}"#),
            ("sk", r#"{"S":"TXN#2026-11-20T10:15:00Z#t-1"}"#),
            ("type", r#"{"S":"TXN"}"#),
            ("account_id", r#"{"S":"acc-1"}"#),
            ("transaction_id", r#"{"S":"t-1"}"#),
            ("kind", r#"{"S":"card_purchase"}"#),
            ("status", r#"{"S":"declined"}"#),
            ("decline_reason", r#"{"S":"limit_exceeded"}"#),
            ("amount_minor", r#"{"N":"4599"}"#),
            ("currency", r#"{"S":"EUR"}"#),
            ("balance_after_minor", r#"{"N":"-120"}"#),
            ("channel", r#"{"S":"pos"}"#),
            (
                "merchant",
                r#"{"M":{"name":{"S":"Carrefour City"},"mcc":{"S":"5411"},"country":{"S":"FR"},"city":{"S":"Lyon"}}}"#,
            ),
            ("card_last4", r#"{"S":"4242"}"#),
            ("booked_at", r#"{"S":"2026-11-20T10:15:00Z"}"#),
            ("metadata", r#"{"M":{"ref":{"S":"r-1"},"n":{"N":"2"}}}"#),
            ("note", r#"{"S":"not read"}"#),
        ]
        .into_iter()
        .map(|(name, value)| (name, value.to_string()))
        .collect()
    }

    fn image_text(members: &[(&str, String)]) -> String {
        let members: Vec<String> = members
            .iter()
            .map(|(name, value)| format!("\"{name}\":{value}"))
            .collect();
        format!("{{{}}}", members.join(","))
    }

    fn record_text(event_name: &str, image: &str, sequence_number: &str) -> String {
        format!(
            r#"{{"awsRegion":"eu-west-1","dynamodb":{{"ApproximateCreationDateTime":1763690400,"Keys":{{"pk":{{"S":"ACCOUNT#acc-1"}},"sk":{{"S":"TXN#1"}}}},"NewImage":{image},{sequence_number}"SizeBytes":600,"StreamViewType":"NEW_AND_OLD_IMAGES"}},"eventID":"e-1","eventName":"{event_name}","eventSource":"aws:dynamodb"}}"#
        )
    }

    /// What the processor is handed for each record of a batch, read the fast way (an
    /// INSERT's transaction decoded where it is read) and the usual way (every image a
    /// view, then planned): the plans, and the account of each rejected record.
    fn both_ways(text: &str) -> [String; 2] {
        let mut fast = StreamBatch::from_json(text).expect("a stream event");
        let mut usual = StreamBatch::with_images(text).expect("a stream event");
        [(fast.take_plans(), &fast), (usual.take_plans(), &usual)].map(|(plans, batch)| {
            let accounts: Vec<Option<String>> = plans
                .iter()
                .zip(&batch.records)
                .map(|(plan, incoming)| matches!(plan, Plan::Reject(_)).then(|| account_of(incoming)).flatten())
                .collect();
            format!("{plans:?} {accounts:?}")
        })
    }

    /// How many of a batch's NewImages the reader decodes as transactions where it reads them.
    fn decoded_where_read(text: &str) -> usize {
        let (_, decoded) =
            super::super::batch_reader::read_batch_with(text, NewImages::TransactionsDecoded, |incoming| {
                incoming
                    .record
                    .as_ref()
                    .is_ok_and(|r| r.change.new_transaction.is_some())
            })
            .expect("read here");
        decoded.iter().filter(|d| **d).count()
    }

    /// Every member of a transaction removed, given again (with a good value, a bad one, a
    /// NULL), emptied, of another type, spaced or escaped; and the record around it an
    /// INSERT or not, with or without its SequenceNumber: the transaction decoded where it
    /// is read plans exactly as the view does, and what it refuses is refused the same way.
    #[test]
    fn a_transaction_decoded_where_it_is_read_plans_as_its_view_does() {
        let base = transaction_members();
        let mut images = vec![image_text(&base), "null".to_string(), "{}".to_string()];
        let values = [
            r#"{"S":"x"}"#,
            r#"{"S":""}"#,
            r#"{"S":"TXN"}"#,
            r#"{"S":"ACCOUNT"}"#,
            r#"{"S":"approved"}"#,
            r#"{"S":"reversed"}"#,
            r#"{"S":"2026-11-20T10:15:00+01:00"}"#,
            r#"{"S":"ACCOUNT#acc-2"}"#,
            r#"{"N":"1"}"#,
            r#"{"N":"0"}"#,
            r#"{"N":"1.5"}"#,
            r#"{"N":"1e20"}"#,
            r#"{"NULL":true}"#,
            r#"{"BOOL":true}"#,
            r#"{"M":{}}"#,
            r#"{"M":{"name":{"S":"n"},"mcc":{"S":"12"},"country":{"S":"FR"}}}"#,
            r#"{"L":[]}"#,
            r#"{"SS":["a"]}"#,
            r#"{"S":"a\"b"}"#,
            r#"{"S":"a\u0062"}"#,
            r#" {"S" : "x"} "#,
        ];
        for at in 0..base.len() {
            let mut removed = base.clone();
            removed.remove(at);
            images.push(image_text(&removed));
            for value in values {
                let mut replaced = base.clone();
                replaced[at].1 = value.to_string();
                images.push(image_text(&replaced));
                let mut again = base.clone();
                again.push((base[at].0, value.to_string()));
                images.push(image_text(&again));
                let mut before = base.clone();
                before.insert(0, (base[at].0, value.to_string()));
                images.push(image_text(&before));
            }
            // The name spaced from its colon, and its last letter escaped.
            let (name, plain) = (base[at].0, image_text(&base));
            images.push(plain.replacen(&format!("\"{name}\":"), &format!("\"{name}\" : "), 1));
            let (head, last) = name.split_at(name.len() - 1);
            let escaped = format!("\"{head}\\u{:04x}\":", last.as_bytes()[0]);
            images.push(plain.replacen(&format!("\"{name}\":"), &escaped, 1));
        }
        let mut decoded = 0;
        for image in &images {
            for event_name in ["INSERT", "MODIFY", "REMOVE", "UPDATE"] {
                for sequence_number in [r#""SequenceNumber":"100","#, r#""SequenceNumber":"","#, ""] {
                    let record = record_text(event_name, image, sequence_number);
                    let text = format!(r#"{{"Records":[{record}]}}"#);
                    let [fast, usual] = both_ways(&text);
                    assert_eq!(fast, usual, "{text}");
                    decoded += decoded_where_read(&text);
                }
            }
        }
        assert!(decoded > images.len(), "the fast way was taken {decoded} times");
    }

    /// A generated day of the ledger (accounts, transactions, reversals, updates, removals,
    /// malformed items): planned the same both ways, most transactions decoded where read.
    #[test]
    fn a_generated_day_plans_the_same_with_transactions_decoded_where_read() {
        let writes = crate::workload::generate(&crate::workload::WorkloadSpec::new(50, 2_000, 5));
        let text = crate::workload::stream::to_stream_event(&writes).to_string();
        let [fast, usual] = both_ways(&text);
        assert_eq!(fast, usual);
        assert!(decoded_where_read(&text) > 1_500);
    }
}
