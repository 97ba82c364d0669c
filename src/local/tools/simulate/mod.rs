//! `txn-notify simulate`: the whole pipeline on one machine, on the embedded adapters, with
//! the same use cases and handlers as the Lambda functions.
//!
//! Accounts and transactions go in through the ingest use case (a few malformed items, the
//! reversals and TTL deletes of the workload straight into the ledger); the stream poller
//! feeds the processor; the bus routes with template.yaml's rules into the queues; the
//! notifier and the auditor drain them. `--faults` fails every port attempt at that rate
//! (behind the SDK's three attempts); `--crash-after K` kills the runtime after K processor
//! batches, between a batch's effects and its checkpoint, with a notifier batch in flight,
//! and starts it again from the store.
//!
//! Then comes a Monday morning across zones: the clock skips to the digest planner's next
//! run (its window is Sunday 16:00 to Monday 18:00 UTC; a run started inside it takes the
//! rest of it) and goes through the window hour by hour; each hour's planner run queues the
//! accounts whose Monday 06:00 it is, and the
//! workers publish their statements for the week that just ended in their zone. Expected:
//! one statement for each account that is due and had a transaction in that week.
//!
//! One account in twenty gets an address of SES's mailbox simulator (bounce@, complaint@,
//! suppressionlist@, success@, ooto@ in turn): the outbox answers for them as SES would,
//! and the feedback function marks the ones that bounce or complain undeliverable.
//!
//! The report checks the result against what must happen: the events the rule engine gives
//! for the ledger's stream, and the emails the email policy allows among them. Lost: an
//! expected audit item or email that is not there, or an address the simulator bounced that
//! is not marked undeliverable (or one it delivered to that is). Duplicated: an email sent
//! twice for one event (audit items cannot be, their key is the event id). The emails of an
//! address the simulator does not deliver to may be missing once its feedback is in: they
//! are counted as suppressed, not lost.

pub mod expected;
pub mod judge_file;
pub mod report;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::clock::SkippingClock;
use crate::domain::item::LedgerItem;
use crate::domain::keys;
use crate::local::embedded::bus::EmbeddedBus;
use crate::local::embedded::faults::Faults;
use crate::local::embedded::mailbox_simulator::SIMULATOR_DOMAIN;
use crate::local::embedded::outbox::{OutboxError, OutboxLayout};
use crate::local::embedded::runtime::{Runtime, RuntimeError, RuntimeParts, Tally, Ticked};
use crate::local::embedded::store::EmbeddedStore;
use crate::pipeline::digest::RunHour;
use crate::pipeline::ingest::Written;
use crate::pipeline::ingest::json_body::JsonBody;
use crate::ports::{Clock, PortError};
use crate::workload::{LedgerWrite, Workload, WorkloadSpec};
pub use expected::{Expected, expected_statements};
pub use judge_file::EventKey;
pub use report::Report;

type Clk = Arc<SkippingClock>;

/// Ledger writes between two ticks of the pipeline.
const REQUESTS_PER_TICK: usize = 100;
type Store = Arc<EmbeddedStore<Clk>>;

#[derive(Debug, Clone)]
pub struct SimulateOptions {
    pub accounts: usize,
    pub transactions: usize,
    pub seed: u64,
    /// Share of port attempts that fail, in [0, 1].
    pub faults: f64,
    pub crash_after: Option<u64>,
    pub data_dir: std::path::PathBuf,
    /// The instant the run's clock starts at: now when `None` (the day's transactions are
    /// the 24 hours before it).
    pub starts_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What the caller sees while it runs.
pub trait Progress {
    fn writes(&self, total: u64);
    fn wrote(&self, done: u64);
    /// Stream records and queue messages still to handle.
    fn draining(&self, left: u64);
}

/// No progress shown.
pub struct Quiet;

impl Progress for Quiet {
    fn writes(&self, _: u64) {}
    fn wrote(&self, _: u64) {}
    fn draining(&self, _: u64) {}
}

/// What went into the ledger, and when.
#[derive(Default)]
struct Intake {
    transactions_in: u64,
    accounts_in: u64,
    malformed_written: u64,
    requests_retried: u64,
    /// When each transaction was stored, until the expectations read its insert.
    insert_ms: HashMap<String, i64>,
}

fn reset(dir: &Path) -> Result<(), SimulateError> {
    for file in [
        "txn-notify.db",
        "txn-notify.db-wal",
        "txn-notify.db-shm",
        "metrics.emf",
        judge_file::JUDGE_FILE,
    ] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    for folder in ["outbox", "on-failure"] {
        let _ = std::fs::remove_dir_all(dir.join(folder));
    }
    std::fs::create_dir_all(dir).map_err(|source| {
        RuntimeError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        }
        .into()
    })
}

pub async fn simulate(options: &SimulateOptions, progress: &impl Progress) -> Result<Report, SimulateError> {
    simulate_judged(options, progress).await.map(|(report, _)| report)
}

/// A simulation, and what it was judged against.
pub async fn simulate_judged(
    options: &SimulateOptions,
    progress: &impl Progress,
) -> Result<(Report, Expected), SimulateError> {
    let started = Instant::now();
    let dir = options.data_dir.clone();
    reset(&dir)?;
    let clock: Clk = Arc::new(
        options
            .starts_at
            .map_or_else(SkippingClock::new, SkippingClock::starting_at),
    );
    let mut parts = RuntimeParts::local(Arc::clone(&clock));
    parts.faults = Faults::new(options.faults, options.seed);
    parts.outbox_layout = OutboxLayout::Mailboxes;
    let mut runtime = Runtime::open(&dir, &parts)?;
    let mut intake = Intake::default();
    let mut expected = Expected::create(&dir.join(judge_file::JUDGE_FILE))?;
    let mut tally = Tally::default();
    let crash_after = options.crash_after;
    let crash_here =
        move |tally: &Tally| crash_after.is_some_and(|k| tally.crashes == 0 && tally.processor_batches + 1 == k);

    let mut spec = WorkloadSpec::new(options.accounts, options.transactions, options.seed);
    spec.day = clock.now() - chrono::Duration::hours(24);
    // The workload as it goes: only the writes a later one could come before are held.
    let writes = Workload::new(&spec);
    progress.writes(writes.len_hint() as u64);
    let mut written = 0;
    let mut writes = writes.peekable();
    while writes.peek().is_some() {
        // The requests between two ticks are answered together, after one commit of their
        // writes: the group commit of a server that takes them concurrently.
        let requests = runtime.store.group();
        for write in writes.by_ref().take(REQUESTS_PER_TICK) {
            ingest_write(&runtime, &write, &mut intake).await?;
            written += 1;
        }
        requests.commit()?;
        if written % REQUESTS_PER_TICK as u64 == 0 {
            progress.wrote(written);
            if runtime.tick(false, &mut tally, Some(&crash_here)).await? == Ticked::Crashed {
                runtime = restart(runtime, &dir, &parts)?;
            }
            expected
                .catch_up(&runtime.store, &parts.rules, &mut intake.insert_ms)
                .await?;
        }
    }
    progress.writes(written);
    progress.wrote(written);
    let writes_ended = clock.now();
    runtime = drain(runtime, &dir, &parts, &clock, &mut tally, &crash_here, progress).await?;
    expected
        .catch_up(&runtime.store, &parts.rules, &mut intake.insert_ms)
        .await?;

    // A Monday morning: the planner's runs still to come, hour by hour. Inside the window
    // (a Sunday evening), the rest of it: the scheduler would run every hour the clock
    // skips over, so the window is never skipped for the next week's.
    let mut monday = MondayMorning::default();
    runtime.run_schedules().await?;
    let window = RunHour::runs_after(clock.now());
    for hour in &window {
        // The clock skips in whole milliseconds: land just past the hour's top.
        while clock.now() < hour.start() {
            let ahead = (hour.start() - clock.now()).num_milliseconds().max(0) as u64 + 1;
            clock.advance(Duration::from_millis(ahead));
        }
        let runs = runtime.run_schedules().await?;
        monday.planner_runs += runs.len() as u64;
        monday.planner_runs_failed += runs.iter().filter(|r| r.failed.is_some()).count() as u64;
        runtime = drain(runtime, &dir, &parts, &clock, &mut tally, &crash_here, progress).await?;
        expected
            .catch_up(&runtime.store, &parts.rules, &mut intake.insert_ms)
            .await?;
    }
    monday.window = window.iter().map(|h| h.start()).collect();
    // The store is measured once the stream's day is over, whatever the hour the run began:
    // DynamoDB Streams keeps a record 24 hours, and so does the embedded stream.
    let stream_day_over = writes_ended + crate::local::embedded::store::STREAM_RETENTION + chrono::Duration::seconds(1);
    if clock.now() < stream_day_over {
        let ahead = (stream_day_over - clock.now()).num_milliseconds().max(0) as u64;
        clock.advance(Duration::from_millis(ahead));
        runtime = drain(runtime, &dir, &parts, &clock, &mut tally, &crash_here, progress).await?;
    }
    runtime.outbox.write_index()?;
    let wall = started.elapsed();
    let run = report::Run {
        intake: &intake,
        tally: &tally,
        faults: &parts.faults,
        monday: &monday,
        wall,
        dir: &dir,
    };
    let report = report::build(&runtime.store, &mut expected, run).await?;
    Ok((report, expected))
}

/// The Monday morning the simulation went through.
#[derive(Debug, Default)]
pub struct MondayMorning {
    /// The hours of the window, in order.
    pub window: Vec<chrono::DateTime<chrono::Utc>>,
    pub planner_runs: u64,
    pub planner_runs_failed: u64,
}

/// Ticks until the stream and the queues are empty, skipping ahead to when a message that
/// is not visible yet comes back; a crash opens a new runtime on the same folder.
async fn drain(
    mut runtime: Runtime<Clk>,
    dir: &Path,
    parts: &RuntimeParts<Clk>,
    clock: &Clk,
    tally: &mut Tally,
    crash_here: &dyn Fn(&Tally) -> bool,
    progress: &impl Progress,
) -> Result<Runtime<Clk>, SimulateError> {
    let mut idle_rounds = 0;
    loop {
        if runtime.tick(true, tally, Some(crash_here)).await? == Ticked::Crashed {
            runtime = restart(runtime, dir, parts)?;
            continue;
        }
        let backlog = runtime.backlog()?;
        progress.draining(backlog.stream + backlog.queued);
        if backlog.is_empty() {
            return Ok(runtime);
        }
        // Nothing visible yet: skip ahead to when the next message reappears.
        let next = runtime
            .consumers
            .iter()
            .filter_map(|source| runtime.store.next_visible(&source.queue).ok().flatten())
            .min()
            .unwrap_or(Duration::from_secs(1));
        clock.advance(next.max(Duration::from_millis(1)));
        idle_rounds += 1;
        if idle_rounds > 10_000 {
            return Err(SimulateError::DidNotDrain);
        }
    }
}

/// Throws the runtime away (closing the store) and opens a new one on the same folder.
fn restart(old: Runtime<Clk>, dir: &Path, parts: &RuntimeParts<Clk>) -> Result<Runtime<Clk>, SimulateError> {
    drop(old);
    Ok(Runtime::open(dir, parts)?)
}

/// Why a simulation (or a replay of its archive) stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("ingest refused {what}: {detail}")]
    IngestRefused { what: String, detail: String },
    #[error("the pipeline did not drain")]
    DidNotDrain,
    #[error("the expected effects could not be computed")]
    ExpectedEffects,
    #[error(transparent)]
    JudgeFile(#[from] judge_file::JudgeFileError),
    #[error("{} holds no store (run `simulate --data-dir` or `dev --data-dir` there first)", .0.display())]
    NoStore(PathBuf),
    #[error("no rule {rule} in template.yaml (there are {known})")]
    NoSuchRule { rule: String, known: String },
}

impl From<PortError> for SimulateError {
    fn from(error: PortError) -> Self {
        SimulateError::Runtime(error.into())
    }
}

impl From<OutboxError> for SimulateError {
    fn from(error: OutboxError) -> Self {
        SimulateError::Runtime(error.into())
    }
}

/// Puts one workload write into the ledger: accounts and transactions through the ingest
/// use case (a client retries a 503), the rest straight into the table.
async fn ingest_write(runtime: &Runtime<Clk>, write: &LedgerWrite, tally: &mut Intake) -> Result<(), SimulateError> {
    let store = &runtime.store;
    match write {
        LedgerWrite::Insert { item, .. } => match LedgerItem::decode(item) {
            Ok(LedgerItem::Account(account)) => {
                let mut body = serde_json::to_value(&*account).expect("an account serialises");
                let object = body.as_object_mut().expect("an account is an object");
                if let Some(address) = simulator_address(tally.accounts_in, &account.account_id) {
                    object.insert("email".into(), Value::String(address));
                }
                object.remove("status");
                object.remove("created_at");
                object.remove("version");
                let object = object.clone();
                for attempt in 0..20 {
                    match runtime.ingest.create_account(&object).await {
                        Ok(_) => break,
                        Err(problem) if problem.status == 503 && attempt < 19 => tally.requests_retried += 1,
                        Err(problem) => {
                            return Err(SimulateError::IngestRefused {
                                what: format!("account {}", account.account_id),
                                detail: problem.detail,
                            });
                        }
                    }
                }
                tally.accounts_in += 1;
            }
            Ok(LedgerItem::Transaction(transaction)) => {
                let text = serde_json::to_string(&*transaction).expect("a transaction serialises");
                let body = JsonBody::parse(text.as_bytes()).map_err(|e| SimulateError::IngestRefused {
                    what: format!("transaction {}", transaction.transaction_id),
                    detail: e.to_string(),
                })?;
                for attempt in 0..20 {
                    match runtime.ingest.create_transaction(&body).await {
                        Ok(Written::Created(_)) => {
                            tally.transactions_in += 1;
                            tally.insert_ms.insert(
                                transaction.transaction_id.clone(),
                                store.clock().now().timestamp_millis(),
                            );
                            break;
                        }
                        Ok(Written::Duplicate(_)) => break,
                        Err(problem) if problem.status == 503 && attempt < 19 => tally.requests_retried += 1,
                        Err(problem) => {
                            return Err(SimulateError::IngestRefused {
                                what: format!("transaction {}", transaction.transaction_id),
                                detail: problem.detail,
                            });
                        }
                    }
                }
            }
            // The workload's own uniqueness markers: ingest writes its own.
            Ok(LedgerItem::Other { item_type }) if item_type == keys::MARKER_TYPE => {}
            _ => {
                store.put_item(item.clone())?;
                tally.malformed_written += 1;
            }
        },
        LedgerWrite::Modify { new, .. } => {
            store.put_item(new.clone())?;
        }
        LedgerWrite::Remove { old, .. } => {
            let key = |name: &str| match old.get(name) {
                Some(serde_dynamo::AttributeValue::S(s)) => s.clone(),
                _ => String::new(),
            };
            store.write_item(&key("pk"), &key("sk"), None)?;
        }
    }
    Ok(())
}

/// One account in twenty, in turn: an address of SES's mailbox simulator, labelled with the
/// account id (`bounce+acc-…@simulator.amazonses.com`).
fn simulator_address(opened_before: u64, account_id: &str) -> Option<String> {
    const MAILBOXES: [&str; 5] = ["bounce", "complaint", "suppressionlist", "success", "ooto"];
    (opened_before % 20 == 3).then(|| {
        let mailbox = MAILBOXES[(opened_before / 20 % 5) as usize];
        format!("{mailbox}+{account_id}@{SIMULATOR_DOMAIN}")
    })
}

/// What a replay of the embedded archive did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayReport {
    pub replay_name: String,
    pub deliveries: usize,
    pub new_emails: u64,
    pub new_audit_items: u64,
}

/// Replays the archive of a store folder (a `simulate` or `dev` run) for [from, to) to the
/// rules named (all when none), then lets the consumers drain what it queued: effects done
/// before are skipped, missed ones are done now.
pub async fn replay(
    dir: &Path,
    name: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    rules_named: &[String],
) -> Result<ReplayReport, SimulateError> {
    if !dir.join("txn-notify.db").exists() {
        return Err(SimulateError::NoStore(dir.to_path_buf()));
    }
    let runtime = Runtime::open(dir, &RuntimeParts::local(Arc::new(SkippingClock::new())))?;
    for rule in rules_named {
        if !runtime.routes.rules.iter().any(|r| &r.name == rule) {
            let known: Vec<&str> = runtime.routes.rules.iter().map(|r| r.name.as_str()).collect();
            return Err(SimulateError::NoSuchRule {
                rule: rule.clone(),
                known: known.join(", "),
            });
        }
    }
    let emails_before = runtime.store.outbox_count()?;
    let audit_before = runtime.store.audit_count()?;
    let bus = EmbeddedBus::new(Arc::clone(&runtime.store), runtime.routes.clone());
    let deliveries = bus.replay(name, from, to, rules_named)?;
    runtime.tick(true, &mut Tally::default(), None).await?;
    runtime.outbox.write_index()?;
    Ok(ReplayReport {
        replay_name: name.to_string(),
        deliveries,
        new_emails: runtime.store.outbox_count()? - emails_before,
        new_audit_items: runtime.store.audit_count()? - audit_before,
    })
}
