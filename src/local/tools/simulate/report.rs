//! The simulation's report: what went in, what came out, and what is missing or doubled
//! against what the rule engine and the email policy say must happen.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{Expected, Intake, MondayMorning, Store, expected_effects, expected_statements};
use crate::local::embedded::faults::Faults;
use crate::local::embedded::runtime::Tally;
use crate::rules::Rules;

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub samples: usize,
    pub p50_ms: i64,
    pub p99_ms: i64,
    pub max_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub accounts: u64,
    pub transactions_in: u64,
    pub malformed_written: u64,
    pub events_by_detail_type: BTreeMap<String, u64>,
    pub emails_sent: u64,
    pub audit_items: u64,
    pub rejected_records: u64,
    /// Stream records reported for retry, and queue messages that failed a delivery.
    pub retries: u64,
    pub requests_retried: u64,
    pub dlq_messages: u64,
    pub stream_records_given_up: u64,
    pub lost: u64,
    pub duplicated: u64,
    /// A few of the lost or duplicated event ids, to look into.
    pub examples: Vec<String>,
    /// SES's feedback (the outbox as its mailbox simulator): emails that bounced or drew a
    /// complaint, the accounts whose address was marked undeliverable, the Notification
    /// Undeliverable events, and the emails not sent to an undeliverable address.
    pub bounces: u64,
    pub complaints: u64,
    pub addresses_marked_undeliverable: u64,
    pub notifications_undeliverable: u64,
    pub emails_suppressed_undeliverable: u64,
    /// The Monday morning: the planner's runs (the window's hours, first and last), the
    /// statements due, and the Weekly Statements audited.
    pub monday_from: Option<String>,
    pub monday_to: Option<String>,
    pub planner_runs: u64,
    pub planner_runs_failed: u64,
    pub statements_expected: u64,
    pub statements_published: u64,
    pub faults_injected: u64,
    pub faults_surfaced: u64,
    pub crashes: u64,
    pub processor_batches: u64,
    pub seconds: f64,
    pub transactions_per_second: f64,
    /// Transaction stored → its email in the outbox (the run's clock, waits included).
    pub insert_to_email: Option<Latency>,
    pub data_dir: String,
}

/// Lost and duplicated effects, against what must happen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub lost: u64,
    pub duplicated: u64,
    pub examples: Vec<String>,
    /// Expected emails of an undeliverable address that were not sent (not lost).
    pub suppressed_undeliverable: u64,
}

/// Compares the audit items, the outbox and the accounts marked undeliverable with the
/// expected events, emails and marks.
pub fn judge<'a>(
    expected: &Expected,
    audited_ids: impl IntoIterator<Item = &'a str>,
    outbox: &[crate::local::embedded::store::OutboxEntry],
    marked_accounts: &std::collections::BTreeSet<String>,
) -> Verdict {
    let mut verdict = Verdict::default();
    let audited_ids: std::collections::BTreeSet<&str> = audited_ids.into_iter().collect();
    for id in expected.events.keys() {
        if !audited_ids.contains(id.as_str()) {
            verdict.lost += 1;
            verdict.examples.push(format!("no audit item for {id}"));
        }
    }
    let mut emailed: BTreeMap<&str, u64> = BTreeMap::new();
    for entry in outbox {
        if let Some(id) = entry.event_id.as_deref() {
            *emailed.entry(id).or_default() += 1;
        }
    }
    let mut reached: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for (id, account_id) in &expected.emails {
        if emailed.contains_key(id.as_str()) {
            reached.insert(account_id);
        } else if expected.undeliverable_accounts.contains(account_id) {
            verdict.suppressed_undeliverable += 1;
        } else {
            verdict.lost += 1;
            verdict.examples.push(format!("no email for {id}"));
        }
    }
    // An address the simulator bounced or complained about, once an email reached it, is
    // marked; no other is.
    for account_id in expected
        .undeliverable_accounts
        .iter()
        .filter(|a| reached.contains(a.as_str()))
    {
        if !marked_accounts.contains(account_id) {
            verdict.lost += 1;
            verdict
                .examples
                .push(format!("the address of {account_id} was not marked undeliverable"));
        }
    }
    for account_id in marked_accounts {
        if !expected.undeliverable_accounts.contains(account_id) {
            verdict.lost += 1;
            verdict
                .examples
                .push(format!("the address of {account_id} was marked undeliverable"));
        }
    }
    for (id, count) in &emailed {
        if !expected.emails.contains_key(*id) {
            verdict.duplicated += count;
            verdict.examples.push(format!("an email nobody expected for {id}"));
        } else if *count > 1 {
            verdict.duplicated += count - 1;
            verdict.examples.push(format!("{count} emails for {id}"));
        }
    }
    verdict.examples.truncate(10);
    verdict
}

/// The accounts whose `email_status` marks their address undeliverable.
pub async fn marked_accounts(store: &Store) -> Result<std::collections::BTreeSet<String>, super::SimulateError> {
    Ok(store
        .accounts()?
        .into_iter()
        .filter(|a| a.email_status.is_some())
        .map(|a| a.account_id)
        .collect())
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What the run went through, for its report.
pub(super) struct Run<'a> {
    pub intake: &'a Intake,
    pub tally: &'a Tally,
    pub faults: &'a Faults,
    pub monday: &'a MondayMorning,
    pub wall: Duration,
    pub dir: &'a Path,
}

pub(super) async fn build(store: &Store, rules: &Arc<Rules>, run: Run<'_>) -> Result<Report, super::SimulateError> {
    let Run {
        intake,
        tally,
        faults,
        monday,
        wall,
        dir,
    } = run;
    let mut expected = expected_effects(store, rules).await?;
    let statements_expected = expected_statements(store, &monday.window, &mut expected).await?;
    let audited = store.audited_events()?;
    let outbox = store.outbox()?;
    let marked = marked_accounts(store).await?;
    let verdict = judge(&expected, audited.iter().map(|(id, _)| id.as_str()), &outbox, &marked);
    let suppressed_undeliverable = verdict.suppressed_undeliverable;
    let (lost, duplicated, examples) = (verdict.lost, verdict.duplicated, verdict.examples);
    let states = store.delivery_state_counts()?;

    let mut events_by_detail_type = BTreeMap::new();
    for (_, detail_type) in &audited {
        *events_by_detail_type.entry(detail_type.clone()).or_default() += 1;
    }
    let statements_published = events_by_detail_type.get("Weekly Statement").copied().unwrap_or(0);
    let rejected_records = events_by_detail_type.get("Record Rejected").copied().unwrap_or(0);
    let notifications_undeliverable = events_by_detail_type
        .get("Notification Undeliverable")
        .copied()
        .unwrap_or(0);

    // Insert → email, for the emails of transactions as they were stored (a reversal's
    // email comes from a later write).
    let mut latencies: Vec<i64> = outbox
        .iter()
        .filter_map(|entry| {
            let event = expected.events.get(entry.event_id.as_deref()?)?;
            if event.detail_type != "Transaction Recorded" || event.reversal {
                return None;
            }
            let inserted = intake.insert_ms.get(event.transaction_id.as_deref()?)?;
            Some(entry.sent_ms - inserted)
        })
        .collect();
    latencies.sort_unstable();
    let insert_to_email = (!latencies.is_empty()).then(|| Latency {
        samples: latencies.len(),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        max_ms: *latencies.last().expect("not empty"),
    });

    let dlq_messages = crate::template::Routes::builtin()
        .dead_letter_queues()
        .into_iter()
        .chain([crate::local::embedded::runtime::DIGEST_RUN_DLQ])
        .map(|q| store.queue_depth(q).map(|d| d.visible + d.in_flight))
        .sum::<Result<u64, _>>()?;
    let seconds = wall.as_secs_f64();
    Ok(Report {
        accounts: intake.accounts_in,
        transactions_in: intake.transactions_in,
        malformed_written: intake.malformed_written,
        events_by_detail_type,
        emails_sent: outbox.len() as u64,
        audit_items: audited.len() as u64,
        rejected_records,
        retries: tally.stream_retried + tally.messages_retried,
        requests_retried: intake.requests_retried,
        dlq_messages,
        stream_records_given_up: tally.stream_discarded,
        lost,
        duplicated,
        examples,
        bounces: states.get("bounced").copied().unwrap_or(0),
        complaints: states.get("complained").copied().unwrap_or(0),
        addresses_marked_undeliverable: marked.len() as u64,
        notifications_undeliverable,
        emails_suppressed_undeliverable: suppressed_undeliverable,
        monday_from: monday.window.first().map(crate::domain::time::format_rfc3339),
        monday_to: monday.window.last().map(crate::domain::time::format_rfc3339),
        planner_runs: monday.planner_runs,
        planner_runs_failed: monday.planner_runs_failed,
        statements_expected,
        statements_published,
        faults_injected: faults.injected(),
        faults_surfaced: faults.surfaced(),
        crashes: tally.crashes,
        processor_batches: tally.processor_batches,
        seconds,
        transactions_per_second: if seconds > 0.0 {
            intake.transactions_in as f64 / seconds
        } else {
            0.0
        },
        insert_to_email,
        data_dir: dir.display().to_string(),
    })
}
