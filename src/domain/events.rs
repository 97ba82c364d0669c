//! The events txn-notify puts on the bus (docs/events.md): one Rust type per detail-type, each
//! with a JSON Schema (Draft 4) in `schemas/`. Source is always `txn-notify`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::account::{Account, AccountStatus, Locale};
use super::category::Category;
use super::fields::CountryCode;
use super::json_text::{ObjectWriter, json_key, write_string};
use super::money::{Currency, Money, MoneySum};
use super::time::rfc3339_utc;
use super::transaction::{DeclineReason, Mcc, Transaction, TransactionKind, TransactionStatus};

pub const EVENT_SOURCE: &str = "txn-notify";
pub const SCHEMA_VERSION: u32 = 1;

string_enum! {
    DetailType {
        TransactionRecorded = "Transaction Recorded",
        LargeTransaction = "Large Transaction",
        LowBalance = "Low Balance",
        SpendingLimitReached = "Spending Limit Reached",
        ForeignTransaction = "Foreign Transaction",
        CashWithdrawal = "Cash Withdrawal",
        HighRiskMerchant = "High Risk Merchant",
        TopUpCompleted = "Top-up Completed",
        RefundReceived = "Refund Received",
        AccountOpened = "Account Opened",
        WeeklyStatement = "Weekly Statement",
        RecordRejected = "Record Rejected",
        AccountUpdated = "Account Updated",
        NotificationUndeliverable = "Notification Undeliverable",
    }
}

impl DetailType {
    /// The file of its JSON Schema under `schemas/`, e.g. `transaction-recorded.schema.json`.
    pub fn schema_file(self) -> String {
        format!("{}.schema.json", self.as_str().to_lowercase().replace(' ', "-"))
    }
}

string_enum! {
    /// Ordered: info < warning < critical.
    Severity {
        Info = "info",
        Warning = "warning",
        Critical = "critical",
    }
}

string_enum! {
    /// Which threshold applied: the most specific one wins (account, then category, then currency).
    ThresholdSource {
        Account = "account",
        Category = "category",
        Currency = "currency",
    }
}

string_enum! {
    /// What happened to the transaction that this record reports.
    TransactionChange {
        Inserted = "inserted",
        Reversed = "reversed",
    }
}

string_enum! {
    ForeignReason {
        Country = "country",
        Currency = "currency",
    }
}

/// Fields every detail carries.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Header {
    pub schema_version: u32,
    pub event_id: String,
    pub account_id: String,
    #[serde(serialize_with = "rfc3339_utc")]
    pub occurred_at: DateTime<Utc>,
}

impl Header {
    pub fn new(event_id: String, account_id: &str, occurred_at: DateTime<Utc>) -> Self {
        Header {
            schema_version: SCHEMA_VERSION,
            event_id,
            account_id: account_id.to_string(),
            occurred_at,
        }
    }
}

/// The rule that fired, and the threshold it compared against where it has one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleFired {
    pub id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_source: Option<ThresholdSource>,
}

/// One alert that fired for a transaction, as listed in its Transaction Recorded event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FindingSummary {
    pub detail_type: DetailType,
    pub event_id: String,
    pub rule: RuleFired,
    pub severity: Severity,
}

/// A transaction as its events carry it: written once as JSON text, shared by the events of
/// its record (a Transaction Recorded and its alerts carry the same text).
#[derive(Clone, Debug, PartialEq)]
pub struct TransactionSnapshot(std::sync::Arc<str>);

impl TransactionSnapshot {
    pub fn of(transaction: &Transaction) -> TransactionSnapshot {
        let mut text = String::with_capacity(512);
        transaction.write_json(&mut text);
        TransactionSnapshot(std::sync::Arc::from(text))
    }

    pub fn json(&self) -> &str {
        &self.0
    }
}

impl Serialize for TransactionSnapshot {
    /// The text as it is (the cold path: the processor writes details with `detail_json`).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransactionRecorded {
    #[serde(flatten)]
    pub header: Header,
    pub change: TransactionChange,
    pub transaction: TransactionSnapshot,
    pub category: Category,
    /// The most severe finding's severity, or info.
    pub severity: Severity,
    pub findings: Vec<FindingSummary>,
}

/// What every alert about a transaction carries.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransactionAlert {
    #[serde(flatten)]
    pub header: Header,
    pub transaction: TransactionSnapshot,
    pub category: Category,
    pub rule: RuleFired,
    pub severity: Severity,
}

impl Header {
    fn write_fields(&self, object: &mut ObjectWriter<'_>) {
        object
            .int(json_key!("schema_version"), self.schema_version)
            .str(json_key!("event_id"), &self.event_id)
            .str(json_key!("account_id"), &self.account_id)
            .time(json_key!("occurred_at"), &self.occurred_at);
    }
}

impl RuleFired {
    fn write_json(&self, out: &mut String) {
        let mut object = ObjectWriter::open(out);
        object.str(json_key!("id"), self.id);
        if let Some(threshold) = &self.threshold {
            object.money(json_key!("threshold"), threshold);
        }
        object.opt_str(
            json_key!("threshold_source"),
            self.threshold_source.map(ThresholdSource::as_str),
        );
        object.close();
    }
}

impl TransactionRecorded {
    /// What its `Serialize` writes.
    fn write_json(&self, out: &mut String) {
        let mut object = ObjectWriter::open(out);
        self.header.write_fields(&mut object);
        object
            .str(json_key!("change"), self.change.as_str())
            .raw(json_key!("transaction"), self.transaction.json())
            .str(json_key!("category"), self.category.as_str())
            .str(json_key!("severity"), self.severity.as_str())
            .array(json_key!("findings"), &self.findings, |out, finding| {
                let mut summary = ObjectWriter::open(out);
                summary
                    .str(json_key!("detail_type"), finding.detail_type.as_str())
                    .str(json_key!("event_id"), &finding.event_id);
                summary.key_then(json_key!("rule"), |out| finding.rule.write_json(out));
                summary.str(json_key!("severity"), finding.severity.as_str());
                summary.close();
            });
        object.close();
    }
}

impl TransactionAlert {
    /// What the `Serialize` of an alert event writes: these fields, then the event's own.
    fn write_json(&self, out: &mut String, own_fields: impl FnOnce(&mut ObjectWriter<'_>)) {
        let mut object = ObjectWriter::open(out);
        self.header.write_fields(&mut object);
        object
            .raw(json_key!("transaction"), self.transaction.json())
            .str(json_key!("category"), self.category.as_str());
        object.key_then(json_key!("rule"), |out| self.rule.write_json(out));
        object.str(json_key!("severity"), self.severity.as_str());
        own_fields(&mut object);
        object.close();
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LargeTransaction {
    #[serde(flatten)]
    pub alert: TransactionAlert,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LowBalance {
    #[serde(flatten)]
    pub alert: TransactionAlert,
    pub balance_after: Money,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpendingLimitReached {
    #[serde(flatten)]
    pub alert: TransactionAlert,
    pub decline_reason: DeclineReason,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ForeignTransaction {
    #[serde(flatten)]
    pub alert: TransactionAlert,
    pub account_country: CountryCode,
    pub account_currency: Currency,
    pub reasons: Vec<ForeignReason>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CashWithdrawal {
    #[serde(flatten)]
    pub alert: TransactionAlert,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HighRiskMerchant {
    #[serde(flatten)]
    pub alert: TransactionAlert,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcc: Option<Mcc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopUpCompleted {
    #[serde(flatten)]
    pub alert: TransactionAlert,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RefundReceived {
    #[serde(flatten)]
    pub alert: TransactionAlert,
}

/// The account as the bus may see it: no name, no email (consumers load the profile).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccountSnapshot {
    pub account_id: String,
    pub locale: Locale,
    pub country: CountryCode,
    pub currency: Currency,
    pub status: AccountStatus,
    #[serde(serialize_with = "rfc3339_utc")]
    pub created_at: DateTime<Utc>,
}

impl From<&Account> for AccountSnapshot {
    fn from(account: &Account) -> Self {
        AccountSnapshot {
            account_id: account.account_id.clone(),
            locale: account.locale,
            country: account.country,
            currency: account.currency,
            status: account.status,
            created_at: account.created_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccountOpened {
    #[serde(flatten)]
    pub header: Header,
    pub account: AccountSnapshot,
    pub severity: Severity,
}

/// A change of an account item. `changed` names the top-level fields that changed, never
/// their values; consumers that need the values read the profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccountUpdated {
    #[serde(flatten)]
    pub header: Header,
    pub changed: Vec<String>,
    /// The version the change made (the API's ETag).
    pub version: u64,
    pub account: AccountSnapshot,
    /// Warning when `email` or `status` changed, info otherwise.
    pub severity: Severity,
}

impl AccountUpdated {
    /// The fields whose change matters to the holder's security.
    pub const WATCHED: [&'static str; 2] = ["email", "status"];

    pub fn severity_of(changed: &[String]) -> Severity {
        if changed.iter().any(|f| AccountUpdated::WATCHED.contains(&f.as_str())) {
            Severity::Warning
        } else {
            Severity::Info
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatementWeek {
    /// Monday, in the account's time zone.
    pub start: NaiveDate,
    /// The next Monday (exclusive).
    pub end: NaiveDate,
    pub time_zone: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CategoryTotal {
    pub category: Category,
    pub total: MoneySum,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatementLine {
    pub transaction_id: String,
    #[serde(serialize_with = "rfc3339_utc")]
    pub booked_at: DateTime<Utc>,
    pub kind: TransactionKind,
    pub status: TransactionStatus,
    pub amount: Money,
    pub category: Category,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeeklyStatement {
    #[serde(flatten)]
    pub header: Header,
    pub week: StatementWeek,
    /// Net flow per category and currency over approved transactions: in positive, out negative.
    pub totals_by_category: Vec<CategoryTotal>,
    /// Approved incoming transactions, one sum per currency; `money_out` likewise (positive).
    pub money_in: Vec<MoneySum>,
    pub money_out: Vec<MoneySum>,
    pub transaction_count: u64,
    /// At most 200, oldest first.
    pub transactions: Vec<StatementLine>,
    /// True when the week had more transactions than are listed.
    pub truncated: bool,
    pub severity: Severity,
}

string_enum! {
    /// Why an email that was due did not reach the customer (`address_undeliverable`: the
    /// notifier sent nothing, the account's address being marked undeliverable).
    UndeliveredReason {
        AddressUndeliverable = "address_undeliverable",
        Bounced = "bounced",
        Complained = "complained",
        Rejected = "rejected",
    }
}

/// An alert of the notification that was not delivered (warning or above).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UndeliveredFinding {
    pub detail_type: DetailType,
    pub event_id: String,
    pub severity: Severity,
}

/// An email that was due could not reach the customer: the notifier suppressed it because
/// the address is undeliverable, SES rejected it, it bounced or drew a complaint. For ops and
/// other channels (SMS, a fraud desk); never emailed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NotificationUndeliverable {
    /// Its own event_id; `occurred_at`: when it was found undeliverable.
    #[serde(flatten)]
    pub header: Header,
    /// The event whose email did not arrive, and its detail-type.
    pub original_event_id: String,
    pub original_detail_type: DetailType,
    pub transaction_id: Option<String>,
    pub reason: UndeliveredReason,
    /// The email's template family, and SES's message id (None: nothing was sent).
    pub template: Option<String>,
    pub message_id: Option<String>,
    /// The severity of what was not delivered.
    pub severity: Severity,
    /// The alerts of warning or above that the email carried, when the notifier knows them
    /// (SES's feedback names only the event: its findings are in the original event).
    pub findings: Vec<UndeliveredFinding>,
}

/// A stream record that can never be processed. For ops only: never emailed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordRejected {
    pub schema_version: u32,
    pub event_id: String,
    /// The account named by the record's keys, when it could be read.
    pub account_id: Option<String>,
    #[serde(serialize_with = "rfc3339_utc")]
    pub occurred_at: DateTime<Utc>,
    pub severity: Severity,
    /// A stable code: `missing_field`, `bad_currency`, `malformed_record`, ...
    pub reason_code: &'static str,
    pub reason: String,
    pub sequence_number: Option<String>,
    pub stream_event_id: Option<String>,
    pub event_name: Option<String>,
    pub event_source_arn: Option<String>,
    /// The record as received (a full card number, if any, masked); `null` when too large.
    pub raw_record: serde_json::Value,
    pub raw_record_truncated: bool,
}

/// Every event txn-notify publishes.
#[derive(Clone, Debug, PartialEq)]
pub enum BusEvent {
    TransactionRecorded(TransactionRecorded),
    LargeTransaction(LargeTransaction),
    LowBalance(LowBalance),
    SpendingLimitReached(SpendingLimitReached),
    ForeignTransaction(ForeignTransaction),
    CashWithdrawal(CashWithdrawal),
    HighRiskMerchant(HighRiskMerchant),
    TopUpCompleted(TopUpCompleted),
    RefundReceived(RefundReceived),
    AccountOpened(AccountOpened),
    WeeklyStatement(WeeklyStatement),
    RecordRejected(RecordRejected),
    AccountUpdated(AccountUpdated),
    NotificationUndeliverable(NotificationUndeliverable),
}

impl BusEvent {
    pub fn detail_type(&self) -> DetailType {
        match self {
            BusEvent::TransactionRecorded(_) => DetailType::TransactionRecorded,
            BusEvent::LargeTransaction(_) => DetailType::LargeTransaction,
            BusEvent::LowBalance(_) => DetailType::LowBalance,
            BusEvent::SpendingLimitReached(_) => DetailType::SpendingLimitReached,
            BusEvent::ForeignTransaction(_) => DetailType::ForeignTransaction,
            BusEvent::CashWithdrawal(_) => DetailType::CashWithdrawal,
            BusEvent::HighRiskMerchant(_) => DetailType::HighRiskMerchant,
            BusEvent::TopUpCompleted(_) => DetailType::TopUpCompleted,
            BusEvent::RefundReceived(_) => DetailType::RefundReceived,
            BusEvent::AccountOpened(_) => DetailType::AccountOpened,
            BusEvent::WeeklyStatement(_) => DetailType::WeeklyStatement,
            BusEvent::RecordRejected(_) => DetailType::RecordRejected,
            BusEvent::AccountUpdated(_) => DetailType::AccountUpdated,
            BusEvent::NotificationUndeliverable(_) => DetailType::NotificationUndeliverable,
        }
    }

    fn alert(&self) -> Option<&TransactionAlert> {
        match self {
            BusEvent::LargeTransaction(e) => Some(&e.alert),
            BusEvent::LowBalance(e) => Some(&e.alert),
            BusEvent::SpendingLimitReached(e) => Some(&e.alert),
            BusEvent::ForeignTransaction(e) => Some(&e.alert),
            BusEvent::CashWithdrawal(e) => Some(&e.alert),
            BusEvent::HighRiskMerchant(e) => Some(&e.alert),
            BusEvent::TopUpCompleted(e) => Some(&e.alert),
            BusEvent::RefundReceived(e) => Some(&e.alert),
            _ => None,
        }
    }

    fn header(&self) -> Option<&Header> {
        match self {
            BusEvent::TransactionRecorded(e) => Some(&e.header),
            BusEvent::AccountOpened(e) => Some(&e.header),
            BusEvent::AccountUpdated(e) => Some(&e.header),
            BusEvent::NotificationUndeliverable(e) => Some(&e.header),
            BusEvent::WeeklyStatement(e) => Some(&e.header),
            BusEvent::RecordRejected(_) => None,
            other => other.alert().map(|a| &a.header),
        }
    }

    pub fn event_id(&self) -> &str {
        match self {
            BusEvent::RecordRejected(e) => &e.event_id,
            other => &other.header().expect("every other event has a header").event_id,
        }
    }

    pub fn account_id(&self) -> Option<&str> {
        match self {
            BusEvent::RecordRejected(e) => e.account_id.as_deref(),
            other => other.header().map(|h| h.account_id.as_str()),
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            BusEvent::TransactionRecorded(e) => e.severity,
            BusEvent::AccountOpened(e) => e.severity,
            BusEvent::AccountUpdated(e) => e.severity,
            BusEvent::NotificationUndeliverable(e) => e.severity,
            BusEvent::WeeklyStatement(e) => e.severity,
            BusEvent::RecordRejected(e) => e.severity,
            other => other.alert().map(|a| a.severity).unwrap_or(Severity::Info),
        }
    }

    /// The detail as the JSON text PutEvents carries. The events about a transaction (nine
    /// of ten on the bus) are written by hand, exactly as `detail_json_by_serde` writes them.
    pub fn detail_json(&self) -> String {
        let transaction = match self {
            BusEvent::TransactionRecorded(e) => Some(&e.transaction),
            other => other.alert().map(|a| &a.transaction),
        };
        // Room for the whole detail at once: no regrowing on the way.
        let mut text = String::with_capacity(transaction.map_or(1024, |t| t.json().len() + 512));
        if self.write_transaction_detail(&mut text) {
            return text;
        }
        self.detail_json_by_serde()
    }

    /// The detail by each event's `Serialize`: the reference of `detail_json`.
    pub fn detail_json_by_serde(&self) -> String {
        let mut text = Vec::with_capacity(1024);
        self.write_detail_with_serde(&mut text);
        String::from_utf8(text).expect("serde_json writes UTF-8")
    }

    /// The detail of an event about a transaction; false (nothing written) for the others.
    fn write_transaction_detail(&self, out: &mut String) -> bool {
        let no_more = |_: &mut ObjectWriter<'_>| {};
        match self {
            BusEvent::TransactionRecorded(e) => e.write_json(out),
            BusEvent::LargeTransaction(e) => e.alert.write_json(out, no_more),
            BusEvent::LowBalance(e) => e.alert.write_json(out, |object| {
                object.money(json_key!("balance_after"), &e.balance_after);
            }),
            BusEvent::SpendingLimitReached(e) => e.alert.write_json(out, |object| {
                object.str(json_key!("decline_reason"), e.decline_reason.as_str());
            }),
            BusEvent::ForeignTransaction(e) => e.alert.write_json(out, |object| {
                object
                    .str(json_key!("account_country"), e.account_country.as_str())
                    .str(json_key!("account_currency"), e.account_currency.code())
                    .array(json_key!("reasons"), &e.reasons, |out, reason| {
                        write_string(out, reason.as_str())
                    });
            }),
            BusEvent::CashWithdrawal(e) => e.alert.write_json(out, no_more),
            BusEvent::HighRiskMerchant(e) => e.alert.write_json(out, |object| {
                if let Some(mcc) = e.mcc {
                    object.str(json_key!("mcc"), mcc.digits(&mut [0u8; 4]));
                }
            }),
            BusEvent::TopUpCompleted(e) => e.alert.write_json(out, no_more),
            BusEvent::RefundReceived(e) => e.alert.write_json(out, no_more),
            _ => return false,
        }
        true
    }

    fn write_detail_with_serde(&self, out: &mut Vec<u8>) {
        let result = match self {
            BusEvent::TransactionRecorded(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::LargeTransaction(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::LowBalance(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::SpendingLimitReached(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::ForeignTransaction(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::CashWithdrawal(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::HighRiskMerchant(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::TopUpCompleted(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::RefundReceived(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::AccountOpened(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::AccountUpdated(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::NotificationUndeliverable(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::WeeklyStatement(e) => serde_json::to_writer(&mut *out, e),
            BusEvent::RecordRejected(e) => serde_json::to_writer(&mut *out, e),
        };
        // Details hold only strings, integers, booleans and JSON values taken from serde_json:
        // serialization cannot fail.
        result.expect("event details always serialize");
    }
}
