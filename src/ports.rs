//! The ports: what the use cases need from the outside world, one trait each. AWS adapters
//! live in `aws/`, embedded and in-memory ones in `local/`; the use cases see only these.

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::Account;

/// Whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Throttling, a 5xx, a timeout: try again later.
    Transient,
    /// Access denied, a missing resource, a rejected request: the same call fails again.
    Permanent,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?} failure: {message}")]
pub struct PortError {
    pub kind: FailureKind,
    pub message: String,
}

impl PortError {
    pub fn transient(message: impl Into<String>) -> Self {
        PortError {
            kind: FailureKind::Transient,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        PortError {
            kind: FailureKind::Permanent,
            message: message.into(),
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind == FailureKind::Transient
    }
}

/// Time, and waiting: a port so that tests neither depend on the wall clock nor sleep.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// One entry of a PutEvents call, as EventBridge takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEntry {
    /// Ours are constants: no allocation per entry.
    pub source: Cow<'static, str>,
    pub detail_type: Cow<'static, str>,
    pub detail: String,
    pub event_bus_name: String,
    pub resources: Vec<String>,
    pub time: Option<DateTime<Utc>>,
}

impl BusEntry {
    /// The event as EventBridge delivers it to a target, with this envelope id, account,
    /// region and time. A detail that is not JSON (never ours) is delivered as null.
    pub fn envelope(&self, id: &str, account: &str, region: &str, time: DateTime<Utc>) -> serde_json::Value {
        let detail = serde_json::from_str::<serde_json::Value>(&self.detail).unwrap_or(serde_json::Value::Null);
        self.envelope_around(detail, id, account, region, time)
    }

    /// `envelope`, around a detail already read (`accepted_detail`).
    pub fn envelope_around(
        &self,
        detail: serde_json::Value,
        id: &str,
        account: &str,
        region: &str,
        time: DateTime<Utc>,
    ) -> serde_json::Value {
        serde_json::json!({
            "version": "0",
            "id": id,
            "detail-type": self.detail_type,
            "source": self.source,
            "account": account,
            "time": crate::domain::time::format_rfc3339(&self.time.unwrap_or(time)),
            "region": region,
            "resources": self.resources,
            "detail": detail,
        })
    }

    /// `envelope` as JSON text, around a detail the caller has checked is one JSON object
    /// that `serde_json::Value` holds (the embedded bus checks it as it projects it for its
    /// rules): the detail is written as its producer wrote it, the rest exactly as
    /// `envelope(..).to_string()` writes it, so the text reads as the same event.
    pub fn envelope_text(&self, id: &str, account: &str, region: &str, time: DateTime<Utc>) -> String {
        use crate::domain::json_text::write_string;
        let mut text = String::with_capacity(self.detail.len() + 256);
        // The keys in the order a `Value`'s map keeps them (sorted).
        text.push_str("{\"account\":");
        write_string(&mut text, account);
        text.push_str(",\"detail\":");
        text.push_str(&self.detail);
        text.push_str(",\"detail-type\":");
        write_string(&mut text, &self.detail_type);
        text.push_str(",\"id\":");
        write_string(&mut text, id);
        text.push_str(",\"region\":");
        write_string(&mut text, region);
        text.push_str(",\"resources\":[");
        for (n, resource) in self.resources.iter().enumerate() {
            if n > 0 {
                text.push(',');
            }
            write_string(&mut text, resource);
        }
        text.push_str("],\"source\":");
        write_string(&mut text, &self.source);
        text.push_str(",\"time\":");
        crate::domain::time::format_rfc3339_into(&self.time.unwrap_or(time), &mut text);
        text.push_str(",\"version\":\"0\"}");
        text
    }

    /// The entry size as EventBridge computes it ("Calculating PutEvents event entry size"):
    /// 14 bytes for Time if set, plus the UTF-8 bytes of Source, DetailType, Detail and each
    /// Resource. EventBusName does not count.
    pub fn size(&self) -> usize {
        let time = if self.time.is_some() { 14 } else { 0 };
        time + self.source.len()
            + self.detail_type.len()
            + self.detail.len()
            + self.resources.iter().map(String::len).sum::<usize>()
    }
}

/// EventBridge's PutEvents quotas.
pub const MAX_ENTRIES_PER_CALL: usize = 10;
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

impl BusEntry {
    /// Why EventBridge would fail this entry on its own (the rest of the call goes on), with
    /// its error code and message; None when it would take it. The embedded buses apply it,
    /// so that they refuse what EventBridge refuses (tests/common/bus_contract.rs).
    pub fn refusal(&self) -> Option<EntryResult> {
        if let Some(missing) = self.missing_argument() {
            return Some(missing);
        }
        // A JSON object, checked without building its tree.
        let is_object = self.detail.trim_start().starts_with('{')
            && serde_json::from_str::<serde::de::IgnoredAny>(&self.detail).is_ok();
        if is_object {
            None
        } else {
            Some(EntryResult::Failed {
                error_code: "MalformedDetail".into(),
                error_message: "Detail is malformed.".into(),
            })
        }
    }

    /// `refusal`, or the detail as `envelope` delivers it when the entry is taken: one
    /// reading of the detail for a bus that checks it and delivers it.
    pub fn accepted_detail(&self) -> Result<serde_json::Value, EntryResult> {
        if let Some(missing) = self.missing_argument() {
            return Err(missing);
        }
        if self.detail.trim_start().starts_with('{')
            && let Ok(detail) = serde_json::from_str::<serde_json::Value>(&self.detail)
        {
            return Ok(detail);
        }
        // Not a tree serde_json holds (a number past f64, say): as `refusal` and `envelope` say.
        match self.refusal() {
            Some(refused) => Err(refused),
            None => Ok(serde_json::Value::Null),
        }
    }

    /// A required argument left empty.
    pub fn missing_argument(&self) -> Option<EntryResult> {
        for (name, value) in [
            ("Source", self.source.as_ref()),
            ("DetailType", self.detail_type.as_ref()),
            ("Detail", self.detail.as_str()),
        ] {
            if value.is_empty() {
                return Some(EntryResult::Failed {
                    error_code: "InvalidArgument".into(),
                    error_message: format!("Parameter {name} is not valid. Reason: {name} is a required argument."),
                });
            }
        }
        None
    }
}

/// What EventBridge refuses as a whole call (ValidationException): more than
/// `MAX_ENTRIES_PER_CALL` entries, or more than `MAX_REQUEST_BYTES` of entries.
pub fn check_put_events_call(entries: &[&BusEntry]) -> Result<(), PortError> {
    if entries.len() > MAX_ENTRIES_PER_CALL {
        return Err(PortError::permanent(format!(
            "ValidationException: PutEvents takes at most {MAX_ENTRIES_PER_CALL} entries"
        )));
    }
    if entries.iter().map(|e| e.size()).sum::<usize>() > MAX_REQUEST_BYTES {
        return Err(PortError::permanent(format!(
            "ValidationException: the entries of a PutEvents call exceed {MAX_REQUEST_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The fate of one entry of a PutEvents call, in the order the entries were sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryResult {
    Accepted { event_id: String },
    Failed { error_code: String, error_message: String },
}

/// EventBridge PutEvents: at most 10 entries and 1 MB per call (the caller packs).
pub trait EventBus: Send + Sync {
    /// One result per entry, in order. Err: the whole call failed and nothing was accepted.
    fn put_events(&self, entries: &[&BusEntry]) -> impl Future<Output = Result<Vec<EntryResult>, PortError>> + Send;
}

/// SQS SendMessageBatch takes at most 10 messages a call.
pub const MAX_MESSAGES_PER_SEND: usize = 10;

/// A queue the use cases put work on (DigestQueue): SQS SendMessageBatch.
pub trait WorkQueue: Send + Sync {
    /// Sends at most `MAX_MESSAGES_PER_SEND` bodies. One result per body, in order: Ok, or
    /// the entry's own failure (a sender's fault is permanent, SQS's transient). Err: the
    /// whole call failed and nothing was sent.
    fn send_messages(
        &self,
        bodies: &[String],
    ) -> impl Future<Output = Result<Vec<Result<(), PortError>>, PortError>> + Send;
}

impl<T: WorkQueue> WorkQueue for std::sync::Arc<T> {
    fn send_messages(
        &self,
        bodies: &[String],
    ) -> impl Future<Output = Result<Vec<Result<(), PortError>>, PortError>> + Send {
        (**self).send_messages(bodies)
    }
}

/// What a BatchGetItem of account profiles returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountBatch {
    /// Profiles found (a missing or undecodable profile is simply absent).
    pub accounts: Vec<Account>,
    /// Keys DynamoDB did not get to (UnprocessedKeys): ask again.
    pub unprocessed: Vec<String>,
}

/// One page of the `accounts-by-zone` index: the ids of accounts whose statement is due in
/// one zone, in account_id order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountIdPage {
    pub account_ids: Vec<String>,
    /// Where the next page starts (an opaque cursor); None: the zone is done.
    pub next: Option<String>,
}

/// A Query of one account's transactions whose booked_at is in [from, to).
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionQuery<'a> {
    pub account_id: &'a str,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub newest_first: bool,
    /// At most this many transactions on the page.
    pub limit: u32,
    /// The `next` of the previous page.
    pub after: Option<&'a str>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransactionPage {
    pub transactions: Vec<crate::domain::Transaction>,
    pub undecodable: u32,
    pub next: Option<String>,
}

impl TransactionPage {
    /// Takes one item the Query read: a transaction booked in [from, to) is listed (the key
    /// range is only to the second), another item is passed over, one that does not decode
    /// is counted.
    pub fn take(&mut self, item: &crate::domain::fields::Attributes, query: &TransactionQuery<'_>) {
        match crate::domain::LedgerItem::decode(item) {
            Ok(crate::domain::LedgerItem::Transaction(txn))
                if txn.booked_at >= query.from && txn.booked_at < query.to =>
            {
                self.transactions.push(*txn)
            }
            Ok(_) => {}
            Err(_) => self.undecodable += 1,
        }
    }
}

/// What storing a transaction found. The same transaction_id (per account) is stored once,
/// whatever the retries carry: the ledger keeps a uniqueness marker with the fingerprint of
/// the request that created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransactionWrite {
    Stored,
    /// The transaction_id was taken, by a request with this fingerprint.
    AlreadyStored {
        fingerprint: String,
    },
}

/// What storing an account found.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountWrite {
    Created,
    /// An account with that id exists (it may have been stored by another writer).
    AlreadyExists(Box<Account>),
}

/// What a conditional update of an account found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountUpdate {
    Updated,
    /// No account with that id.
    Missing,
    /// The stored account is at another version: someone changed it first.
    Stale {
        current: u64,
    },
}

/// The ledger table: profiles for the processor and the notifier, pages for the digest and
/// the history API, conditional writes for ingest.
pub trait Ledger: Send + Sync {
    /// Shaped like BatchGetItem: at most 100 account ids a call.
    fn batch_get_accounts(
        &self,
        account_ids: &[String],
    ) -> impl Future<Output = Result<AccountBatch, PortError>> + Send;

    /// Shaped like a Query of the sparse `accounts-by-zone` index (keys only): the accounts
    /// whose statement is due in `zone` (an IANA name, as `Account::statement_zone` writes
    /// it), pages of at most `limit` ids, resumed after the `next` of the previous page. The
    /// index is eventually consistent: the caller reads each profile again before acting.
    fn accounts_in_zone(
        &self,
        zone: &str,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<AccountIdPage, PortError>> + Send;

    /// Shaped like a Query on the account's partition, sort key range on booked_at.
    fn query_transactions(
        &self,
        query: &TransactionQuery<'_>,
    ) -> impl Future<Output = Result<TransactionPage, PortError>> + Send;

    /// Stores the transaction unless its transaction_id is taken for that account.
    fn put_transaction(
        &self,
        transaction: &crate::domain::Transaction,
        fingerprint: &str,
    ) -> impl Future<Output = Result<TransactionWrite, PortError>> + Send;

    /// Stores the account unless one with that id exists.
    fn put_account(&self, account: &Account) -> impl Future<Output = Result<AccountWrite, PortError>> + Send;

    /// One account, read strongly: a write that returned is seen. None: no such account
    /// (or its item does not decode).
    fn get_account(&self, account_id: &str) -> impl Future<Output = Result<Option<Account>, PortError>> + Send;

    /// Replaces the stored account with `account` only while the stored one is at
    /// `expected_version` (an item without `version` is at 1): of two updates from the same
    /// version, one wins and the other finds it `Stale`.
    fn update_account(
        &self,
        account: &Account,
        expected_version: u64,
    ) -> impl Future<Output = Result<AccountUpdate, PortError>> + Send;
}

pub const MAX_ACCOUNTS_PER_BATCH_GET: usize = 100;

/// What a conditional put found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Written,
    /// A record with that key was already there: nothing was changed.
    AlreadyPresent,
}

/// The audit trail: one record per event_id, never overwritten.
pub trait AuditLog: Send + Sync {
    fn put_if_absent(
        &self,
        record: &crate::domain::audit::AuditRecord,
    ) -> impl Future<Output = Result<PutOutcome, PortError>> + Send;
}

/// A Query of one account's notification history, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationQuery<'a> {
    pub account_id: &'a str,
    /// At most this many notifications on the page.
    pub limit: u32,
    /// The `next` of the previous page.
    pub after: Option<&'a crate::domain::HistoryPosition>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotificationPage {
    pub notifications: Vec<crate::domain::Notification>,
    /// Notification items that do not decode (skipped, counted).
    pub undecodable: u32,
    /// Where the next page starts; None: the history is done. A page may hold fewer than
    /// `limit` and still have a next one.
    pub next: Option<crate::domain::HistoryPosition>,
}

/// What recording a delivery report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryUpdate {
    /// The email's state moved forward from `from`.
    Moved { from: crate::domain::DeliveryState },
    /// The report is not forward of the email's state (a late or repeated one): unchanged.
    Unchanged { current: crate::domain::DeliveryState },
    /// No notification of that event holds an email with that message id (yet).
    UnknownEmail,
}

impl DeliveryUpdate {
    /// What `Notification::apply_delivery` said.
    pub fn from_applied(
        applied: Result<crate::domain::DeliveryState, Option<crate::domain::DeliveryState>>,
    ) -> DeliveryUpdate {
        match applied {
            Ok(from) => DeliveryUpdate::Moved { from },
            Err(Some(current)) => DeliveryUpdate::Unchanged { current },
            Err(None) => DeliveryUpdate::UnknownEmail,
        }
    }
}

/// The notifications of the audit trail: what the notifier decided for each event, per
/// account (domain::notification has the rules).
pub trait NotificationLog: Send + Sync {
    /// Moves the delivery state of the email `message_id` of the event's notification to
    /// `reported` when that is forward (`DeliveryState::advanced_by`), at `at`. Two reports
    /// racing for one email: the state ends at the furthest.
    fn record_delivery(
        &self,
        event_id: &str,
        message_id: &str,
        reported: crate::domain::DeliveryState,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<DeliveryUpdate, PortError>> + Send;

    /// Records the decision unless a `sent` one is there already (then nothing changes:
    /// `AlreadyPresent`). A `suppressed` decision is replaced.
    fn record_notification(
        &self,
        notification: &crate::domain::Notification,
    ) -> impl Future<Output = Result<PutOutcome, PortError>> + Send;

    /// Shaped like a Query of the audit table's `by-account` index, newest first.
    fn notifications(
        &self,
        query: &NotificationQuery<'_>,
    ) -> impl Future<Output = Result<NotificationPage, PortError>> + Send;
}

impl<T: NotificationLog> NotificationLog for std::sync::Arc<T> {
    fn record_delivery(
        &self,
        event_id: &str,
        message_id: &str,
        reported: crate::domain::DeliveryState,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<DeliveryUpdate, PortError>> + Send {
        (**self).record_delivery(event_id, message_id, reported, at)
    }

    fn record_notification(
        &self,
        notification: &crate::domain::Notification,
    ) -> impl Future<Output = Result<PutOutcome, PortError>> + Send {
        (**self).record_notification(notification)
    }

    fn notifications(
        &self,
        query: &NotificationQuery<'_>,
    ) -> impl Future<Output = Result<NotificationPage, PortError>> + Send {
        (**self).notifications(query)
    }
}

impl<T: Ledger> Ledger for std::sync::Arc<T> {
    fn batch_get_accounts(
        &self,
        account_ids: &[String],
    ) -> impl Future<Output = Result<AccountBatch, PortError>> + Send {
        (**self).batch_get_accounts(account_ids)
    }

    fn accounts_in_zone(
        &self,
        zone: &str,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<AccountIdPage, PortError>> + Send {
        (**self).accounts_in_zone(zone, after, limit)
    }

    fn query_transactions(
        &self,
        query: &TransactionQuery<'_>,
    ) -> impl Future<Output = Result<TransactionPage, PortError>> + Send {
        (**self).query_transactions(query)
    }

    fn put_transaction(
        &self,
        transaction: &crate::domain::Transaction,
        fingerprint: &str,
    ) -> impl Future<Output = Result<TransactionWrite, PortError>> + Send {
        (**self).put_transaction(transaction, fingerprint)
    }

    fn put_account(&self, account: &Account) -> impl Future<Output = Result<AccountWrite, PortError>> + Send {
        (**self).put_account(account)
    }

    fn update_account(
        &self,
        account: &Account,
        expected_version: u64,
    ) -> impl Future<Output = Result<AccountUpdate, PortError>> + Send {
        (**self).update_account(account, expected_version)
    }

    fn get_account(&self, account_id: &str) -> impl Future<Output = Result<Option<Account>, PortError>> + Send {
        (**self).get_account(account_id)
    }
}

impl<T: EventBus> EventBus for std::sync::Arc<T> {
    fn put_events(&self, entries: &[&BusEntry]) -> impl Future<Output = Result<Vec<EntryResult>, PortError>> + Send {
        (**self).put_events(entries)
    }
}

pub use crate::domain::idempotency::Claim;

/// Idempotency records keyed by event_id (Powertools' idempotency utility, for effects).
/// What each call finds and leaves is the table of `domain::idempotency`; every adapter
/// passes the same contract test (tests/common/idempotency_contract.rs).
pub trait Idempotency: Send + Sync {
    /// Takes the key unless another delivery holds it or it is completed; records that have
    /// expired (`in_progress_until` or `expires_at` before `now`) count as absent.
    fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        in_progress_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Claim, PortError>> + Send;
    /// Marks the key completed, kept until `expires_at`, with what the effect returned.
    fn complete(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        result: Option<&str>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Frees the key after a failed effect, so that a redelivery can try again. Only an
    /// in-progress record is deleted: a completed one stays until it expires.
    fn release(&self, key: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The sending rate or quota was exceeded: the delivery fails and is retried.
    #[error("mail service throttled: {0}")]
    Throttled(String),
    /// A 5xx, a timeout: the delivery fails and is retried.
    #[error("transient mail failure: {0}")]
    Transient(String),
    /// This message was refused (bad or suppressed address, bad content): sending it again
    /// gives the same answer, so it is counted and never retried.
    #[error("message rejected: {0}")]
    Rejected(String),
    /// The mail service refuses every message for now (account suspended or sending paused,
    /// sender identity not verified, configuration set missing): permanent until someone
    /// fixes it, so the delivery fails and SQS keeps it, then its DLQ, for a redrive.
    #[error("mail service refuses to send: {0}")]
    Blocked(String),
}

/// SES v2 SendEmail, or the embedded outbox.
pub trait Mailer: Send + Sync {
    /// The provider's message id.
    fn send(&self, email: &crate::domain::email::Email) -> impl Future<Output = Result<String, MailError>> + Send;
}

/// The ingest signing secrets: the current one, and during a rotation the previous one.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecrets {
    pub current: Vec<u8>,
    pub previous: Option<Vec<u8>>,
}

impl std::fmt::Debug for SigningSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecrets(<redacted>)")
    }
}

/// Secrets Manager (AWSCURRENT and AWSPREVIOUS), or a fixed secret for local runs.
pub trait Secrets: Send + Sync {
    fn signing_secrets(&self) -> impl Future<Output = Result<SigningSecrets, PortError>> + Send;
}

impl<T: AuditLog> AuditLog for std::sync::Arc<T> {
    fn put_if_absent(
        &self,
        record: &crate::domain::audit::AuditRecord,
    ) -> impl Future<Output = Result<PutOutcome, PortError>> + Send {
        (**self).put_if_absent(record)
    }
}

impl<T: Idempotency> Idempotency for std::sync::Arc<T> {
    fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        in_progress_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Claim, PortError>> + Send {
        (**self).claim(key, now, in_progress_until)
    }

    fn complete(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        result: Option<&str>,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).complete(key, expires_at, result)
    }

    fn release(&self, key: &str) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).release(key)
    }
}

/// An EventBridge archive, as DescribeArchive tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveInfo {
    pub name: String,
    pub arn: String,
    /// The bus whose events it keeps (where a replay sends them back).
    pub event_bus_arn: String,
    /// ENABLED, DISABLED, CREATING, UPDATING, CREATE_FAILED, UPDATE_FAILED.
    pub state: String,
    pub retention_days: Option<u32>,
    pub created_at: Option<DateTime<Utc>>,
    pub event_count: Option<i64>,
}

/// What StartReplay is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRequest {
    pub name: String,
    pub description: String,
    pub archive_arn: String,
    pub event_bus_arn: String,
    /// The rules to replay to; empty: every rule of the bus.
    pub rule_arns: Vec<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayState {
    Starting,
    Running,
    Cancelling,
    Completed,
    Cancelled,
    Failed,
    Other(String),
}

impl ReplayState {
    pub fn parse(text: &str) -> ReplayState {
        match text {
            "STARTING" => ReplayState::Starting,
            "RUNNING" => ReplayState::Running,
            "CANCELLING" => ReplayState::Cancelling,
            "COMPLETED" => ReplayState::Completed,
            "CANCELLED" => ReplayState::Cancelled,
            "FAILED" => ReplayState::Failed,
            other => ReplayState::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ReplayState::Starting => "STARTING",
            ReplayState::Running => "RUNNING",
            ReplayState::Cancelling => "CANCELLING",
            ReplayState::Completed => "COMPLETED",
            ReplayState::Cancelled => "CANCELLED",
            ReplayState::Failed => "FAILED",
            ReplayState::Other(text) => text,
        }
    }

    /// No further change will come.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ReplayState::Completed | ReplayState::Cancelled | ReplayState::Failed
        )
    }
}

/// A replay, as StartReplay or DescribeReplay tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayStatus {
    pub state: ReplayState,
    pub reason: Option<String>,
    /// How far into the window it has got (replays go minute by minute).
    pub last_replayed: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// An event bus's archives and their replays (EventBridge, for operators).
pub trait ArchiveReplays: Send + Sync {
    fn describe_archive(&self, name: &str) -> impl Future<Output = Result<ArchiveInfo, PortError>> + Send;
    fn start_replay(&self, request: &ReplayRequest) -> impl Future<Output = Result<ReplayStatus, PortError>> + Send;
    fn describe_replay(&self, name: &str) -> impl Future<Output = Result<ReplayStatus, PortError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One reading of the detail refuses what `refusal` refuses and delivers what
    /// `envelope` delivers, whatever the detail.
    #[test]
    fn the_accepted_detail_is_what_refusal_and_envelope_say() {
        let details = [
            r#"{"event_id":"e-1","n":[1,2.5,{"x":null}]}"#,
            r#"  {"a":1}"#,
            "{}",
            r#"{"big":1e400}"#,
            r#"{"a":1"#,
            r#"{"a":1} x"#,
            "[1]",
            "5",
            r#""{}""#,
            "",
            " ",
        ];
        for (source, detail_type) in [("txn-notify", "Large Transaction"), ("", "X"), ("s", "")] {
            for detail in details {
                let entry = BusEntry {
                    source: source.to_string().into(),
                    detail_type: detail_type.to_string().into(),
                    detail: detail.to_string(),
                    event_bus_name: "txn-notify".into(),
                    resources: vec![],
                    time: None,
                };
                let expected = match entry.refusal() {
                    Some(refused) => Err(refused),
                    None => Ok(entry.envelope("id", "1", "r", Utc::now())["detail"].clone()),
                };
                assert_eq!(
                    entry.accepted_detail(),
                    expected,
                    "{source:?} {detail_type:?} {detail:?}"
                );
            }
        }
    }

    /// The envelope's text is the envelope: written as `Value` writes it when the detail is
    /// already compact and sorted, and read back as the same event whatever its spelling.
    #[test]
    fn the_envelope_text_reads_as_the_envelope() {
        let time = "2026-12-07T10:15:30.123Z".parse().unwrap();
        for (source, detail_type, resources, detail) in [
            (
                "txn-notify",
                "Large Transaction",
                vec![],
                r#"{"a":1,"b":[true,null,"x"]}"#,
            ),
            (
                "aws.ses",
                "Email Delivered",
                vec!["arn:aws:ses:x".to_string(), "r2".into()],
                "{}",
            ),
            (
                "quote\"s",
                "tab\tand\u{1}ctl",
                vec!["é \\ ".to_string()],
                r#"{"z":{"y":"\u00e9\n"},"a":-0.5}"#,
            ),
            (
                "s",
                "t",
                vec![],
                "  { \"spaced\" : [ 1 , 2 ] , \"dup\":1, \"dup\":2 }  ",
            ),
        ] {
            let entry = BusEntry {
                source: source.to_string().into(),
                detail_type: detail_type.to_string().into(),
                detail: detail.to_string(),
                event_bus_name: "txn-notify".into(),
                resources,
                time: None,
            };
            let text = entry.envelope_text("id-1", "123456789012", "eu-west-1", time);
            let envelope = entry.envelope("id-1", "123456789012", "eu-west-1", time);
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&text).unwrap(),
                envelope,
                "{text}"
            );
            let rewritten: String = serde_json::from_str::<serde_json::Value>(detail).unwrap().to_string();
            if rewritten.as_str() == detail {
                assert_eq!(text, envelope.to_string());
            }
        }
        let timed = BusEntry {
            time: Some("2020-01-02T03:04:05Z".parse().unwrap()),
            ..BusEntry {
                source: "s".into(),
                detail_type: "t".into(),
                detail: "{}".into(),
                event_bus_name: "b".into(),
                resources: vec![],
                time: None,
            }
        };
        assert_eq!(
            timed.envelope_text("i", "a", "r", time),
            timed.envelope("i", "a", "r", time).to_string()
        );
    }
}
