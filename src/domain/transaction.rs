//! The transaction item of the ledger (docs/data-contract.md): decoded with typed errors, encoded
//! with serde_dynamo, and carried in events as a snapshot with the same field names.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use serde_dynamo::Item;

use super::fields::{Attributes, CountryCode, DecodeError, Fields, Members};
use super::item_view::{Attr, ItemView};
use super::json_text::{ObjectWriter, json_key};
use super::keys::{self, account_pk};
use super::metadata::{Metadata, MetadataError};
use super::money::{Currency, Money};
use super::time::rfc3339_utc;

string_enum! {
    TransactionKind {
        CardPurchase = "card_purchase",
        AtmWithdrawal = "atm_withdrawal",
        TransferIn = "transfer_in",
        TransferOut = "transfer_out",
        TopUp = "top_up",
        Refund = "refund",
        Fee = "fee",
    }
}

impl TransactionKind {
    /// Money leaving the account at the holder's initiative.
    pub fn is_outgoing_payment(self) -> bool {
        matches!(
            self,
            TransactionKind::CardPurchase | TransactionKind::AtmWithdrawal | TransactionKind::TransferOut
        )
    }

    /// Money coming in: counted as "in" in statements.
    pub fn is_incoming(self) -> bool {
        matches!(
            self,
            TransactionKind::TransferIn | TransactionKind::TopUp | TransactionKind::Refund
        )
    }
}

string_enum! {
    TransactionStatus {
        Approved = "approved",
        Declined = "declined",
        Reversed = "reversed",
    }
}

string_enum! {
    DeclineReason {
        InsufficientFunds = "insufficient_funds",
        LimitExceeded = "limit_exceeded",
        SuspectedFraud = "suspected_fraud",
        CardBlocked = "card_blocked",
        Other = "other",
    }
}

string_enum! {
    Channel {
        Pos = "pos",
        Ecommerce = "ecommerce",
        Atm = "atm",
        Transfer = "transfer",
        TopUp = "top_up",
    }
}

/// A merchant category code (ISO 18245): four digits, leading zeros kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mcc(u16);

impl Mcc {
    pub fn parse(text: &str) -> Option<Mcc> {
        if text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse().ok().map(Mcc)
        } else {
            None
        }
    }

    pub fn new(code: u16) -> Option<Mcc> {
        (code <= 9999).then_some(Mcc(code))
    }

    pub fn code(self) -> u16 {
        self.0
    }

    /// The four digits, as `Display` prints them.
    pub fn digits(self, buffer: &mut [u8; 4]) -> &str {
        let mut value = self.0;
        for slot in buffer.iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
        std::str::from_utf8(buffer).expect("ASCII digits")
    }
}

impl std::fmt::Display for Mcc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}", self.0)
    }
}

impl Serialize for Mcc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.digits(&mut [0u8; 4]))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Merchant {
    pub name: String,
    pub mcc: Mcc,
    pub country: CountryCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transaction {
    pub transaction_id: String,
    pub account_id: String,
    pub kind: TransactionKind,
    pub status: TransactionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<DeclineReason>,
    #[serde(flatten)]
    pub amount: Money,
    /// In minor units of `amount.currency`, like every amount of the item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance_after_minor: Option<i64>,
    pub channel: Channel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant: Option<Merchant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_last4: Option<String>,
    #[serde(serialize_with = "rfc3339_utc")]
    pub booked_at: DateTime<Utc>,
    /// Free form, carried through untouched, every DynamoDB type and every digit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

impl Transaction {
    /// The snapshot events carry: what `serde_json::to_string(self)` gives, written directly.
    pub fn write_json(&self, out: &mut String) {
        let mut object = ObjectWriter::open(out);
        object
            .str(json_key!("transaction_id"), &self.transaction_id)
            .str(json_key!("account_id"), &self.account_id)
            .str(json_key!("kind"), self.kind.as_str())
            .str(json_key!("status"), self.status.as_str())
            .opt_str(
                json_key!("decline_reason"),
                self.decline_reason.map(DeclineReason::as_str),
            )
            .int(json_key!("amount_minor"), self.amount.amount_minor)
            .str(json_key!("currency"), self.amount.currency.code());
        if let Some(balance) = self.balance_after_minor {
            object.int(json_key!("balance_after_minor"), balance);
        }
        object.str(json_key!("channel"), self.channel.as_str());
        if let Some(merchant) = &self.merchant {
            object.object(json_key!("merchant"), |fields| {
                let mut mcc = [0u8; 4];
                fields
                    .str(json_key!("name"), &merchant.name)
                    .str(json_key!("mcc"), merchant.mcc.digits(&mut mcc))
                    .str(json_key!("country"), merchant.country.as_str())
                    .opt_str(json_key!("city"), merchant.city.as_deref());
            });
        }
        object
            .opt_str(json_key!("card_last4"), self.card_last4.as_deref())
            .time(json_key!("booked_at"), &self.booked_at);
        if let Some(metadata) = &self.metadata {
            object.serde(json_key!("metadata"), metadata);
        }
        object.close();
    }

    pub fn decode(attributes: &Attributes) -> Result<Transaction, DecodeError> {
        Transaction::decode_view(&ItemView::of_item(attributes))
    }

    /// `decode`, on an item read in place.
    pub fn decode_view(item: &ItemView) -> Result<Transaction, DecodeError> {
        Transaction::decode_members(item)
    }

    /// `decode`, on any map of members: the same checks in the same order, so the same
    /// transaction or the same first error whatever holds the members.
    #[inline]
    pub fn decode_members<'a, M: Members<'a>>(item: &'a M) -> Result<Transaction, DecodeError> {
        let f = Fields::root(item);
        let account_id = f.string("account_id")?.to_string();
        if let Some(pk) = f.opt_string("pk")?
            && keys::account_id_of(pk) != Some(account_id.as_str())
        {
            return Err(DecodeError::KeyMismatch);
        }
        let amount_minor = f.amount("amount_minor")?;
        if amount_minor <= 0 {
            return Err(DecodeError::NotPositive {
                field: "amount_minor".into(),
            });
        }
        let merchant = match f.opt_map("merchant")? {
            None => None,
            Some(m) => Some(Merchant {
                name: m.string("name")?.to_string(),
                mcc: Mcc::parse(m.string("mcc")?).ok_or_else(|| DecodeError::BadMcc { field: m.path("mcc") })?,
                country: m.country("country")?,
                city: m.opt_string("city")?.map(str::to_string),
            }),
        };
        let card_last4 = match f.opt_string("card_last4")? {
            Some(digits) if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) => Some(digits.to_string()),
            Some(_) => {
                return Err(DecodeError::BadCardLast4 {
                    field: "card_last4".into(),
                });
            }
            None => None,
        };
        let metadata = match f.get("metadata") {
            None => None,
            Some(value) => Metadata::from_attr(value).map_err(|error| match error {
                MetadataError::NotANumber { path } => DecodeError::NotANumber { field: path },
                _ => DecodeError::WrongType {
                    field: "metadata".into(),
                    expected: "M",
                    found: value.type_name(),
                },
            })?,
        };
        Ok(Transaction {
            transaction_id: f.string("transaction_id")?.to_string(),
            kind: f.enumerated("kind", TransactionKind::parse, TransactionKind::NAMES)?,
            status: f.enumerated("status", TransactionStatus::parse, TransactionStatus::NAMES)?,
            decline_reason: f.opt_enumerated("decline_reason", DeclineReason::parse, DeclineReason::NAMES)?,
            amount: Money::new(amount_minor, f.currency("currency")?),
            balance_after_minor: f.opt_amount("balance_after_minor")?,
            channel: f.enumerated("channel", Channel::parse, Channel::NAMES)?,
            merchant,
            card_last4,
            booked_at: f.timestamp("booked_at")?,
            metadata,
            account_id,
        })
    }

    pub fn currency(&self) -> Currency {
        self.amount.currency
    }

    pub fn balance_after(&self) -> Option<Money> {
        self.balance_after_minor.map(|b| Money::new(b, self.amount.currency))
    }

    pub fn sort_key(&self) -> String {
        keys::transaction_sk(&self.booked_at, &self.transaction_id)
    }

    /// The ledger item, keys and `type` included.
    pub fn to_item(&self) -> Item {
        #[derive(Serialize)]
        struct Keys<'a> {
            pk: String,
            sk: String,
            #[serde(rename = "type")]
            item_type: &'static str,
            #[serde(flatten)]
            transaction: &'a Transaction,
        }
        // Built as an `Item` and added to in place: a round trip through a plain map would
        // hash every member twice more.
        let mut item: Item = serde_dynamo::to_item(Keys {
            pk: account_pk(&self.account_id),
            sk: self.sort_key(),
            item_type: keys::TRANSACTION_TYPE,
            transaction: self,
        })
        .expect("a transaction always serializes to an item");
        // Metadata keeps its numbers' digits only through its own conversion.
        if let Some(metadata) = &self.metadata {
            item.insert("metadata".into(), metadata.to_attribute());
        }
        item
    }

    /// The uniqueness marker item (`type = "TXN_ID"`): written in the same transaction as
    /// the transaction item, on condition that neither exists. It records the request's
    /// fingerprint, so that a retry can be told from a conflicting reuse of the id.
    pub fn uniqueness_marker(&self, fingerprint: &str) -> Item {
        #[derive(Serialize)]
        struct Marker<'a> {
            pk: String,
            sk: String,
            #[serde(rename = "type")]
            item_type: &'static str,
            account_id: &'a str,
            transaction_id: &'a str,
            transaction_sk: String,
            fingerprint: &'a str,
        }
        serde_dynamo::to_item(Marker {
            pk: account_pk(&self.account_id),
            sk: keys::marker_sk(&self.transaction_id),
            item_type: keys::MARKER_TYPE,
            account_id: &self.account_id,
            transaction_id: &self.transaction_id,
            transaction_sk: self.sort_key(),
            fingerprint,
        })
        .expect("a marker always serializes to an item")
    }
}

/// The top-level members a transaction is decoded from, each in a slot of its own: what the
/// batch reader fills as it reads an image, instead of a list searched by name. Any other
/// member plays no part in decoding a transaction.
#[derive(Debug, Default)]
pub struct TransactionMembers<'a> {
    slots: [Option<Attr<'a>>; 15],
}

impl<'a> TransactionMembers<'a> {
    #[inline(always)]
    fn slot(name: &str) -> Option<usize> {
        Some(match name {
            "type" => 0,
            "pk" => 1,
            "account_id" => 2,
            "transaction_id" => 3,
            "kind" => 4,
            "status" => 5,
            "decline_reason" => 6,
            "amount_minor" => 7,
            "currency" => 8,
            "balance_after_minor" => 9,
            "channel" => 10,
            "merchant" => 11,
            "card_last4" => 12,
            "booked_at" => 13,
            "metadata" => 14,
            _ => return None,
        })
    }

    /// Keeps a member's value (of a name given twice, the last, as `ItemView::get` reads
    /// it); false for a name a transaction does not read, whose value is not kept.
    #[inline(always)]
    pub fn set(&mut self, name: &str, value: Attr<'a>) -> bool {
        match Self::slot(name) {
            Some(slot) => {
                self.slots[slot] = Some(value);
                true
            }
            None => false,
        }
    }

    /// Whether the item says it is a transaction: its `type` is the string `TXN`.
    pub fn is_transaction(&self) -> bool {
        matches!(self.member("type"), Some(Attr::S(kind)) if kind == keys::TRANSACTION_TYPE)
    }
}

impl<'a> Members<'a> for TransactionMembers<'a> {
    #[inline(always)]
    fn member(&self, name: &str) -> Option<&Attr<'a>> {
        self.slots[Self::slot(name)?].as_ref()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::time::format_rfc3339;
    use serde_dynamo::AttributeValue as A;

    pub fn valid_item() -> Attributes {
        let mut merchant = Attributes::new();
        merchant.insert("name".into(), A::S("Carrefour City".into()));
        merchant.insert("mcc".into(), A::S("5411".into()));
        merchant.insert("country".into(), A::S("FR".into()));
        merchant.insert("city".into(), A::S("Lyon".into()));
        let mut item = Attributes::new();
        for (k, v) in [
            ("pk", "ACCOUNT#acc-1"),
            ("sk", "TXN#2026-11-20T10:15:00Z#t-1"),
            ("type", "TXN"),
            ("transaction_id", "t-1"),
            ("account_id", "acc-1"),
            ("kind", "card_purchase"),
            ("status", "approved"),
            ("currency", "EUR"),
            ("channel", "pos"),
            ("card_last4", "4242"),
            ("booked_at", "2026-11-20T10:15:00Z"),
        ] {
            item.insert(k.into(), A::S(v.into()));
        }
        item.insert("amount_minor".into(), A::N("4599".into()));
        item.insert("balance_after_minor".into(), A::N("-120".into()));
        item.insert("merchant".into(), A::M(merchant));
        item
    }

    type Edit = Box<dyn FnOnce(&mut Attributes)>;

    fn decode_with(edit: impl FnOnce(&mut Attributes)) -> Result<Transaction, DecodeError> {
        let mut item = valid_item();
        edit(&mut item);
        Transaction::decode(&item)
    }

    fn merchant_mut(item: &mut Attributes) -> &mut Attributes {
        match item.get_mut("merchant") {
            Some(A::M(m)) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_valid_item_decodes_and_round_trips_through_to_item() {
        let txn = Transaction::decode(&valid_item()).unwrap();
        assert_eq!(txn.amount, Money::new(4599, Currency::EUR));
        assert_eq!(txn.balance_after(), Some(Money::new(-120, Currency::EUR)));
        assert_eq!(txn.merchant.as_ref().unwrap().mcc, Mcc::parse("5411").unwrap());
        assert_eq!(txn.sort_key(), "TXN#2026-11-20T10:15:00Z#t-1");
        let again = Transaction::decode(&txn.to_item()).unwrap();
        assert_eq!(again, txn);
        assert_eq!(txn.to_item().get("type"), Some(&A::S("TXN".into())));
    }

    #[test]
    fn each_malformed_field_has_its_own_typed_error() {
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|i| {
                    i.remove("transaction_id");
                }),
                "missing_field",
            ),
            (
                Box::new(|i| {
                    i.insert("amount_minor".into(), A::S("4599".into()));
                }),
                "wrong_type",
            ),
            (
                Box::new(|i| {
                    i.insert("amount_minor".into(), A::N("45.99".into()));
                }),
                "not_an_integer",
            ),
            (
                Box::new(|i| {
                    i.insert("amount_minor".into(), A::N("0".into()));
                }),
                "amount_not_positive",
            ),
            (
                Box::new(|i| {
                    i.insert("amount_minor".into(), A::N("-5".into()));
                }),
                "amount_not_positive",
            ),
            (
                Box::new(|i| {
                    i.insert("amount_minor".into(), A::N("92233720368547758070".into()));
                }),
                "integer_out_of_range",
            ),
            (
                Box::new(|i| {
                    i.insert("amount_minor".into(), A::N("1000000000000000".into()));
                }),
                "integer_out_of_range",
            ),
            (
                Box::new(|i| {
                    i.insert("amount_minor".into(), A::N("9223372036854775807".into()));
                }),
                "integer_out_of_range",
            ),
            (
                Box::new(|i| {
                    i.insert("balance_after_minor".into(), A::N("-1000000000000000".into()));
                }),
                "integer_out_of_range",
            ),
            (
                Box::new(|i| {
                    i.insert("metadata".into(), A::M([("n".to_string(), A::N("x1".into()))].into()));
                }),
                "not_a_number",
            ),
            (
                Box::new(|i| {
                    i.insert("metadata".into(), A::S("free text".into()));
                }),
                "wrong_type",
            ),
            (
                Box::new(|i| {
                    i.insert("currency".into(), A::S("EURO".into()));
                }),
                "bad_currency",
            ),
            (
                Box::new(|i| {
                    i.insert("currency".into(), A::S("ABC".into()));
                }),
                "bad_currency",
            ),
            (
                Box::new(|i| {
                    i.insert("kind".into(), A::S("purchase".into()));
                }),
                "unknown_value",
            ),
            (
                Box::new(|i| {
                    i.insert("status".into(), A::S("pending".into()));
                }),
                "unknown_value",
            ),
            (
                Box::new(|i| {
                    i.insert("channel".into(), A::S("fax".into()));
                }),
                "unknown_value",
            ),
            (
                Box::new(|i| {
                    i.insert("decline_reason".into(), A::S("bored".into()));
                }),
                "unknown_value",
            ),
            (
                Box::new(|i| {
                    i.insert("booked_at".into(), A::S("20/11/2026".into()));
                }),
                "bad_timestamp",
            ),
            (
                Box::new(|i| {
                    merchant_mut(i).insert("mcc".into(), A::S("541".into()));
                }),
                "bad_mcc",
            ),
            (
                Box::new(|i| {
                    merchant_mut(i).insert("mcc".into(), A::S("54a1".into()));
                }),
                "bad_mcc",
            ),
            (
                Box::new(|i| {
                    merchant_mut(i).insert("country".into(), A::S("FRA".into()));
                }),
                "bad_country",
            ),
            (
                Box::new(|i| {
                    merchant_mut(i).remove("name");
                }),
                "missing_field",
            ),
            (
                Box::new(|i| {
                    i.insert("card_last4".into(), A::S("4242424242424242".into()));
                }),
                "bad_card_last4",
            ),
            (
                Box::new(|i| {
                    i.insert("card_last4".into(), A::S("42".into()));
                }),
                "bad_card_last4",
            ),
            (
                Box::new(|i| {
                    i.insert("pk".into(), A::S("ACCOUNT#someone-else".into()));
                }),
                "key_mismatch",
            ),
            (
                Box::new(|i| {
                    i.insert("merchant".into(), A::S("Carrefour".into()));
                }),
                "wrong_type",
            ),
            (
                Box::new(|i| {
                    i.insert("account_id".into(), A::S(String::new()));
                }),
                "empty_field",
            ),
        ];
        for (index, (edit, code)) in cases.into_iter().enumerate() {
            let error = decode_with(edit).unwrap_err();
            assert_eq!(error.code(), code, "case {index}: {error}");
        }
    }

    #[test]
    fn errors_name_nested_fields_by_path_and_never_quote_a_card_number() {
        let error = decode_with(|i| {
            merchant_mut(i).insert("mcc".into(), A::N("5411".into()));
        })
        .unwrap_err();
        assert_eq!(error.to_string(), "field `merchant.mcc` is DynamoDB type N, expected S");
        let error = decode_with(|i| {
            i.insert("card_last4".into(), A::S("4242424242424242".into()));
        })
        .unwrap_err();
        assert!(!error.to_string().contains("4242"), "{error}");
    }

    #[test]
    fn null_optional_fields_read_as_absent_and_metadata_is_carried() {
        let txn = decode_with(|i| {
            i.insert("decline_reason".into(), A::Null(true));
            i.insert(
                "metadata".into(),
                A::M([("ref".to_string(), A::S("abc".into()))].into()),
            );
        })
        .unwrap();
        assert_eq!(txn.decline_reason, None);
        assert_eq!(
            txn.metadata.map(|m| m.to_json()),
            Some(serde_json::json!({"ref": "abc"}))
        );
    }

    #[test]
    fn the_largest_amounts_decode() {
        let txn = decode_with(|i| {
            i.insert("amount_minor".into(), A::N("999999999999999".into()));
            i.insert("balance_after_minor".into(), A::N("-999999999999999".into()));
        })
        .unwrap();
        assert_eq!(txn.amount.amount_minor, 999_999_999_999_999);
        assert_eq!(txn.balance_after_minor, Some(-999_999_999_999_999));
    }

    #[test]
    fn binary_values_and_sets_in_metadata_are_carried_not_rejected() {
        let txn = decode_with(|i| {
            i.insert(
                "metadata".into(),
                A::M(
                    [
                        ("receipt".to_string(), A::B(b"%PDF".to_vec())),
                        ("tags".to_string(), A::Bs(vec![b"x".to_vec()])),
                        ("ids".to_string(), A::L(vec![A::B(vec![1])])),
                        ("amount".to_string(), A::N("12.50".into())),
                    ]
                    .into(),
                ),
            );
        })
        .unwrap();
        let detail = serde_json::to_string(&txn).unwrap();
        assert!(
            detail.contains(r#""metadata":{"amount":12.50,"ids":["AQ=="],"receipt":"JVBERg==","tags":["eA=="]}"#),
            "{detail}"
        );
        assert_eq!(Transaction::decode(&txn.to_item()).unwrap(), txn, "round trip");
    }

    #[test]
    fn non_utc_offsets_are_normalised_to_utc() {
        let txn = decode_with(|i| {
            i.insert("booked_at".into(), A::S("2026-11-20T11:15:00+01:00".into()));
        })
        .unwrap();
        assert_eq!(format_rfc3339(&txn.booked_at), "2026-11-20T10:15:00Z");
    }
}
