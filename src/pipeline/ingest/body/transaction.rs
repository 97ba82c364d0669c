//! A POST /v1/transactions body.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::checks::{Invalid, booked_at_in_window, check_id, check_name};
use super::reader::{Reader, names};
use crate::domain::Transaction;
use crate::domain::metadata::{MAX_METADATA_DEPTH, Metadata};
use crate::domain::money::Money;
use crate::domain::time::parse_timestamp;
use crate::domain::transaction::{Channel, DeclineReason, Mcc, Merchant, TransactionKind, TransactionStatus};
use crate::pipeline::ingest::json_body::JsonBody;
use crate::pipeline::ingest::problem::FieldError;

pub const TRANSACTION_FIELDS: &[&str] = &[
    "transaction_id",
    "account_id",
    "kind",
    "status",
    "decline_reason",
    "amount_minor",
    "currency",
    "balance_after_minor",
    "channel",
    "merchant",
    "card_last4",
    "booked_at",
    "metadata",
];

/// `metadata`, read from the body's text so that every number keeps its digits.
fn metadata(r: &mut Reader, body: &JsonBody) -> Option<Metadata> {
    #[derive(serde::Deserialize)]
    struct Field<'a> {
        #[serde(borrow, default)]
        metadata: Option<&'a serde_json::value::RawValue>,
    }
    let raw = match serde_json::from_str::<Field>(&body.text) {
        Ok(Field { metadata: Some(raw) }) => raw,
        Ok(Field { metadata: None }) => return None,
        Err(_) => {
            r.error("metadata".into(), "must be an object");
            return None;
        }
    };
    match Metadata::from_json_text(raw.get()) {
        Ok(metadata) if metadata.depth() > MAX_METADATA_DEPTH => {
            r.error(
                "metadata".into(),
                format!(
                    "nests {} levels deep; DynamoDB stores at most {MAX_METADATA_DEPTH}",
                    metadata.depth()
                ),
            );
            None
        }
        Ok(metadata) => Some(metadata),
        Err(_) => {
            r.error("metadata".into(), "must be an object");
            None
        }
    }
}

/// A POST /v1/transactions body. `booked_at` defaults to `now`.
pub fn transaction(request: &JsonBody, now: DateTime<Utc>) -> Result<Transaction, Vec<FieldError>> {
    let body = &request.object;
    let mut r = Reader::default();
    r.refuse_unknown(body, "", TRANSACTION_FIELDS);
    let transaction_id = r.string(body, "", "transaction_id", true, check_id);
    let account_id = r.string(body, "", "account_id", true, check_id);
    let kind = r.parsed(
        body,
        "",
        "kind",
        true,
        TransactionKind::parse,
        &format!("one of {}", names(TransactionKind::NAMES)),
    );
    let status = r.parsed(
        body,
        "",
        "status",
        true,
        TransactionStatus::parse,
        &format!("one of {}", names(TransactionStatus::NAMES)),
    );
    let decline_reason = r.parsed(
        body,
        "",
        "decline_reason",
        false,
        DeclineReason::parse,
        &format!("one of {}", names(DeclineReason::NAMES)),
    );
    if decline_reason.is_some() && status.is_some_and(|s| s != TransactionStatus::Declined) {
        r.error(
            "decline_reason".into(),
            "only a declined transaction has a decline reason",
        );
    }
    let amount_minor = r.positive(body, "", "amount_minor", true);
    let currency = r.currency(body, "", "currency");
    let balance_after_minor = r.integer(body, "", "balance_after_minor", false);
    let channel = r.parsed(
        body,
        "",
        "channel",
        true,
        Channel::parse,
        &format!("one of {}", names(Channel::NAMES)),
    );
    let merchant = r.object(body, "", "merchant", false).and_then(|m| {
        r.refuse_unknown(m, "merchant", &["name", "mcc", "country", "city"]);
        let name = r.string(m, "merchant", "name", true, check_name);
        let mcc = r.parsed(m, "merchant", "mcc", true, Mcc::parse, "4 digits (ISO 18245)");
        let country = r.country(m, "merchant", "country");
        let city = r.string(m, "merchant", "city", false, check_name);
        Some(Merchant {
            name: name?,
            mcc: mcc?,
            country: country?,
            city,
        })
    });
    let card_last4 = r.string(body, "", "card_last4", false, |t| {
        if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err(Invalid::new("exactly 4 digits; never a full card number"))
        }
    });
    let booked_at = match body.get("booked_at") {
        None | Some(Value::Null) => Some(now),
        Some(_) => r
            .parsed(body, "", "booked_at", true, parse_timestamp, "an RFC 3339 timestamp")
            .and_then(|at| match booked_at_in_window(at, now) {
                Ok(()) => Some(at),
                Err(invalid) => {
                    r.error("booked_at".into(), invalid.0);
                    None
                }
            }),
    };
    let metadata = metadata(&mut r, request);
    let transaction = (|| {
        Some(Transaction {
            transaction_id: transaction_id?,
            account_id: account_id?,
            kind: kind?,
            status: status?,
            decline_reason,
            amount: Money::new(amount_minor?, currency?),
            balance_after_minor,
            channel: channel?,
            merchant,
            card_last4,
            booked_at: booked_at?,
            metadata,
        })
    })();
    r.into_result(transaction)
}
