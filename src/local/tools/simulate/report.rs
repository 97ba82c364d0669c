//! The simulation's report: what went in, what came out, and what is missing or doubled
//! against what the rule engine and the email policy say must happen.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::judge_file::AccountIndex;
use super::{EventKey, Expected, MondayMorning, Shard, SimulateError, Store, expected_statements};

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
    /// Runtimes the run was split into by account (`shard-0/` … in the folder when more than one).
    pub shards: usize,
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

/// What one shard left, read once its run is over: the report adds the shards' up.
pub(super) struct Figures {
    statements_expected: u64,
    observed: Observed,
    marked: u64,
    verdict: Verdict,
    /// Emails by delivery state.
    states: BTreeMap<String, u64>,
    /// Insert → email: how many emails took each millisecond count.
    latencies: BTreeMap<i64, u64>,
    dlq_messages: u64,
    size: crate::local::embedded::store::StoreSize,
}

impl Figures {
    pub(super) async fn read(
        store: &Store,
        expected: &mut Expected,
        window: &[chrono::DateTime<chrono::Utc>],
    ) -> Result<Figures, SimulateError> {
        let statements_expected = expected_statements(store, window, expected).await?;
        let observed = Observed::read(store, expected)?;
        let marked = marked_accounts(store).await?;
        let verdict = judge(expected, &marked)?;
        let dlq_messages = crate::template::Routes::builtin()
            .dead_letter_queues()
            .into_iter()
            .chain([crate::local::embedded::runtime::DIGEST_RUN_DLQ])
            .map(|q| store.queue_depth(q).map(|d| d.visible + d.in_flight))
            .sum::<Result<u64, _>>()?;
        Ok(Figures {
            statements_expected,
            observed,
            marked: marked.len() as u64,
            verdict,
            states: store.delivery_state_counts()?,
            latencies: expected.file.insert_to_email_ms()?,
            dlq_messages,
            size: store.size()?,
        })
    }
}

/// The report of the whole run: its shards' intakes, tallies, faults and figures added up.
pub(super) fn build(
    shards: &[Shard],
    monday: &MondayMorning,
    wall: Duration,
    dir: &Path,
) -> Result<Report, SimulateError> {
    let sum = |of: &dyn Fn(&Shard) -> u64| shards.iter().map(of).sum::<u64>();
    let figures: Vec<&Figures> = shards.iter().filter_map(|shard| shard.figures.as_ref()).collect();
    let mut events_by_detail_type: BTreeMap<String, u64> = BTreeMap::new();
    let mut states: BTreeMap<&str, u64> = BTreeMap::new();
    let mut latencies: BTreeMap<i64, u64> = BTreeMap::new();
    let mut examples = Examples::default();
    let mut verdict = Verdict::default();
    for figures in &figures {
        for (detail_type, count) in &figures.observed.events_by_detail_type {
            *events_by_detail_type.entry(detail_type.clone()).or_default() += count;
        }
        for (state, count) in &figures.states {
            *states.entry(state).or_default() += count;
        }
        for (ms, count) in &figures.latencies {
            *latencies.entry(*ms).or_default() += count;
        }
        verdict.lost += figures.verdict.lost;
        verdict.duplicated += figures.verdict.duplicated;
        verdict.suppressed_undeliverable += figures.verdict.suppressed_undeliverable;
        for example in &figures.verdict.examples {
            examples.push(example.clone());
        }
    }
    let figure = |of: &dyn Fn(&Figures) -> u64| figures.iter().map(|f| of(f)).sum::<u64>();
    let count = |detail_type: &str| events_by_detail_type.get(detail_type).copied().unwrap_or(0);
    let transactions_in = sum(&|s| s.intake.transactions_in);
    let seconds = wall.as_secs_f64();
    Ok(Report {
        accounts: sum(&|s| s.intake.accounts_in),
        transactions_in,
        malformed_written: sum(&|s| s.intake.malformed_written),
        emails_sent: figure(&|f| f.observed.emails_sent),
        audit_items: events_by_detail_type.values().sum(),
        rejected_records: count("Record Rejected"),
        notifications_undeliverable: count("Notification Undeliverable"),
        statements_published: count("Weekly Statement"),
        events_by_detail_type,
        retries: sum(&|s| s.tally.stream_retried + s.tally.messages_retried),
        requests_retried: sum(&|s| s.intake.requests_retried),
        dlq_messages: figure(&|f| f.dlq_messages),
        stream_records_given_up: sum(&|s| s.tally.stream_discarded),
        lost: verdict.lost,
        duplicated: verdict.duplicated,
        examples: examples.into_sorted(),
        bounces: states.get("bounced").copied().unwrap_or(0),
        complaints: states.get("complained").copied().unwrap_or(0),
        addresses_marked_undeliverable: figure(&|f| f.marked),
        emails_suppressed_undeliverable: verdict.suppressed_undeliverable,
        monday_from: monday.window.first().map(crate::domain::time::format_rfc3339),
        monday_to: monday.window.last().map(crate::domain::time::format_rfc3339),
        planner_runs: monday.planner_runs,
        planner_runs_failed: monday.planner_runs_failed,
        statements_expected: figure(&|f| f.statements_expected),
        faults_injected: sum(&|s| s.parts.faults.injected()),
        faults_surfaced: sum(&|s| s.parts.faults.surfaced()),
        crashes: sum(&|s| s.tally.crashes),
        processor_batches: sum(&|s| s.tally.processor_batches),
        seconds,
        transactions_per_second: if seconds > 0.0 {
            transactions_in as f64 / seconds
        } else {
            0.0
        },
        insert_to_email: insert_to_email(&latencies),
        store: crate::local::embedded::store::StoreSize {
            in_use_bytes: figure(&|f| f.size.in_use_bytes),
            file_bytes: figure(&|f| f.size.file_bytes),
        },
        peak_rss_bytes: crate::telemetry::peak_rss::read(),
        shards: shards.len(),
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
