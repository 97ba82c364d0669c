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
use crate::domain::{Account, Transaction};
use crate::ports::{AccountUpdate, AccountWrite, Clock, Ledger, Secrets, TransactionQuery, TransactionWrite};

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

pub struct Ingest<L, S, C> {
    pub ledger: L,
    pub secrets: SecretCache<S>,
    pub clock: C,
    pub config: IngestConfig,
}

impl<L: Ledger, S: Secrets, C: Clock> Ingest<L, S, C> {
    pub fn new(ledger: L, secrets: S, clock: C, config: IngestConfig) -> Self {
        Ingest {
            secrets: SecretCache::new(secrets, config.secret_ttl),
            ledger,
            clock,
            config,
        }
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
        next.version = current.version + 1;
        next.updated_at = Some(self.clock.now());
        let write = retry_transient(&self.clock, &self.config.retry, || {
            self.ledger.update_account(&next, current.version)
        })
        .await
        .map_err(|e| Problem::unavailable(format!("the ledger did not take the write: {}", e.message)))?;
        match write {
            AccountUpdate::Updated => {
                tracing::info!(account_id, version = next.version, "account updated");
                Ok(next)
            }
            AccountUpdate::Stale { current } => Err(Problem::precondition_failed(current)),
            AccountUpdate::Missing => Err(Problem::unknown_account(account_id)),
        }
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
