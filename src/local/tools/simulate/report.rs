//! The simulation's report: what went in, what came out, and what is missing or doubled
//! against what the rule engine and the email policy say must happen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::{EventKey, Expected, Intake, MondayMorning, Store, expected_statements};
use crate::local::embedded::faults::Faults;
use crate::local::embedded::runtime::Tally;
use crate::ports::PortError;

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
    /// The store outside the outbox, at the end of the run.
    pub store: crate::local::embedded::store::StoreSize,
    /// The process's peak resident set, the report included (Linux).
    pub peak_rss_bytes: Option<u64>,
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

/// What the run left: the audit items and the outbox, read once, one row at a time, and
/// kept by the number of the expected event they are of (a bit and a byte each).
#[derive(Debug, Default)]
pub struct Observed {
    /// By expected event: whether it has an audit item.
    audited: Vec<bool>,
    /// By expected event: its emails in the outbox (up to 255).
    emailed: Vec<u8>,
    /// Emails of events nobody expected, a few of them named.
    unexpected_emails: u64,
    unexpected_examples: Vec<EventKey>,
    pub events_by_detail_type: BTreeMap<String, u64>,
    pub emails_sent: u64,
    /// Insert → email, for the emails of transactions as they were stored (a reversal's
    /// email comes from a later write).
    pub latencies_ms: Vec<i64>,
}

impl Observed {
    pub fn read(store: &Store, expected: &Expected) -> Result<Observed, PortError> {
        let mut observed = Observed {
            audited: vec![false; expected.events.len()],
            emailed: vec![0; expected.events.len()],
            ..Observed::default()
        };
        store.visit_audited(|event_id, detail_type| {
            if let Some(index) = expected.events.get(&EventKey::of(event_id)) {
                observed.audited[*index as usize] = true;
            }
            if let Some(count) = observed.events_by_detail_type.get_mut(detail_type) {
                *count += 1;
            } else {
                observed.events_by_detail_type.insert(detail_type.to_string(), 1);
            }
        })?;
        store.visit_outbox(|event_id, sent_ms| {
            observed.emails_sent += 1;
            let Some(key) = event_id.map(EventKey::of) else { return };
            match expected.events.get(&key) {
                Some(index) => {
                    let count = &mut observed.emailed[*index as usize];
                    *count = count.saturating_add(1);
                    if let Some(stored_ms) = expected.stored_ms(*index) {
                        observed.latencies_ms.push(sent_ms - stored_ms);
                    }
                }
                None => {
                    observed.unexpected_emails += 1;
                    if observed.unexpected_examples.len() < 10 {
                        observed.unexpected_examples.push(key);
                    }
                }
            }
        })?;
        Ok(observed)
    }
}

/// Compares the audit items, the outbox and the accounts marked undeliverable with the
/// expected events, emails and marks.
pub fn judge(expected: &Expected, observed: &Observed, marked_accounts: &BTreeSet<String>) -> Verdict {
    let mut verdict = Verdict::default();
    let emails_of = |key: &EventKey| {
        expected
            .events
            .get(key)
            .map_or(0, |index| u64::from(observed.emailed[*index as usize]))
    };
    for (key, index) in &expected.events {
        if !observed.audited[*index as usize] {
            verdict.lost += 1;
            verdict.examples.push(format!("no audit item for {key}"));
        }
    }
    let mut reached: BTreeSet<&str> = BTreeSet::new();
    for (key, account) in &expected.emails {
        let account_id = expected.account_of(*account);
        if emails_of(key) > 0 {
            reached.insert(account_id);
        } else if expected.undeliverable_accounts.contains(account_id) {
            verdict.suppressed_undeliverable += 1;
        } else {
            verdict.lost += 1;
            verdict.examples.push(format!("no email for {key}"));
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
    // Emails of an expected event the policy does not send, and emails of no expected event.
    for (key, index) in &expected.events {
        let count = u64::from(observed.emailed[*index as usize]);
        if count == 0 {
            continue;
        }
        if !expected.emails.contains_key(key) {
            verdict.duplicated += count;
            verdict.examples.push(format!("an email nobody expected for {key}"));
        } else if count > 1 {
            verdict.duplicated += count - 1;
            verdict.examples.push(format!("{count} emails for {key}"));
        }
    }
    verdict.duplicated += observed.unexpected_emails;
    for key in &observed.unexpected_examples {
        verdict.examples.push(format!("an email nobody expected for {key}"));
    }
    // The same examples whatever the maps' order.
    verdict.examples.sort();
    verdict.examples.truncate(10);
    verdict
}

/// The accounts whose `email_status` marks their address undeliverable.
pub async fn marked_accounts(store: &Store) -> Result<BTreeSet<String>, super::SimulateError> {
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

pub(super) async fn build(
    store: &Store,
    expected: &mut Expected,
    run: Run<'_>,
) -> Result<Report, super::SimulateError> {
    let Run {
        intake,
        tally,
        faults,
        monday,
        wall,
        dir,
    } = run;
    let statements_expected = expected_statements(store, &monday.window, expected).await?;
    let mut observed = Observed::read(store, expected)?;
    let marked = marked_accounts(store).await?;
    let verdict = judge(expected, &observed, &marked);
    let suppressed_undeliverable = verdict.suppressed_undeliverable;
    let (lost, duplicated, examples) = (verdict.lost, verdict.duplicated, verdict.examples);
    let states = store.delivery_state_counts()?;

    let count = |detail_type: &str| observed.events_by_detail_type.get(detail_type).copied().unwrap_or(0);
    let statements_published = count("Weekly Statement");
    let rejected_records = count("Record Rejected");
    let notifications_undeliverable = count("Notification Undeliverable");
    let audit_items = observed.events_by_detail_type.values().sum();

    let latencies = &mut observed.latencies_ms;
    latencies.sort_unstable();
    let insert_to_email = (!latencies.is_empty()).then(|| Latency {
        samples: latencies.len(),
        p50_ms: percentile(latencies, 50.0),
        p99_ms: percentile(latencies, 99.0),
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
        emails_sent: observed.emails_sent,
        events_by_detail_type: observed.events_by_detail_type,
        audit_items,
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
        store: store.size()?,
        peak_rss_bytes: crate::telemetry::peak_rss::read(),
        data_dir: dir.display().to_string(),
    })
}
