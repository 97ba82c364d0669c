//! Ingest: the HTTP API that lets transactions and accounts in, safely. The routing in
//! `routes` takes and gives `http` types, so the ingest Lambda (API Gateway HTTP API v2,
//! through `lambda::apigw`) and the embedded server share it.
//!
//! | request | status |
//! |---|---|
//! | created | 201 |
//! | the same id with the same body again (a retry) | 200, `"status": "duplicate"`; nothing is written |
//! | the same id with another body | 409 |
//! | not signed, badly signed, or signed more than 300 s away | 401 |
//! | account unknown | 404 |
//! | body over 64 KiB | 413 |
//! | Content-Type not application/json | 415 |
//! | not JSON, unknown fields, bad values | 400 with every field error |
//! | the ledger or the secret store keeps failing | 503 with Retry-After; safe to retry |
//!
//! A transaction_id is stored once per account even when a retry carries another
//! booked_at: a uniqueness marker holds the request's fingerprint (SHA-256 of its canonical
//! JSON), so a retry is told from a conflicting reuse of the id.

pub mod auth;
pub mod body;
pub(crate) mod json_body;
pub(crate) mod problem;
pub mod routes;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::transaction::{Channel, TransactionKind, TransactionStatus};
use crate::domain::unsubscribe::{STATEMENT_PURPOSE, TokenError};
use crate::domain::{Account, HistoryPosition, Notification, NotificationEmail, Transaction};
use crate::ports::{
    AccountUpdate, AccountWrite, Clock, Ledger, NotificationLog, NotificationQuery, Secrets, TransactionQuery,
    TransactionWrite,
};

use super::profiles::load_profiles;
use super::retry::{RetryPolicy, retry_transient};
use auth::SecretCache;
use body::Object;
use json_body::JsonBody;
use problem::{FieldError, Problem};

/// The largest body the API takes (schemas/openapi.yaml: "over 64 KiB" is 413). The one
/// limit of every path in: the Lambda function, `dev`, `invoke ingest`.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub max_body_bytes: usize,
    pub secret_ttl: Duration,
    pub retry: RetryPolicy,
    pub default_page_size: u32,
    pub max_page_size: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_body_bytes: MAX_BODY_BYTES,
            secret_ttl: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            default_page_size: 50,
            max_page_size: 100,
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    Created(Value),
    Duplicate(Value),
}

/// SHA-256 of the request's canonical JSON (keys sorted, numbers as parsed), in hex.
pub fn fingerprint(parts: &Value) -> String {
    let canonical = serde_json::to_string(parts).expect("JSON values always serialize");
    hex::encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
}

pub struct Ingest<L, N, S, C> {
    pub ledger: L,
    /// The audit trail's notifications, for the history API.
    pub notifications: N,
    pub secrets: SecretCache<S>,
    pub clock: C,
    pub config: IngestConfig,
}

/// What an unsubscribe request did, for the page it answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsubscribed {
    /// GET: the page asks, nothing changes.
    Confirm,
    /// POST: statements are now off.
    Done,
    /// They were off already (GET or POST).
    Already,
}

impl Unsubscribed {
    pub fn as_str(self) -> &'static str {
        match self {
            Unsubscribed::Confirm => "confirm",
            Unsubscribed::Done => "done",
            Unsubscribed::Already => "already",
        }
    }
}

/// An account's notification history, one page.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationList {
    pub account_id: String,
    pub notifications: Vec<NotificationView>,
    pub next_cursor: Option<String>,
}

/// One notification as the API shows it: the decision, and for a sent one the email to the
/// account's address (`message_id`, `delivery_state`), then every email it sent.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationView {
    pub event_id: String,
    pub detail_type: String,
    #[serde(serialize_with = "crate::domain::time::rfc3339_utc")]
    pub occurred_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    pub decision: crate::domain::Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_state: Option<crate::domain::DeliveryState>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_time")]
    pub delivery_state_at: Option<DateTime<Utc>>,
    pub emails: Vec<NotificationEmail>,
    #[serde(serialize_with = "crate::domain::time::rfc3339_utc")]
    pub decided_at: DateTime<Utc>,
}

fn optional_time<S: serde::Serializer>(time: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => crate::domain::time::rfc3339_utc(time, serializer),
        None => serializer.serialize_none(),
    }
}

impl From<Notification> for NotificationView {
    fn from(notification: Notification) -> Self {
        let primary = notification.primary_email().cloned();
        NotificationView {
            event_id: notification.event_id,
            detail_type: notification.detail_type,
            occurred_at: notification.occurred_at,
            transaction_id: notification.transaction_id,
            decision: notification.decision,
            reason: notification.reason,
            message_id: primary.as_ref().and_then(|e| e.message_id.clone()),
            delivery_state: primary.as_ref().map(|e| e.delivery_state),
            delivery_state_at: primary.as_ref().map(|e| e.delivery_state_at),
            emails: notification.emails,
            decided_at: notification.decided_at,
        }
    }
}

impl<L: Ledger, N: NotificationLog, S: Secrets, C: Clock> Ingest<L, N, S, C> {
    pub fn new(ledger: L, notifications: N, secrets: S, clock: C, config: IngestConfig) -> Self {
        Ingest {
            secrets: SecretCache::new(secrets, config.secret_ttl),
            ledger,
            notifications,
            clock,
            config,
        }
    }

    /// GET /v1/accounts/{id}/notifications: newest first, one page.
    pub async fn list_notifications(
        &self,
        account_id: &str,
        limit: u32,
        after: Option<&HistoryPosition>,
    ) -> Result<NotificationList, Problem> {
        if self.account(account_id).await?.is_none() {
            return Err(Problem::unknown_account(account_id));
        }
        let query = NotificationQuery {
            account_id,
            limit,
            after,
        };
        let page = retry_transient(&self.clock, &self.config.retry, || {
            self.notifications.notifications(&query)
        })
        .await
        .map_err(|e| Problem::unavailable(format!("the audit trail could not be read: {}", e.message)))?;
        if page.undecodable > 0 {
            tracing::warn!(
                account_id,
                undecodable = page.undecodable,
                "notifications that do not decode were skipped"
            );
        }
        Ok(NotificationList {
            account_id: account_id.to_string(),
            notifications: page.notifications.into_iter().map(NotificationView::from).collect(),
            next_cursor: page.next.as_ref().map(routes::encode_history_cursor),
        })
    }

    /// GET or POST /v1/unsubscribe/{token}: the account the token names, and (POST) its
    /// weekly statement turned off. Idempotent; a GET changes nothing.
    pub async fn unsubscribe(&self, token: &str, apply: bool) -> Result<(Account, Unsubscribed), Problem> {
        let secrets = self.secrets.get(&self.clock).await.map_err(|error| {
            tracing::error!(error = %error, "the signing secret could not be read");
            Problem::unavailable("the signing secret could not be read")
        })?;
        let mut keys: Vec<&[u8]> = vec![&secrets.current];
        keys.extend(secrets.previous.as_deref());
        let account_id = crate::domain::unsubscribe::verify(&keys, token, STATEMENT_PURPOSE, self.clock.now())
            .map_err(|error| match error {
                TokenError::Expired(_) => {
                    Problem::expired_token(format!("{error}; the next statement carries a new link"))
                }
                TokenError::WrongPurpose(_) => {
                    Problem::invalid_token("this link does not unsubscribe from the weekly statement")
                }
                TokenError::Malformed | TokenError::Forged => Problem::invalid_token(error.to_string()),
            })?;
        // Two people clicking at once, or a PATCH in between: read again and retry.
        for _ in 0..5 {
            let current = retry_transient(&self.clock, &self.config.retry, || self.ledger.get_account(&account_id))
                .await
                .map_err(|e| Problem::unavailable(format!("the ledger could not be read: {}", e.message)))?
                .ok_or_else(|| Problem::unknown_account(&account_id))?;
            if !current.preferences.statement_enabled {
                return Ok((current, Unsubscribed::Already));
            }
            if !apply {
                return Ok((current, Unsubscribed::Confirm));
            }
            let mut next = current.clone();
            next.preferences.statement_enabled = false;
            let (next, write) = self.write_next_version(&current, next).await?;
            match write {
                AccountUpdate::Updated => {
                    tracing::info!(account_id = %account_id, version = next.version, "weekly statement unsubscribed");
                    return Ok((next, Unsubscribed::Done));
                }
                AccountUpdate::Missing => return Err(Problem::unknown_account(&account_id)),
                AccountUpdate::Stale { .. } => continue,
            }
        }
        Err(Problem::unavailable("the account keeps changing; try again"))
    }

    /// The account, None when it does not exist; Err(503) when the ledger keeps failing.
    async fn account(&self, account_id: &str) -> Result<Option<Account>, Problem> {
        let mut load = load_profiles(&self.ledger, &self.clock, &self.config.retry, &[account_id.to_string()]).await;
        if load.unread.contains(account_id) {
            return Err(Problem::unavailable(format!(
                "the ledger could not be read: {}",
                load.last_error.unwrap_or_default()
            )));
        }
        Ok(load.profiles.remove(account_id))
    }

    async fn store(&self, transaction: &Transaction, fingerprint: &str, response: Value) -> Result<Written, Problem> {
        let write = retry_transient(&self.clock, &self.config.retry, || {
            self.ledger.put_transaction(transaction, fingerprint)
        })
        .await
        .map_err(|e| Problem::unavailable(format!("the ledger did not take the write: {}", e.message)))?;
        match write {
            TransactionWrite::Stored => {
                tracing::info!(transaction_id = %transaction.transaction_id, account_id = %transaction.account_id, "transaction stored");
                Ok(Written::Created(response))
            }
            TransactionWrite::AlreadyStored { fingerprint: stored } if stored == fingerprint => {
                tracing::info!(transaction_id = %transaction.transaction_id, "duplicate request; nothing written");
                Ok(Written::Duplicate(response))
            }
            TransactionWrite::AlreadyStored { .. } => Err(Problem::conflict(format!(
                "transaction_id {} was already used for account {} with a different body",
                transaction.transaction_id, transaction.account_id
            ))),
        }
    }

    /// POST /v1/transactions
    pub async fn create_transaction(&self, request: &JsonBody) -> Result<Written, Problem> {
        let transaction = body::transaction(request, self.clock.now()).map_err(Problem::validation)?;
        if self.account(&transaction.account_id).await?.is_none() {
            return Err(Problem::unknown_account(&transaction.account_id));
        }
        let response = json!({
            "transaction_id": transaction.transaction_id,
            "account_id": transaction.account_id,
        });
        self.store(
            &transaction,
            &fingerprint(&Value::Object(request.object.clone())),
            response,
        )
        .await
    }

    /// POST /v1/accounts
    pub async fn create_account(&self, request: &Object) -> Result<Written, Problem> {
        let account = body::account(request, self.clock.now()).map_err(Problem::validation)?;
        let write = retry_transient(&self.clock, &self.config.retry, || self.ledger.put_account(&account))
            .await
            .map_err(|e| Problem::unavailable(format!("the ledger did not take the write: {}", e.message)))?;
        let response = json!({ "account_id": account.account_id });
        match write {
            AccountWrite::Created => {
                tracing::info!(account_id = %account.account_id, "account created");
                Ok(Written::Created(response))
            }
            AccountWrite::AlreadyExists(existing) if same_account(&existing, &account) => {
                Ok(Written::Duplicate(response))
            }
            AccountWrite::AlreadyExists(_) => Err(Problem::conflict(format!(
                "account {} already exists with other details",
                account.account_id
            ))),
        }
    }

    /// GET /v1/accounts/{id}: the account as stored.
    pub async fn get_account(&self, account_id: &str) -> Result<Account, Problem> {
        self.account(account_id)
            .await?
            .ok_or_else(|| Problem::unknown_account(account_id))
    }

    /// PATCH /v1/accounts/{id}: a JSON Merge Patch, against the version `If-Match` names.
    /// A patch that changes nothing writes nothing and keeps the version. A new `email`
    /// keeps the old one in `previous_email` and clears `email_status`.
    pub async fn patch_account(
        &self,
        account_id: &str,
        if_match: Option<&str>,
        patch: &Object,
    ) -> Result<Account, Problem> {
        let current = retry_transient(&self.clock, &self.config.retry, || self.ledger.get_account(account_id))
            .await
            .map_err(|e| Problem::unavailable(format!("the ledger could not be read: {}", e.message)))?
            .ok_or_else(|| Problem::unknown_account(account_id))?;
        let if_match = if_match.ok_or_else(Problem::precondition_required)?;
        if !etag_matches(if_match, current.version) {
            return Err(Problem::precondition_failed(current.version));
        }
        let mut next = body::patched(&current, patch).map_err(Problem::validation)?;
        if next == current {
            return Ok(current);
        }
        if next.email != current.email {
            next.previous_email = Some(current.email.clone());
            next.email_status = None;
        }
        let (next, write) = self.write_next_version(&current, next).await?;
        match write {
            AccountUpdate::Updated => {
                tracing::info!(account_id, version = next.version, "account updated");
                Ok(next)
            }
            AccountUpdate::Stale { current } => Err(Problem::precondition_failed(current)),
            AccountUpdate::Missing => Err(Problem::unknown_account(account_id)),
        }
    }

    /// Writes `next` as the version after `current`'s, on condition that `current` is still
    /// the stored version.
    async fn write_next_version(
        &self,
        current: &Account,
        mut next: Account,
    ) -> Result<(Account, AccountUpdate), Problem> {
        next.version = current.version + 1;
        next.updated_at = Some(self.clock.now());
        let write = retry_transient(&self.clock, &self.config.retry, || {
            self.ledger.update_account(&next, current.version)
        })
        .await
        .map_err(|e| Problem::unavailable(format!("the ledger did not take the write: {}", e.message)))?;
        Ok((next, write))
    }

    /// POST /v1/accounts/{id}/top-ups: stored as an approved top_up transaction, net of the fee.
    pub async fn top_up(&self, account_id: &str, request: &Object) -> Result<Written, Problem> {
        let top_up = body::top_up(request).map_err(Problem::validation)?;
        let Some(account) = self.account(account_id).await? else {
            return Err(Problem::unknown_account(account_id));
        };
        if top_up.amount.currency != account.currency {
            return Err(Problem::currency_mismatch(top_up.amount.currency, account.currency));
        }
        let gross = top_up.amount.amount_minor;
        let fee = top_up.fee_rate.fee_of(gross);
        let net = gross - fee;
        if net <= 0 {
            return Err(Problem::validation(vec![FieldError::new(
                "fee_rate",
                "the fee leaves nothing to credit",
            )]));
        }
        let transaction = Transaction {
            transaction_id: top_up.top_up_id.clone(),
            account_id: account_id.to_string(),
            kind: TransactionKind::TopUp,
            status: TransactionStatus::Approved,
            decline_reason: None,
            amount: crate::domain::Money::new(net, account.currency),
            balance_after_minor: None,
            channel: Channel::TopUp,
            merchant: None,
            card_last4: None,
            booked_at: self.clock.now(),
            metadata: crate::domain::metadata::Metadata::from_json(&json!({
                "top_up": {
                    "gross_amount_minor": gross,
                    "fee_minor": fee,
                    "fee_rate": top_up.fee_rate.to_string(),
                    "payment_method": top_up.payment_method,
                }
            })),
        };
        let response = json!({
            "transaction_id": transaction.transaction_id,
            "account_id": account_id,
            "gross_amount_minor": gross,
            "fee_minor": fee,
            "amount_minor": net,
            "currency": account.currency,
        });
        let parts = json!({ "account_id": account_id, "body": request });
        self.store(&transaction, &fingerprint(&parts), response).await
    }

    /// GET /v1/accounts/{id}/transactions: newest first, one page.
    pub async fn list_transactions(&self, account_id: &str, page: &PageRequest) -> Result<TransactionList, Problem> {
        if self.account(account_id).await?.is_none() {
            return Err(Problem::unknown_account(account_id));
        }
        let empty = || TransactionList {
            account_id: account_id.to_string(),
            transactions: Vec::new(),
            next_cursor: None,
        };
        if page.from >= page.to {
            return Ok(empty());
        }
        // The cursor is a position in the window's key range (newest first: the page holds
        // what sorts before it). One past the window's end starts at the end; one before its
        // start has nothing after it. DynamoDB refuses a start key outside the key condition.
        let (low, high) = crate::domain::keys::transaction_range(page.from, page.to);
        let after = match page.after.as_deref() {
            Some(position) if position <= low.as_str() => return Ok(empty()),
            Some(position) if position >= high.as_str() => None,
            other => other,
        };
        let query = TransactionQuery {
            account_id,
            from: page.from,
            to: page.to,
            newest_first: true,
            limit: page.limit,
            after,
        };
        let result = retry_transient(&self.clock, &self.config.retry, || {
            self.ledger.query_transactions(&query)
        })
        .await
        .map_err(|e| Problem::unavailable(format!("the ledger could not be read: {}", e.message)))?;
        Ok(TransactionList {
            account_id: account_id.to_string(),
            transactions: result.transactions,
            next_cursor: result.next.map(|sort_key| routes::encode_cursor(&sort_key)),
        })
    }
}

/// Two requests for one account agree when everything but the server's stamps is equal.
/// Whether `If-Match` (a list of entity tags, or `*`) names this version. Weak tags never
/// match: If-Match compares strongly (RFC 9110 §13.1.1).
fn etag_matches(if_match: &str, version: u64) -> bool {
    let wanted = routes::etag(version);
    if_match.trim() == "*" || if_match.split(',').any(|tag| tag.trim() == wanted)
}

fn same_account(existing: &Account, requested: &Account) -> bool {
    // What the server sets is not the request's to match.
    let mut comparable = requested.clone();
    comparable.created_at = existing.created_at;
    comparable.status = existing.status;
    comparable.version = existing.version;
    comparable.updated_at = existing.updated_at;
    comparable.email_status = existing.email_status.clone();
    comparable.previous_email = existing.previous_email.clone();
    *existing == comparable
}

#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub limit: u32,
    pub after: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TransactionList {
    pub account_id: String,
    pub transactions: Vec<Transaction>,
    pub next_cursor: Option<String>,
}
