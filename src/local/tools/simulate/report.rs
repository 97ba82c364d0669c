//! The simulation's report: what went in, what came out, and what is missing or doubled
//! against what the rule engine and the email policy say must happen.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::judge_file::AccountIndex;
use super::{EventKey, Expected, Intake, MondayMorning, SimulateError, Store, expected_statements};
use crate::local::embedded::faults::Faults;
use crate::local::embedded::runtime::Tally;

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

/// What the run left: the audit items and the outbox, read once, one row at a time, into
/// the judge's file ([`JudgeFile::observe`](super::judge_file::JudgeFile::observe)); only
/// the counts stay in memory.
#[derive(Debug, Default)]
pub struct Observed {
    pub events_by_detail_type: BTreeMap<String, u64>,
    pub emails_sent: u64,
}

impl Observed {
    /// Reads what the run left (again, after a change to the store) for [`judge`].
    pub fn read(store: &Store, expected: &Expected) -> Result<Observed, SimulateError> {
        let mut observed = Observed::default();
        expected.file.observe(|found| -> Result<(), SimulateError> {
            store.visit_audited(|event_id, detail_type| {
                found.audited(EventKey::of(event_id));
                if let Some(count) = observed.events_by_detail_type.get_mut(detail_type) {
                    *count += 1;
                } else {
                    observed.events_by_detail_type.insert(detail_type.to_string(), 1);
                }
            })?;
            store.visit_outbox(|event_id, sent_ms| {
                observed.emails_sent += 1;
                if let Some(event_id) = event_id {
                    found.emailed(EventKey::of(event_id), sent_ms);
                }
            })?;
            Ok(())
        })?;
        Ok(observed)
    }
}

/// The first few examples in text order, however many there are.
#[derive(Default)]
struct Examples(BinaryHeap<String>);

impl Examples {
    const KEPT: usize = 10;

    fn push(&mut self, example: String) {
        self.0.push(example);
        if self.0.len() > Self::KEPT {
            self.0.pop();
        }
    }

    fn into_sorted(self) -> Vec<String> {
        self.0.into_sorted_vec()
    }
}

/// Compares the audit items, the outbox (both as the last [`Observed::read`] found them)
/// and the accounts marked undeliverable with the expected events, emails and marks.
pub fn judge(expected: &Expected, marked_accounts: &BTreeSet<String>) -> Result<Verdict, SimulateError> {
    let mut verdict = Verdict::default();
    let mut examples = Examples::default();
    let mut reached: BTreeSet<AccountIndex> = BTreeSet::new();
    expected.file.visit_expected(|event| {
        let key = event.key;
        if !event.audited {
            verdict.lost += 1;
            examples.push(format!("no audit item for {key}"));
        }
        match event.email_to {
            Some(account) => {
                if event.emails > 0 {
                    reached.insert(account);
                } else if expected.undeliverable_accounts.contains(expected.account_of(account)) {
                    verdict.suppressed_undeliverable += 1;
                } else {
                    verdict.lost += 1;
                    examples.push(format!("no email for {key}"));
                }
                if event.emails > 1 {
                    verdict.duplicated += event.emails - 1;
                    examples.push(format!("{} emails for {key}", event.emails));
                }
            }
            // An email of an expected event the policy does not send.
            None if event.emails > 0 => {
                verdict.duplicated += event.emails;
                examples.push(format!("an email nobody expected for {key}"));
            }
            None => {}
        }
    })?;
    // Emails of no expected event.
    expected.file.visit_unexpected_emails(|key| {
        verdict.duplicated += 1;
        examples.push(format!("an email nobody expected for {key}"));
    })?;
    let reached: BTreeSet<&str> = reached.into_iter().map(|a| expected.account_of(a)).collect();
    // An address the simulator bounced or complained about, once an email reached it, is
    // marked; no other is.
    for account_id in expected
        .undeliverable_accounts
        .iter()
        .filter(|a| reached.contains(a.as_str()))
    {
        if !marked_accounts.contains(account_id) {
            verdict.lost += 1;
            examples.push(format!("the address of {account_id} was not marked undeliverable"));
        }
    }
    for account_id in marked_accounts {
        if !expected.undeliverable_accounts.contains(account_id) {
            verdict.lost += 1;
            examples.push(format!("the address of {account_id} was marked undeliverable"));
        }
    }
    // The same examples whatever the order they were found in.
    verdict.examples = examples.into_sorted();
    Ok(verdict)
}

/// Insert → email, from how many emails took each millisecond count.
fn insert_to_email(counts: &BTreeMap<i64, u64>) -> Option<Latency> {
    let samples: u64 = counts.values().sum();
    let percentile = |p: u64| {
        // The nearest rank: the smallest value with at least p % of the samples at or below it.
        let rank = (p * samples).div_ceil(100).clamp(1, samples);
        let mut seen = 0;
        counts
            .iter()
            .find(|(_, count)| {
                seen += **count;
                seen >= rank
            })
            .map(|(ms, _)| *ms)
            .unwrap_or_default()
    };
    (samples > 0).then(|| Latency {
        samples: samples as usize,
        p50_ms: percentile(50),
        p99_ms: percentile(99),
        max_ms: counts.keys().next_back().copied().unwrap_or_default(),
    })
}

/// The accounts whose `email_status` marks their address undeliverable.
pub async fn marked_accounts(store: &Store) -> Result<BTreeSet<String>, SimulateError> {
    Ok(store
        .accounts()?
        .into_iter()
        .filter(|a| a.email_status.is_some())
        .map(|a| a.account_id)
        .collect())
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

pub(super) async fn build(store: &Store, expected: &mut Expected, run: Run<'_>) -> Result<Report, SimulateError> {
    let Run {
        intake,
        tally,
        faults,
        monday,
        wall,
        dir,
    } = run;
    let statements_expected = expected_statements(store, &monday.window, expected).await?;
    let observed = Observed::read(store, expected)?;
    let marked = marked_accounts(store).await?;
    let verdict = judge(expected, &marked)?;
    let suppressed_undeliverable = verdict.suppressed_undeliverable;
    let (lost, duplicated, examples) = (verdict.lost, verdict.duplicated, verdict.examples);
    let states = store.delivery_state_counts()?;

    let count = |detail_type: &str| observed.events_by_detail_type.get(detail_type).copied().unwrap_or(0);
    let statements_published = count("Weekly Statement");
    let rejected_records = count("Record Rejected");
    let notifications_undeliverable = count("Notification Undeliverable");
    let audit_items = observed.events_by_detail_type.values().sum();

    let insert_to_email = insert_to_email(&expected.file.insert_to_email_ms()?);

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{Examples, insert_to_email};

    /// The nearest-rank percentile of the samples themselves, sorted.
    fn of_samples(samples: &[i64], p: usize) -> i64 {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    #[test]
    fn percentiles_from_counts_are_those_of_the_samples() {
        let runs: [&[i64]; 4] = [
            &[12],
            &[5, 7, 7, 100],
            &[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5],
            &[-2, 0, 0, 40, 40, 40],
        ];
        for samples in runs {
            let mut counts = BTreeMap::new();
            for ms in samples {
                *counts.entry(*ms).or_insert(0u64) += 1;
            }
            let latency = insert_to_email(&counts).expect("samples");
            assert_eq!(latency.samples, samples.len());
            assert_eq!(latency.p50_ms, of_samples(samples, 50), "{samples:?}");
            assert_eq!(latency.p99_ms, of_samples(samples, 99), "{samples:?}");
            assert_eq!(latency.max_ms, *samples.iter().max().unwrap());
        }
        let long_tail: Vec<i64> = (1..=1000).collect();
        let mut counts = BTreeMap::new();
        for ms in &long_tail {
            counts.insert(*ms, 1);
        }
        let latency = insert_to_email(&counts).unwrap();
        assert_eq!((latency.p50_ms, latency.p99_ms, latency.max_ms), (500, 990, 1000));
        assert!(insert_to_email(&BTreeMap::new()).is_none());
    }

    #[test]
    fn examples_keep_the_first_ten_in_text_order() {
        let mut examples = Examples::default();
        for n in (0..25).rev() {
            examples.push(format!("no email for {n:02}"));
        }
        let expected: Vec<String> = (0..10).map(|n| format!("no email for {n:02}")).collect();
        assert_eq!(examples.into_sorted(), expected);
    }
}
