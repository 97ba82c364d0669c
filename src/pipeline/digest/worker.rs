//! A worker: one DigestQueue page → the statements of its accounts on the bus.
//!
//! | what happens | result |
//! |---|---|
//! | an account had transactions that week | one Weekly Statement, published |
//! | an account had none | no event |
//! | the account is closed, or its holder unsubscribed, or it is gone (the index lags the table by a moment) | no event, its week is not read; counted `accounts_not_due` |
//! | a profile or a Query page keeps failing, or its statement cannot be published | the page fails: SQS delivers it again (then to the DLQ); the statements already published go out again with the same event_ids, which consumers skip |
//! | the message is redelivered, or queued twice by a retried run | the same statements, the same event_ids |

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::Serialize;

use super::page::DigestPage;
use super::statement::{StatementLimits, StatementReader, Week, WeekRead};
use crate::domain::AccountStatus;
use crate::domain::events::BusEvent;
use crate::pipeline::consumer::PayloadError;
use crate::pipeline::profiles::load_profiles;
use crate::pipeline::publish::{EntryGroup, PublishLimits, entry_for, publish};
use crate::pipeline::retry::RetryPolicy;
use crate::ports::{Clock, EventBus, Ledger};
use crate::rules::Rules;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub event_bus_name: String,
    pub statement: StatementLimits,
    pub retry: RetryPolicy,
    pub limits: PublishLimits,
}

impl WorkerConfig {
    pub fn new(event_bus_name: impl Into<String>) -> Self {
        WorkerConfig {
            event_bus_name: event_bus_name.into(),
            statement: StatementLimits::default(),
            retry: RetryPolicy::default(),
            limits: PublishLimits::default(),
        }
    }
}

/// What one page came to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PageReport {
    /// Profiles read (the page's accounts that were found).
    pub accounts_read: u64,
    pub statements_published: u64,
    pub accounts_without_transactions: u64,
    /// Closed, unsubscribed or gone: no statement, no reads of their week.
    pub accounts_not_due: u64,
    pub transactions_read: u64,
    pub transactions_undecodable: u64,
    /// Accounts whose statement could not be built or published: the page must come again.
    pub accounts_failed: Vec<String>,
    pub put_events_calls: u32,
    pub last_error: Option<String>,
}

impl PageReport {
    pub fn complete(&self) -> bool {
        self.accounts_failed.is_empty()
    }

    pub fn add(&mut self, other: &PageReport) {
        self.accounts_read += other.accounts_read;
        self.statements_published += other.statements_published;
        self.accounts_without_transactions += other.accounts_without_transactions;
        self.accounts_not_due += other.accounts_not_due;
        self.transactions_read += other.transactions_read;
        self.transactions_undecodable += other.transactions_undecodable;
        self.accounts_failed.extend(other.accounts_failed.iter().cloned());
        self.put_events_calls += other.put_events_calls;
        if other.last_error.is_some() {
            self.last_error.clone_from(&other.last_error);
        }
    }
}

pub struct DigestWorker<L, B, C> {
    pub ledger: L,
    pub bus: B,
    pub clock: C,
    pub rules: Arc<Rules>,
    pub config: WorkerConfig,
}

impl<L: Ledger, B: EventBus, C: Clock> DigestWorker<L, B, C> {
    pub fn new(ledger: L, bus: B, clock: C, rules: Arc<Rules>, config: WorkerConfig) -> Self {
        DigestWorker {
            ledger,
            bus,
            clock,
            rules,
            config,
        }
    }

    /// The statements of one page's accounts for its week.
    pub async fn work(&self, page: &DigestPage, week: &Week) -> PageReport {
        let mut report = PageReport::default();
        let mut ids = page.account_ids.clone();
        ids.sort();
        ids.dedup();
        let load = load_profiles(&self.ledger, &self.clock, &self.config.retry, &ids).await;
        if !load.unread.is_empty() {
            report.accounts_failed.extend(load.unread.iter().cloned());
            report.last_error.clone_from(&load.last_error);
        }
        let mut groups = Vec::new();
        let mut read = WeekRead::default();
        let reader = StatementReader {
            ledger: &self.ledger,
            clock: &self.clock,
            retry: &self.config.retry,
            rules: &self.rules,
            limits: self.config.statement,
        };
        for id in ids.iter().filter(|id| !load.unread.contains(*id)) {
            let Some(account) = load.profiles.get(id) else {
                report.accounts_not_due += 1;
                continue;
            };
            report.accounts_read += 1;
            if account.status == AccountStatus::Closed || !account.preferences.statement_enabled {
                report.accounts_not_due += 1;
                continue;
            }
            let statement = reader.statement_of(account, week, &mut read).await;
            match statement {
                Ok(Some(statement)) => groups.push(EntryGroup {
                    account: Some(account.account_id.clone()),
                    entries: vec![entry_for(
                        &BusEvent::WeeklyStatement(statement),
                        &self.config.event_bus_name,
                    )],
                }),
                Ok(None) => report.accounts_without_transactions += 1,
                Err(error) => {
                    tracing::warn!(account_id = %account.account_id, error = %error, "could not read the account's week");
                    report.accounts_failed.push(account.account_id.clone());
                    report.last_error = Some(error.to_string());
                }
            }
        }
        report.transactions_read = read.transactions;
        report.transactions_undecodable = read.undecodable;
        let outcome = publish(&self.bus, &self.clock, &self.config.retry, &self.config.limits, &groups).await;
        report.put_events_calls = outcome.calls;
        let published = outcome.first_unpublished.unwrap_or(groups.len());
        report.statements_published = published as u64;
        for group in &groups[published..] {
            report.accounts_failed.extend(group.account.clone());
        }
        if outcome.last_error.is_some() && published < groups.len() {
            report.last_error = outcome.last_error;
        }
        report
    }
}

/// What a worker invocation (an SQS batch of pages) came to.
#[derive(Debug, Clone, Default)]
pub struct WorkerBatch {
    pub response: SqsBatchResponse,
    pub messages: u64,
    /// Messages that are not pages: reported failed, so that they end in the DLQ.
    pub malformed: u64,
    /// Pages reported failed for SQS to deliver again.
    pub retried: u64,
    pub totals: PageReport,
}

impl<L: Ledger, B: EventBus, C: Clock> DigestWorker<L, B, C> {
    /// An SQS batch of DigestQueue messages: each page on its own, a failed one listed in
    /// `batchItemFailures`. Err: the payload is not an SQS batch at all.
    pub async fn handle_batch(&self, payload: serde_json::Value) -> Result<WorkerBatch, PayloadError> {
        if payload.get("Records").is_none() {
            return Err(PayloadError::NotAnSqsBatch("no Records".into()));
        }
        let event: SqsEvent =
            serde_json::from_value(payload).map_err(|e| PayloadError::NotAnSqsBatch(e.to_string()))?;
        let mut batch = WorkerBatch::default();
        for record in event.records {
            batch.messages += 1;
            let message_id = record.message_id.unwrap_or_default();
            let parsed = match record.body.as_deref() {
                None => Err("the message has no body".to_string()),
                Some(body) => DigestPage::parse(body).map_err(|e| e.to_string()),
            };
            let failed = match parsed {
                Err(reason) => {
                    tracing::error!(message_id = %message_id, reason = %reason, "not a digest page: it goes to the DLQ");
                    batch.malformed += 1;
                    true
                }
                Ok((page, week)) => {
                    let report = self.work(&page, &week).await;
                    batch.totals.add(&report);
                    if !report.complete() {
                        tracing::warn!(
                            message_id = %message_id,
                            zone = %page.zone,
                            failed = report.accounts_failed.len(),
                            error = report.last_error.as_deref().unwrap_or_default(),
                            "page incomplete: SQS delivers it again"
                        );
                        batch.retried += 1;
                    }
                    !report.complete()
                }
            };
            if failed {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message_id;
                batch.response.batch_item_failures.push(failure);
            }
        }
        Ok(batch)
    }
}
