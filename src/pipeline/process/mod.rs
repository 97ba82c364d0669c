//! The stream processor: a DynamoDB stream batch → typed events on the bus.
//!
//! | what happens to a record                 | result                                        |
//! |------------------------------------------|-----------------------------------------------|
//! | INSERT of a TXN item                     | Transaction Recorded + one event per finding  |
//! | INSERT of an ACCOUNT item                | Account Opened                                |
//! | MODIFY: status becomes `reversed`        | Transaction Recorded (change reversed), no alerts |
//! | any other MODIFY, any REMOVE (TTL too)   | ignored, counted                              |
//! | item of another `type`                   | ignored, counted                              |
//! | malformed record or item (permanent)     | Record Rejected, batch goes on                |
//! | profile lookup or PutEvents fails after retries (transient) | that record and every later one in batchItemFailures |
//!
//! Lambda checkpoints at the lowest reported sequence number, so nothing after the first
//! transient failure is acknowledged; an empty list means the whole batch is done.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::Account;
use crate::domain::event_id;
use crate::domain::events::{BusEvent, RecordRejected, SCHEMA_VERSION, Severity, TransactionChange};
use crate::ports::{BusEntry, Clock, EventBus, Ledger};
use crate::rules::Rules;

mod batch_reader;
#[cfg(test)]
mod record_fixture;
mod record_view;
mod stream_record;
mod transaction_events;

pub use stream_record::StreamBatch;
pub use transaction_events::events_for_transaction;

use crate::pipeline::profiles::load_profiles_until;
use crate::pipeline::publish::{EntryGroup, PublishLimits, entry_for, publish_until};
use crate::pipeline::retry::{Deadline, RetryPolicy};
use stream_record::{Incoming, Plan, Rejection, account_of, mask_personal_data};
use transaction_events::{account_opened, account_updated};

/// A raw record larger than this is left out of its Record Rejected event (keys stay).
pub const MAX_RAW_RECORD_BYTES: usize = 64 * 1024;

/// Latencies of records older than the stream keeps them (24 h) are not latencies of this
/// pipeline (a back-filled transaction, a wrong clock): they are left out of the metrics.
pub const MAX_MEASURED_LATENCY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    pub event_bus_name: String,
    pub retry: RetryPolicy,
    pub limits: PublishLimits,
    /// How long before the invocation's deadline the last call may start: the longest one
    /// call may take, plus the time to answer. The Lambda binary sets the SDK's operation
    /// timeout plus a second.
    pub deadline_reserve: Duration,
}

impl ProcessorConfig {
    pub fn new(event_bus_name: impl Into<String>) -> Self {
        ProcessorConfig {
            event_bus_name: event_bus_name.into(),
            retry: RetryPolicy::default(),
            limits: PublishLimits::default(),
            deadline_reserve: Duration::from_secs(1),
        }
    }
}

/// A latency worth recording: within [0, 24 h].
fn measured(ms: i64) -> Option<i64> {
    (0..=MAX_MEASURED_LATENCY_MS).contains(&ms).then_some(ms)
}

/// What one batch did, for metrics and reports. Only acknowledged records are counted as
/// processed, ignored or rejected; records reported for retry are counted once, as retried.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BatchStats {
    pub records_received: u64,
    /// Acknowledged records that produced events.
    pub records_processed: u64,
    pub records_ignored: u64,
    pub records_rejected: u64,
    /// Records reported in batchItemFailures.
    pub records_retried: u64,
    pub ignored_by_reason: BTreeMap<&'static str, u64>,
    pub rejected_by_reason: BTreeMap<&'static str, u64>,
    pub events_published: u64,
    pub events_by_detail_type: BTreeMap<&'static str, u64>,
    pub put_events_calls: u32,
    pub put_events_failed_entries: u64,
    pub profile_lookups: u32,
    pub profiles_not_found: u64,
    /// now − booked_at, for each acknowledged inserted transaction, in milliseconds.
    pub end_to_end_latency_ms: Vec<i64>,
    /// now − ApproximateCreationDateTime, for each acknowledged record that has it.
    pub stream_lag_ms: Vec<i64>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BatchOutcome {
    pub response: DynamoDbEventResponse,
    pub stats: BatchStats,
}

pub struct Processor<L, B, C> {
    pub ledger: L,
    pub bus: B,
    pub clock: C,
    pub rules: Arc<Rules>,
    pub config: ProcessorConfig,
}

/// The events of one record, and what the stats should say of the record.
struct RecordResult {
    account: Option<String>,
    events: Vec<BusEvent>,
    outcome: RecordOutcome,
    /// When the transaction this record inserted was booked (for EndToEndLatency).
    inserted_at: Option<DateTime<Utc>>,
}

enum RecordOutcome {
    Processed,
    Ignored(&'static str),
    Rejected(&'static str),
}

impl<L: Ledger, B: EventBus, C: Clock> Processor<L, B, C> {
    pub fn new(ledger: L, bus: B, clock: C, rules: Arc<Rules>, config: ProcessorConfig) -> Self {
        Processor {
            ledger,
            bus,
            clock,
            rules,
            config,
        }
    }

    /// The batch, each record read in place with its text kept as a slice: a malformed record
    /// is rejected on its own, its text in its Record Rejected.
    pub async fn process_batch(&self, batch: StreamBatch<'_>) -> BatchOutcome {
        self.process_batch_until(batch, None).await
    }

    /// `process_batch` within an invocation that must answer by `deadline` (Lambda's): no
    /// lookup or PutEvents call starts without `deadline_reserve` left, and the records not
    /// published by then are reported in batchItemFailures, as after any transient failure.
    pub async fn process_batch_until(&self, batch: StreamBatch<'_>, deadline: Option<DateTime<Utc>>) -> BatchOutcome {
        let deadline = match deadline {
            Some(at) => Deadline::at(at, self.config.deadline_reserve),
            None => Deadline::none(),
        };
        self.process(batch, &deadline).await
    }

    async fn process(&self, mut batch: StreamBatch<'_>, deadline: &Deadline) -> BatchOutcome {
        let now = self.clock.now();
        let mut stats = BatchStats {
            records_received: batch.len() as u64,
            ..BatchStats::default()
        };
        let plans: Vec<Plan> = batch.take_plans();
        if plans.iter().any(|plan| matches!(plan, Plan::Reject(_))) {
            batch.keep_raw_records();
        }
        let records = batch.records;

        let wanted = profiles_wanted(&plans);
        let load = load_profiles_until(&self.ledger, &self.clock, &self.config.retry, &wanted, deadline).await;
        stats.profile_lookups = load.lookups;
        if load.last_error.is_some() {
            stats.last_error = load.last_error;
        }
        let (profiles, unresolved) = (load.profiles, load.unread);
        // A profile we could not read (as opposed to one that does not exist) is transient.
        let profile_cut = plans.iter().position(|plan| match plan {
            Plan::Transaction { transaction, change } => {
                *change == TransactionChange::Inserted && unresolved.contains(&transaction.account_id)
            }
            _ => false,
        });
        stats.profiles_not_found = wanted
            .iter()
            .filter(|id| !profiles.contains_key(*id) && !unresolved.contains(*id))
            .count() as u64;

        let buildable = profile_cut.unwrap_or(records.len());
        // Record by record, its events serialized while they are in cache, then let go: only
        // the entries and what the figures need stay for the whole batch.
        let (results, groups): (Vec<RecordResult>, Vec<EntryGroup>) = records[..buildable]
            .iter()
            .zip(&plans)
            .map(|(incoming, plan)| {
                let mut result = self.record_result(incoming, plan, &profiles, now);
                let group = self.entry_group(&mut result, incoming, now);
                result.events = Vec::new();
                (result, group)
            })
            .unzip();
        drop(plans);

        let published = publish_until(
            &self.bus,
            &self.clock,
            &self.config.retry,
            &self.config.limits,
            &groups,
            deadline,
        )
        .await;
        stats.put_events_calls = published.calls;
        stats.put_events_failed_entries = published.failed_entries as u64;
        if published.last_error.is_some() {
            stats.last_error = published.last_error.clone();
        }
        let cut = match (profile_cut, published.first_unpublished) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(records.len()),
        };

        let mut detail_types = DetailTypeCount::default();
        for ((result, group), incoming) in results.iter().zip(&groups).zip(&records).take(cut) {
            match result.outcome {
                RecordOutcome::Processed => stats.records_processed += 1,
                RecordOutcome::Ignored(reason) => {
                    stats.records_ignored += 1;
                    *stats.ignored_by_reason.entry(reason).or_default() += 1;
                }
                RecordOutcome::Rejected(code) => {
                    stats.records_rejected += 1;
                    *stats.rejected_by_reason.entry(code).or_default() += 1;
                }
            }
            for entry in &group.entries {
                stats.events_published += 1;
                detail_types.count(entry);
            }
            if let Some(lag) = incoming
                .approximate_creation()
                .and_then(|created| measured((now - created).num_milliseconds()))
            {
                stats.stream_lag_ms.push(lag);
            }
            if let Some(latency) = result
                .inserted_at
                .and_then(|booked_at| measured((now - booked_at).num_milliseconds()))
            {
                stats.end_to_end_latency_ms.push(latency);
            }
        }

        detail_types.add_to(&mut stats.events_by_detail_type);
        if cut < records.len() {
            tracing::error!(
                first_failed_sequence_number = records[cut].sequence_number().as_deref().unwrap_or("-"),
                records_retried = records.len() - cut,
                profile_lookup_failed = profile_cut.is_some_and(|p| p <= cut),
                error = stats.last_error.as_deref().unwrap_or("-"),
                "batch partially failed: reporting the first failed record and every later one"
            );
        }
        let mut response = DynamoDbEventResponse::default();
        for incoming in &records[cut..] {
            stats.records_retried += 1;
            // A record without a sequence number cannot be named; Lambda still redelivers it,
            // since it checkpoints at the lowest failure reported before it.
            if let Some(sequence_number) = incoming.sequence_number() {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence_number);
                response.batch_item_failures.push(failure);
            }
        }
        BatchOutcome { response, stats }
    }

    fn record_result(
        &self,
        incoming: &Incoming<'_>,
        plan: &Plan,
        profiles: &HashMap<String, Account>,
        now: DateTime<Utc>,
    ) -> RecordResult {
        match plan {
            Plan::Ignore(reason) => RecordResult {
                account: None,
                events: Vec::new(),
                outcome: RecordOutcome::Ignored(reason.as_str()),
                inserted_at: None,
            },
            Plan::Reject(rejection) => self.rejected(incoming, rejection, now),
            Plan::AccountOpened(account) => RecordResult {
                account: Some(account.account_id.clone()),
                events: vec![account_opened(account)],
                outcome: RecordOutcome::Processed,
                inserted_at: None,
            },
            Plan::AccountUpdated {
                account,
                changed,
                event_id,
            } => RecordResult {
                account: Some(account.account_id.clone()),
                events: vec![account_updated(
                    account,
                    changed,
                    event_id,
                    incoming.approximate_creation().unwrap_or(now),
                )],
                outcome: RecordOutcome::Processed,
                inserted_at: None,
            },
            Plan::Transaction { transaction, change } => {
                let occurred_at = match change {
                    TransactionChange::Inserted => transaction.booked_at,
                    TransactionChange::Reversed => incoming.approximate_creation().unwrap_or(now),
                };
                RecordResult {
                    account: Some(transaction.account_id.clone()),
                    events: events_for_transaction(
                        &self.rules,
                        transaction,
                        *change,
                        occurred_at,
                        profiles.get(&transaction.account_id),
                        now,
                    ),
                    outcome: RecordOutcome::Processed,
                    inserted_at: (*change == TransactionChange::Inserted).then_some(transaction.booked_at),
                }
            }
        }
    }

    fn rejected(&self, incoming: &Incoming<'_>, rejection: &Rejection, now: DateTime<Utc>) -> RecordResult {
        let mut raw_record = incoming.raw_json();
        mask_personal_data(&mut raw_record);
        let too_large = serde_json::to_vec(&raw_record).map_or(true, |bytes| bytes.len() > MAX_RAW_RECORD_BYTES);
        let sequence_number = incoming.sequence_number();
        let stream_event_id = incoming.stream_event_id();
        let record = incoming.record.as_ref().ok();
        let event = RecordRejected {
            schema_version: SCHEMA_VERSION,
            event_id: event_id::for_rejected_record(
                stream_event_id.as_deref().unwrap_or(""),
                sequence_number.as_deref().unwrap_or(""),
            ),
            account_id: account_of(incoming),
            occurred_at: incoming.approximate_creation().unwrap_or(now),
            severity: Severity::Warning,
            reason_code: rejection.code,
            reason: rejection.reason.clone(),
            sequence_number,
            stream_event_id,
            event_name: record.map(|r| r.event_name.as_str().to_string()),
            event_source_arn: record.and_then(|r| r.event_source_arn.as_ref().map(|arn| arn.as_str().to_string())),
            raw_record: if too_large { serde_json::Value::Null } else { raw_record },
            raw_record_truncated: too_large,
        };
        // The reason names fields, never their values; the raw record stays off the logs.
        tracing::warn!(
            reason_code = rejection.code,
            reason = %rejection.reason,
            sequence_number = event.sequence_number.as_deref().unwrap_or("-"),
            event_id = %event.event_id,
            "record rejected"
        );
        RecordResult {
            account: event.account_id.clone(),
            events: vec![BusEvent::RecordRejected(event)],
            outcome: RecordOutcome::Rejected(rejection.code),
            inserted_at: None,
        }
    }

    /// Serializes a record's events. An event too large for PutEvents can never be sent:
    /// the record is rejected instead (without its raw record, which is larger still), and
    /// counted as rejected.
    fn entry_group(&self, result: &mut RecordResult, incoming: &Incoming<'_>, now: DateTime<Utc>) -> EntryGroup {
        let entries: Vec<BusEntry> = result
            .events
            .iter()
            .map(|e| entry_for(e, &self.config.event_bus_name))
            .collect();
        let largest = entries.iter().map(BusEntry::size).max().unwrap_or(0);
        if largest <= self.config.limits.max_request_bytes {
            return EntryGroup {
                account: result.account.clone(),
                entries,
            };
        }
        let rejection = Rejection {
            code: "event_too_large",
            reason: format!(
                "an event of this record is {largest} bytes, over the PutEvents limit of {}",
                self.config.limits.max_request_bytes
            ),
        };
        let mut rejected = self.rejected(incoming, &rejection, now);
        if let Some(BusEvent::RecordRejected(event)) = rejected.events.first_mut() {
            event.raw_record = serde_json::Value::Null;
            event.raw_record_truncated = true;
            // The record's images went once it was planned: a record whose keys do not name
            // its account gets the one the plan read from its NewImage, as `account_of` would.
            if event.account_id.is_none() {
                event.account_id = result.account.clone();
                rejected.account = result.account.clone();
            }
        }
        *result = rejected;
        EntryGroup {
            account: result.account.clone(),
            entries: result
                .events
                .iter()
                .map(|e| entry_for(e, &self.config.event_bus_name))
                .collect(),
        }
    }
}

/// Events counted by detail type. Entries name theirs by `DetailType::as_str`, a handful of
/// constants: each is counted by its address, without comparing or parsing its text.
#[derive(Default)]
struct DetailTypeCount {
    counts: Vec<(&'static str, u64)>,
}

impl DetailTypeCount {
    fn count(&mut self, entry: &BusEntry) {
        let name: &'static str = match &entry.detail_type {
            std::borrow::Cow::Borrowed(name) => name,
            std::borrow::Cow::Owned(text) => crate::domain::DetailType::parse(text).map_or("unknown", |d| d.as_str()),
        };
        match self.counts.iter_mut().find(|(counted, _)| std::ptr::eq(*counted, name)) {
            Some((_, count)) => *count += 1,
            None => self.counts.push((name, 1)),
        }
    }

    /// Merged by text: two copies of one constant count as one type.
    fn add_to(self, by_type: &mut BTreeMap<&'static str, u64>) {
        for (name, count) in self.counts {
            *by_type.entry(name).or_default() += count;
        }
    }
}

/// Accounts whose profile the rules may need: those of inserted transactions, once each.
fn profiles_wanted(plans: &[Plan]) -> Vec<String> {
    let mut seen = HashSet::new();
    plans
        .iter()
        .filter_map(|plan| match plan {
            Plan::Transaction {
                transaction,
                change: TransactionChange::Inserted,
            } => Some(transaction.account_id.as_str()),
            _ => None,
        })
        .filter(|id| seen.insert(*id))
        .map(str::to_string)
        .collect()
}
