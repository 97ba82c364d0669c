//! The account item of the ledger (docs/data-contract.md). Name and email are personal data: they are
//! held in `Pii` so that no log line can print them, and never put on the bus.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_dynamo::Item;

use super::fields::{Attributes, CountryCode, DecodeError, Fields};
use super::item_view::ItemView;
use super::keys::{self, account_pk};
use super::money::Currency;
use super::pii::Pii;
use super::time::rfc3339_utc;

string_enum! {
    Locale {
        Fr = "fr",
        En = "en",
    }
}

string_enum! {
    /// `active` (the default), `frozen` (the bank blocked it: alerts go on), `closed` (one
    /// closure email, then no email at all; transactions are still recorded and audited).
    AccountStatus {
        Active = "active",
        Frozen = "frozen",
        Closed = "closed",
    }
}

string_enum! {
    /// Why an address is undeliverable.
    UndeliverableReason {
        Bounce = "bounce",
        Complaint = "complaint",
    }
}

string_enum! {
    EmailState {
        Undeliverable = "undeliverable",
    }
}

/// Set when SES reported the address undeliverable, and only while `email` is still that
/// address; absent: deliverable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EmailStatus {
    pub state: EmailState,
    pub reason: UndeliverableReason,
    #[serde(serialize_with = "rfc3339_utc")]
    pub since: DateTime<Utc>,
    /// A digest of the address that bounced, never the address.
    pub address_hash: String,
}

impl EmailStatus {
    pub fn undeliverable(address: &str, reason: UndeliverableReason, since: DateTime<Utc>) -> EmailStatus {
        EmailStatus {
            state: EmailState::Undeliverable,
            reason,
            since,
            address_hash: address_hash(address),
        }
    }

    /// Whether this status marks `address` undeliverable.
    pub fn marks(&self, address: &str) -> bool {
        self.state == EmailState::Undeliverable && self.address_hash == address_hash(address)
    }
}

/// SHA-256 (hex) of an address, case-folded: what `email_status` keeps of the address that
/// bounced, so that it can be compared without being stored twice.
pub fn address_hash(address: &str) -> String {
    let folded = address.trim().to_lowercase();
    hex::encode(ring::digest::digest(&ring::digest::SHA256, folded.as_bytes()).as_ref())
}

/// Whether two addresses are the same mailbox for SES's feedback (which may change the case
/// of what it reports).
pub fn same_address(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Holder {
    pub first_name: Pii<String>,
    pub last_name: Pii<String>,
}

/// Per-account overrides of the rules' thresholds, in minor units of the account currency.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AccountThresholds {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub large_amount_minor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_balance_minor: Option<i64>,
    /// An extension of the contract: the cash-withdrawal threshold, like the two above.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_withdrawal_minor: Option<i64>,
}

impl AccountThresholds {
    pub fn is_empty(&self) -> bool {
        *self == AccountThresholds::default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Preferences {
    pub email_enabled: bool,
    /// Category names as stored; unknown names are kept and simply never match.
    pub muted_categories: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_amount_minor: Option<i64>,
    /// The weekly statement; its one-click unsubscribe turns it off.
    pub statement_enabled: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            email_enabled: true,
            muted_categories: Vec::new(),
            min_amount_minor: None,
            statement_enabled: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Account {
    pub account_id: String,
    pub holder: Holder,
    pub email: Pii<String>,
    pub locale: Locale,
    pub country: CountryCode,
    pub currency: Currency,
    pub status: AccountStatus,
    #[serde(serialize_with = "rfc3339_utc")]
    pub created_at: DateTime<Utc>,
    /// 1 at creation, +1 on every change made through the API: the API's ETag. Absent = 1.
    pub version: u64,
    /// Left out when empty: nothing to say, and DynamoDB Local's stream drops the type of an
    /// empty map (`{}` instead of `{"M": {}}`), which no SDK can read.
    #[serde(skip_serializing_if = "AccountThresholds::is_empty")]
    pub thresholds: AccountThresholds,
    pub preferences: Preferences,
    /// IANA time zone for dates in emails and statement weeks; an extension of the contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_status: Option<EmailStatus>,
    /// The address before the last change of `email`, for the security notice sent to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_email: Option<Pii<String>>,
    /// The last change made through the API.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_rfc3339_utc")]
    pub updated_at: Option<DateTime<Utc>>,
}

fn opt_rfc3339_utc<S: serde::Serializer>(time: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => rfc3339_utc(time, serializer),
        None => serializer.serialize_none(),
    }
}

/// Where an account has no time zone, or one that is not in the IANA database.
pub const DEFAULT_TIME_ZONE: chrono_tz::Tz = chrono_tz::Europe::Paris;

/// The IANA zone of that name, or the default.
pub fn zone_or_default(name: Option<&str>) -> chrono_tz::Tz {
    name.and_then(|name| name.parse().ok()).unwrap_or(DEFAULT_TIME_ZONE)
}

impl Account {
    /// The zone its dates are written in and its statement weeks are cut in.
    pub fn zone(&self) -> chrono_tz::Tz {
        zone_or_default(self.time_zone.as_deref())
    }

    /// The zone its weekly statement is due in, None when none is due (closed, or the
    /// holder unsubscribed): the key that puts its item in the `accounts-by-zone` index.
    pub fn statement_zone(&self) -> Option<chrono_tz::Tz> {
        (self.status != AccountStatus::Closed && self.preferences.statement_enabled).then(|| self.zone())
    }

    pub fn decode(attributes: &Attributes) -> Result<Account, DecodeError> {
        Account::decode_view(&ItemView::of_item(attributes))
    }

    /// `decode`, on an item read in place.
    pub fn decode_view(item: &ItemView) -> Result<Account, DecodeError> {
        let f = Fields::root(item);
        let account_id = f.string("account_id")?.to_string();
        if let Some(pk) = f.opt_string("pk")?
            && keys::account_id_of(pk) != Some(account_id.as_str())
        {
            return Err(DecodeError::KeyMismatch);
        }
        let holder = f.map("holder")?;
        let thresholds = match f.opt_map("thresholds")? {
            None => AccountThresholds::default(),
            Some(t) => AccountThresholds {
                large_amount_minor: t.opt_amount("large_amount_minor")?,
                low_balance_minor: t.opt_amount("low_balance_minor")?,
                cash_withdrawal_minor: t.opt_amount("cash_withdrawal_minor")?,
            },
        };
        let preferences = match f.opt_map("preferences")? {
            None => Preferences::default(),
            Some(p) => Preferences {
                email_enabled: p.opt_bool("email_enabled")?.unwrap_or(true),
                muted_categories: p.string_list("muted_categories")?,
                min_amount_minor: p.opt_amount("min_amount_minor")?,
                statement_enabled: p.opt_bool("statement_enabled")?.unwrap_or(true),
            },
        };
        let locale = match f.opt_string("locale")? {
            None => Locale::Fr,
            Some(_) => f.enumerated("locale", Locale::parse, Locale::NAMES)?,
        };
        Ok(Account {
            holder: Holder {
                first_name: Pii(holder.string("first_name")?.to_string()),
                last_name: Pii(holder.string("last_name")?.to_string()),
            },
            email: Pii(f.string("email")?.to_string()),
            locale,
            country: f.country("country")?,
            currency: f.currency("currency")?,
            status: f
                .opt_enumerated("status", AccountStatus::parse, AccountStatus::NAMES)?
                .unwrap_or(AccountStatus::Active),
            created_at: f.timestamp("created_at")?,
            version: match f.get("version") {
                None => 1,
                Some(_) => match f.opt_amount("version")? {
                    Some(v) if v >= 1 => v as u64,
                    _ => {
                        return Err(DecodeError::OutOfRange {
                            field: "version".into(),
                        });
                    }
                },
            },
            thresholds,
            preferences,
            time_zone: f.opt_string("time_zone")?.map(str::to_string),
            email_status: match f.opt_map("email_status")? {
                None => None,
                Some(e) => Some(EmailStatus {
                    state: e.enumerated("state", EmailState::parse, EmailState::NAMES)?,
                    reason: e.enumerated("reason", UndeliverableReason::parse, UndeliverableReason::NAMES)?,
                    since: e.timestamp("since")?,
                    address_hash: e.string("address_hash")?.to_string(),
                }),
            },
            previous_email: f.opt_string("previous_email")?.map(|e| Pii(e.to_string())),
            updated_at: match f.opt_string("updated_at")? {
                None => None,
                Some(_) => Some(f.timestamp("updated_at")?),
            },
            account_id,
        })
    }

    /// The `statement_zone` an account item should carry, as its own `to_item` would write
    /// it: Some(Some(zone)) to set, Some(None) to remove, None when the item already has what
    /// it should or is not an account that decodes. What a backfill writes.
    pub fn statement_zone_fix(item: &Attributes) -> Option<Option<&'static str>> {
        let is_profile = matches!(item.get("sk"), Some(serde_dynamo::AttributeValue::S(sk)) if sk == keys::PROFILE_SK)
            && matches!(item.get("type"), Some(serde_dynamo::AttributeValue::S(t)) if t == keys::ACCOUNT_TYPE);
        let account = Account::decode(item).ok().filter(|_| is_profile)?;
        let wanted = account.statement_zone().map(|zone| zone.name());
        let present = match item.get(keys::STATEMENT_ZONE) {
            Some(serde_dynamo::AttributeValue::S(zone)) => Some(zone.as_str()),
            _ => None,
        };
        (present != wanted).then_some(wanted)
    }

    /// The item with its `statement_zone` as `to_item` would write it, every other
    /// attribute kept: an item written by another system, or before the index.
    pub fn with_statement_zone(mut item: Item) -> Item {
        match Account::statement_zone_fix(&item) {
            Some(Some(zone)) => {
                item.insert(
                    keys::STATEMENT_ZONE.to_string(),
                    serde_dynamo::AttributeValue::S(zone.to_string()),
                );
            }
            Some(None) => {
                item.remove(keys::STATEMENT_ZONE);
            }
            None => {}
        }
        item
    }

    /// The `version` of a stored account item, as a conditional update compares it: absent
    /// (an item written before versions) is 1.
    pub fn stored_version(item: &Attributes) -> u64 {
        match item.get("version") {
            Some(serde_dynamo::AttributeValue::N(n)) => n.parse().unwrap_or(1),
            _ => 1,
        }
    }

    pub fn to_item(&self) -> Item {
        #[derive(Serialize)]
        struct Keys<'a> {
            pk: String,
            sk: &'static str,
            #[serde(rename = "type")]
            item_type: &'static str,
            /// keys::STATEMENT_ZONE: derived, so that every write of the profile keeps it.
            #[serde(skip_serializing_if = "Option::is_none")]
            statement_zone: Option<&'static str>,
            #[serde(flatten)]
            account: &'a Account,
        }
        serde_dynamo::to_item(Keys {
            pk: account_pk(&self.account_id),
            sk: keys::PROFILE_SK,
            item_type: keys::ACCOUNT_TYPE,
            statement_zone: self.statement_zone().map(|zone| zone.name()),
            account: self,
        })
        .expect("an account always serializes to an item")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_dynamo::AttributeValue as A;

    pub fn valid_item() -> Attributes {
        let mut item = Attributes::new();
        for (k, v) in [
            ("pk", "ACCOUNT#acc-1"),
            ("sk", "PROFILE"),
            ("type", "ACCOUNT"),
            ("account_id", "acc-1"),
            ("email", "marie.curie@example.com"),
            ("country", "FR"),
            ("currency", "EUR"),
            ("status", "active"),
            ("created_at", "2026-11-01T08:00:00Z"),
        ] {
            item.insert(k.into(), A::S(v.into()));
        }
        item.insert(
            "holder".into(),
            A::M(
                [
                    ("first_name".to_string(), A::S("Marie".into())),
                    ("last_name".to_string(), A::S("Curie".into())),
                ]
                .into(),
            ),
        );
        item
    }

    #[test]
    fn defaults_apply_when_optional_parts_are_absent() {
        let account = Account::decode(&valid_item()).unwrap();
        assert_eq!(account.locale, Locale::Fr);
        assert!(account.preferences.email_enabled);
        assert_eq!(account.thresholds, AccountThresholds::default());
        assert_eq!(Account::decode(&account.to_item()).unwrap(), account);
    }

    #[test]
    fn thresholds_preferences_and_locale_are_read() {
        let mut item = valid_item();
        item.insert("locale".into(), A::S("en".into()));
        item.insert(
            "thresholds".into(),
            A::M([("large_amount_minor".to_string(), A::N("50000".into()))].into()),
        );
        item.insert(
            "preferences".into(),
            A::M(
                [
                    ("email_enabled".to_string(), A::Bool(false)),
                    ("muted_categories".to_string(), A::Ss(vec!["groceries".into()])),
                    ("min_amount_minor".to_string(), A::N("1000".into())),
                ]
                .into(),
            ),
        );
        let account = Account::decode(&item).unwrap();
        assert_eq!(account.locale, Locale::En);
        assert_eq!(account.thresholds.large_amount_minor, Some(50000));
        assert!(!account.preferences.email_enabled);
        assert_eq!(account.preferences.muted_categories, vec!["groceries"]);
        assert_eq!(Account::decode(&account.to_item()).unwrap(), account);
    }

    #[test]
    fn items_written_before_the_lifecycle_fields_read_as_their_defaults() {
        let mut item = valid_item();
        item.remove("status");
        let account = Account::decode(&item).unwrap();
        assert_eq!(account.status, AccountStatus::Active);
        assert_eq!(account.version, 1, "absent = 1");
        assert!(account.preferences.statement_enabled);
        assert_eq!(
            (
                account.email_status.clone(),
                account.previous_email.clone(),
                account.updated_at
            ),
            (None, None, None)
        );
        let written = account.to_item();
        assert_eq!(written.get("version"), Some(&A::N("1".into())), "written from now on");
        assert!(!written.contains_key("email_status") && !written.contains_key("updated_at"));
    }

    #[test]
    fn the_lifecycle_fields_are_read_and_written_back_as_they_were() {
        let mut item = valid_item();
        item.insert("status".into(), A::S("frozen".into()));
        item.insert("version".into(), A::N("7".into()));
        item.insert("previous_email".into(), A::S("old@example.com".into()));
        item.insert("updated_at".into(), A::S("2026-11-20T10:00:00Z".into()));
        item.insert(
            "preferences".into(),
            A::M([("statement_enabled".to_string(), A::Bool(false))].into()),
        );
        item.insert(
            "email_status".into(),
            A::M(
                [
                    ("state".to_string(), A::S("undeliverable".into())),
                    ("reason".to_string(), A::S("bounce".into())),
                    ("since".to_string(), A::S("2026-11-19T09:00:00Z".into())),
                    ("address_hash".to_string(), A::S("3f2a".into())),
                ]
                .into(),
            ),
        );
        let account = Account::decode(&item).unwrap();
        assert_eq!(account.status, AccountStatus::Frozen);
        assert_eq!(account.version, 7);
        assert!(!account.preferences.statement_enabled);
        assert!(account.preferences.email_enabled, "each preference has its own default");
        assert_eq!(
            account.previous_email.as_ref().map(|e| e.expose().as_str()),
            Some("old@example.com")
        );
        let status = account.email_status.clone().unwrap();
        assert_eq!(
            (status.state, status.reason),
            (EmailState::Undeliverable, UndeliverableReason::Bounce)
        );
        assert_eq!(Account::decode(&account.to_item()).unwrap(), account);
        assert!(
            !format!("{account:?}").contains("old@example.com"),
            "the previous address is personal data too"
        );
    }

    #[test]
    fn a_status_or_version_outside_the_contract_is_a_typed_error() {
        for (field, value, code) in [
            ("status", A::S("suspended".into()), "unknown_value"),
            ("version", A::N("0".into()), "integer_out_of_range"),
            ("version", A::N("1.5".into()), "not_an_integer"),
            ("version", A::S("1".into()), "wrong_type"),
            ("updated_at", A::S("yesterday".into()), "bad_timestamp"),
        ] {
            let mut item = valid_item();
            item.insert(field.into(), value);
            let error = Account::decode(&item).unwrap_err();
            assert_eq!(error.code(), code, "{field}: {error}");
        }
        let mut item = valid_item();
        item.insert(
            "email_status".into(),
            A::M([("state".to_string(), A::S("undeliverable".into()))].into()),
        );
        assert_eq!(Account::decode(&item).unwrap_err().code(), "missing_field");
    }

    #[test]
    fn debug_output_hides_name_and_email() {
        let account = Account::decode(&valid_item()).unwrap();
        let debug = format!("{account:?}");
        assert!(!debug.contains("Marie") && !debug.contains("example.com"), "{debug}");
    }

    #[test]
    fn a_bad_locale_or_missing_email_is_a_typed_error() {
        let mut item = valid_item();
        item.insert("locale".into(), A::S("de".into()));
        assert_eq!(Account::decode(&item).unwrap_err().code(), "unknown_value");
        let mut item = valid_item();
        item.remove("email");
        assert_eq!(Account::decode(&item).unwrap_err().code(), "missing_field");
    }
}
