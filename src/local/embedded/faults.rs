//! Fault injection for the embedded runtime: every port call fails transiently at a given
//! rate, per attempt, behind the same three attempts with backoff that the AWS SDK makes
//! (see `aws::clients`), so what reaches the use cases is what they would see in
//! production under that error rate. Faults strike before the call: a failed attempt has no
//! effect, as with throttling.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::audit::AuditRecord;
use crate::domain::email::Email;
use crate::ports::{
    AccountBatch, AccountIdPage, AccountWrite, AuditLog, BusEntry, Claim, Clock, EntryResult, EventBus, Idempotency,
    Ledger, MailError, Mailer, PortError, PutOutcome, TransactionPage, TransactionQuery, TransactionWrite,
};

/// The attempts the SDK makes (standard mode).
const ATTEMPTS: u32 = 3;

pub struct Faults {
    per_million: u32,
    rng: Mutex<fastrand::Rng>,
    injected: AtomicU64,
    surfaced: AtomicU64,
}

impl Faults {
    /// `rate` in [0, 1]: the share of attempts that fail.
    pub fn new(rate: f64, seed: u64) -> Arc<Faults> {
        Arc::new(Faults {
            per_million: (rate.clamp(0.0, 1.0) * 1_000_000.0).round() as u32,
            rng: Mutex::new(fastrand::Rng::with_seed(seed ^ 0x5eed_fa17)),
            injected: AtomicU64::new(0),
            surfaced: AtomicU64::new(0),
        })
    }

    /// Attempts that failed.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    /// Calls that failed on every attempt, so the use case saw the failure.
    pub fn surfaced(&self) -> u64 {
        self.surfaced.load(Ordering::SeqCst)
    }

    fn strikes(&self) -> bool {
        self.per_million > 0 && self.rng.lock().expect("faults lock").u32(..1_000_000) < self.per_million
    }

    /// Ok when an attempt gets through; the waits between attempts go to the clock.
    async fn attempt(&self, clock: &impl Clock, what: &str) -> Result<(), PortError> {
        for attempt in 1..=ATTEMPTS {
            if !self.strikes() {
                return Ok(());
            }
            self.injected.fetch_add(1, Ordering::SeqCst);
            if attempt < ATTEMPTS {
                clock.sleep(Duration::from_millis(50 << attempt)).await;
            }
        }
        self.surfaced.fetch_add(1, Ordering::SeqCst);
        Err(PortError::transient(format!(
            "{what}: injected fault (ThrottlingException)"
        )))
    }
}

/// A port adapter with faults in front of it.
pub struct Faulty<T, C> {
    pub inner: T,
    faults: Arc<Faults>,
    clock: C,
}

impl<T, C: Clock> Faulty<T, C> {
    pub fn new(inner: T, faults: Arc<Faults>, clock: C) -> Self {
        Faulty { inner, faults, clock }
    }
}

impl<T: Ledger, C: Clock> Ledger for Faulty<T, C> {
    async fn batch_get_accounts(&self, account_ids: &[String]) -> Result<AccountBatch, PortError> {
        self.faults.attempt(&self.clock, "BatchGetItem").await?;
        self.inner.batch_get_accounts(account_ids).await
    }

    async fn accounts_in_zone(&self, zone: &str, after: Option<&str>, limit: u32) -> Result<AccountIdPage, PortError> {
        self.faults.attempt(&self.clock, "Query").await?;
        self.inner.accounts_in_zone(zone, after, limit).await
    }

    async fn query_transactions(&self, query: &TransactionQuery<'_>) -> Result<TransactionPage, PortError> {
        self.faults.attempt(&self.clock, "Query").await?;
        self.inner.query_transactions(query).await
    }

    async fn put_transaction(
        &self,
        transaction: &crate::domain::Transaction,
        fingerprint: &str,
    ) -> Result<TransactionWrite, PortError> {
        self.faults.attempt(&self.clock, "TransactWriteItems").await?;
        self.inner.put_transaction(transaction, fingerprint).await
    }

    async fn put_account(&self, account: &crate::domain::Account) -> Result<AccountWrite, PortError> {
        self.faults.attempt(&self.clock, "PutItem").await?;
        self.inner.put_account(account).await
    }

    async fn get_account(&self, account_id: &str) -> Result<Option<crate::domain::Account>, PortError> {
        self.faults.attempt(&self.clock, "GetItem").await?;
        self.inner.get_account(account_id).await
    }

    async fn update_account(
        &self,
        account: &crate::domain::Account,
        expected_version: u64,
    ) -> Result<crate::ports::AccountUpdate, PortError> {
        self.faults.attempt(&self.clock, "PutItem").await?;
        self.inner.update_account(account, expected_version).await
    }
}

impl<T: EventBus, C: Clock> EventBus for Faulty<T, C> {
    async fn put_events(&self, entries: &[&BusEntry]) -> Result<Vec<EntryResult>, PortError> {
        self.faults.attempt(&self.clock, "PutEvents").await?;
        // Failed entries too: each entry of an accepted call may come back failed.
        let mut allowed = Vec::with_capacity(entries.len());
        let mut failed = Vec::with_capacity(entries.len());
        for entry in entries {
            if self.faults.strikes() {
                self.faults.injected.fetch_add(1, Ordering::SeqCst);
                failed.push(true);
            } else {
                allowed.push(*entry);
                failed.push(false);
            }
        }
        let mut accepted = self.inner.put_events(&allowed).await?.into_iter();
        Ok(failed
            .into_iter()
            .map(|failed| {
                if failed {
                    EntryResult::Failed {
                        error_code: "ThrottlingException".into(),
                        error_message: "injected fault".into(),
                    }
                } else {
                    accepted.next().expect("one result per entry sent")
                }
            })
            .collect())
    }
}

impl<T: crate::ports::WorkQueue, C: Clock> crate::ports::WorkQueue for Faulty<T, C> {
    async fn send_messages(&self, bodies: &[String]) -> Result<Vec<Result<(), PortError>>, PortError> {
        self.faults.attempt(&self.clock, "SendMessageBatch").await?;
        self.inner.send_messages(bodies).await
    }
}

impl<T: Mailer, C: Clock> Mailer for Faulty<T, C> {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        self.faults
            .attempt(&self.clock, "SendEmail")
            .await
            .map_err(|e| MailError::Throttled(e.message))?;
        self.inner.send(email).await
    }
}

impl<T: AuditLog, C: Clock> AuditLog for Faulty<T, C> {
    async fn put_if_absent(&self, record: &AuditRecord) -> Result<PutOutcome, PortError> {
        self.faults.attempt(&self.clock, "PutItem").await?;
        self.inner.put_if_absent(record).await
    }
}

impl<T: Idempotency, C: Clock> Idempotency for Faulty<T, C> {
    async fn claim(&self, key: &str, now: DateTime<Utc>, in_progress_until: DateTime<Utc>) -> Result<Claim, PortError> {
        self.faults.attempt(&self.clock, "PutItem").await?;
        self.inner.claim(key, now, in_progress_until).await
    }

    async fn complete(&self, key: &str, expires_at: DateTime<Utc>, result: Option<&str>) -> Result<(), PortError> {
        self.faults.attempt(&self.clock, "UpdateItem").await?;
        self.inner.complete(key, expires_at, result).await
    }

    async fn release(&self, key: &str) -> Result<(), PortError> {
        self.faults.attempt(&self.clock, "DeleteItem").await?;
        self.inner.release(key).await
    }
}

impl<T: crate::ports::NotificationLog, C: Clock> crate::ports::NotificationLog for Faulty<T, C> {
    async fn record_delivery(
        &self,
        event_id: &str,
        message_id: &str,
        reported: crate::domain::DeliveryState,
        at: DateTime<Utc>,
    ) -> Result<crate::ports::DeliveryUpdate, PortError> {
        self.faults.attempt(&self.clock, "UpdateItem").await?;
        self.inner.record_delivery(event_id, message_id, reported, at).await
    }

    async fn record_notification(&self, notification: &crate::domain::Notification) -> Result<PutOutcome, PortError> {
        self.faults.attempt(&self.clock, "PutItem").await?;
        self.inner.record_notification(notification).await
    }

    async fn notifications(
        &self,
        query: &crate::ports::NotificationQuery<'_>,
    ) -> Result<crate::ports::NotificationPage, PortError> {
        self.faults.attempt(&self.clock, "Query").await?;
        self.inner.notifications(query).await
    }
}
