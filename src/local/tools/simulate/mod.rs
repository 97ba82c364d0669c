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
//!
//! `--shards N` splits the run by account ([`shards`](crate::local::embedded::shards)): each
//! shard is a whole runtime on its own folder, clock and thread, fed the workload's writes
//! for its accounts in their order, and judged on its own; the report adds them up. The
//! crash is shard 0's. The Monday morning is the same hours for every shard: their clocks
//! are brought to the latest before the planner's schedule starts.

pub mod expected;
pub mod judge_file;
pub mod report;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::clock::SkippingClock;
use crate::domain::item::LedgerItem;
use crate::domain::keys;
use crate::local::embedded::bus::EmbeddedBus;
use crate::local::embedded::faults::Faults;
use crate::local::embedded::mailbox_simulator::SIMULATOR_DOMAIN;
use crate::local::embedded::outbox::{OutboxError, OutboxLayout};
use crate::local::embedded::runtime::{Runtime, RuntimeError, RuntimeParts, Tally, Ticked};
use crate::local::embedded::shards::{self, MAX_SHARDS, ShardsError};
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

/// Ledger writes between two ticks of a shard's pipeline: eight of the stream's batches of
/// a hundred records, within the stream's one-second batching window at 10,000 tx/s. A
/// commit writes each page it changed once, and a tick changes about as many pages of the
/// account-ordered b-trees (the ledger, the notifications' account index) for more writes
/// as for fewer. At 100,000 transactions, two shards: 400 → 800 made 7,580–7,960 →
/// 8,300–8,820 tx/s, insert → email p50 38 → 66–72 ms; 1,600 made no more (8,840–8,900)
/// and passed 128 MB of RSS.
const REQUESTS_PER_TICK: usize = 800;
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
    /// Runtimes the run is split into by account, each on a thread of its own (1 to
    /// [`MAX_SHARDS`]; 1: the folder itself is the store).
    pub shards: usize,
}

/// What the caller sees while it runs (from every shard's thread).
pub trait Progress: Sync {
    fn writes(&self, total: u64);
    fn wrote(&self, done: u64);
    /// Stream records and queue messages still to handle (in one shard).
    fn draining(&self, left: u64);
}

/// No progress shown.
pub struct Quiet;

impl Progress for Quiet {
    fn writes(&self, _: u64) {}
    fn wrote(&self, _: u64) {}
    fn draining(&self, _: u64) {}
}

/// The shards' writes added up for the caller's progress.
struct WritesDone<'a, P> {
    progress: &'a P,
    done: AtomicU64,
}

impl<P: Progress> WritesDone<'_, P> {
    fn add(&self, writes: u64) {
        let done = self.done.fetch_add(writes, Ordering::Relaxed) + writes;
        self.progress.wrote(done);
    }
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

/// Empties the folder of what a run leaves (its shards' folders included).
fn reset(dir: &Path) -> Result<(), SimulateError> {
    for file in [
        "txn-notify.db",
        "txn-notify.db-wal",
        "txn-notify.db-shm",
        "metrics.emf",
        judge_file::JUDGE_FILE,
        shards::SHARDS_FILE,
    ] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    for folder in ["outbox", "on-failure"] {
        let _ = std::fs::remove_dir_all(dir.join(folder));
    }
    for index in 0..MAX_SHARDS {
        let _ = std::fs::remove_dir_all(shards::shard_dir(dir, index));
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

/// A simulation, and what each shard was judged against (in shard order).
pub async fn simulate_judged(
    options: &SimulateOptions,
    progress: &impl Progress,
) -> Result<(Report, Vec<Expected>), SimulateError> {
    let started = Instant::now();
    let dir = options.data_dir.clone();
    let shard_count = options.shards;
    if !(1..=MAX_SHARDS).contains(&shard_count) {
        return Err(SimulateError::Shards(shard_count));
    }
    reset(&dir)?;
    let start = options.starts_at.unwrap_or_else(Utc::now);
    let mut spec = WorkloadSpec::new(options.accounts, options.transactions, options.seed);
    spec.day = start - chrono::Duration::hours(24);
    let mut shards = Vec::with_capacity(shard_count);
    for index in 0..shard_count {
        let folder = if shard_count == 1 {
            dir.clone()
        } else {
            shards::shard_dir(&dir, index)
        };
        shards.push(Shard::open(options, index, folder, start)?);
    }
    if shard_count > 1 {
        shards::mark(&dir, shard_count)?;
    }
    progress.writes(Workload::new(&spec).len_hint() as u64);
    let written = WritesDone {
        progress,
        done: AtomicU64::new(0),
    };
    let shards = if shard_count == 1 {
        on_threads(shards, |mut shard| {
            let (spec, written) = (&spec, &written);
            async move {
                shard
                    .take_writes(routed_writes(spec, 1).map(|(_, write)| write), written)
                    .await?;
                Ok(shard)
            }
        })?
    } else {
        // The workload made once, on a thread of its own, each write handed to its shard.
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..shard_count)
            .map(|_| std::sync::mpsc::sync_channel::<ShardWrite>(WRITES_IN_FLIGHT))
            .unzip();
        let receivers: Vec<std::sync::Mutex<Option<std::sync::mpsc::Receiver<ShardWrite>>>> =
            receivers.into_iter().map(|r| std::sync::Mutex::new(Some(r))).collect();
        std::thread::scope(|scope| {
            let spec = &spec;
            std::thread::Builder::new()
                .name("workload".into())
                .spawn_scoped(scope, move || {
                    for (shard, write) in routed_writes(spec, shard_count) {
                        // A shard that stopped (its error ends the run) takes no more.
                        let _ = senders[shard].send(write);
                    }
                })
                .map_err(SimulateError::Thread)?;
            on_threads(shards, |mut shard| {
                let (receivers, written) = (&receivers, &written);
                async move {
                    let writes = receivers[shard.index]
                        .lock()
                        .expect("receivers lock")
                        .take()
                        .expect("one receiver per shard");
                    shard.take_writes(writes.into_iter(), written).await?;
                    Ok(shard)
                }
            })
        })?
    };
    let total = written.done.load(Ordering::Relaxed);
    progress.writes(total);
    progress.wrote(total);

    // A Monday morning: the planner's runs still to come, hour by hour. Inside the window
    // (a Sunday evening), the rest of it: the scheduler would run every hour the clock
    // skips over, so the window is never skipped for the next week's. Every shard goes
    // through the same hours: their clocks start the schedule at the latest of them.
    let mut shards = shards;
    let latest = shards
        .iter()
        .map(|shard| shard.clock.now())
        .max()
        .expect("one shard at least");
    for shard in &mut shards {
        shard.advance_to(latest);
        shard.runtime().run_schedules().await?;
    }
    let latest = shards
        .iter()
        .map(|shard| shard.clock.now())
        .max()
        .expect("one shard at least");
    let window = RunHour::runs_after(latest);
    let shards = on_threads(shards, |mut shard| {
        let window = &window;
        async move {
            shard.finish(window, progress).await?;
            Ok(shard)
        }
    })?;
    let wall = started.elapsed();
    let monday = MondayMorning {
        window: window.iter().map(|h| h.start()).collect(),
        // The same schedule in every shard: what the busiest made.
        planner_runs: shards.iter().map(|s| s.monday.planner_runs).max().unwrap_or(0),
        planner_runs_failed: shards.iter().map(|s| s.monday.planner_runs_failed).max().unwrap_or(0),
    };
    let report = report::build(&shards, &monday, wall, &dir)?;
    Ok((report, shards.into_iter().map(|shard| shard.expected).collect()))
}

/// Runs `work` on each shard, each on a thread of its own with its own executor, and gives
/// the shards back in order (the first error, if any).
fn on_threads<F, Fut>(shards: Vec<Shard>, work: F) -> Result<Vec<Shard>, SimulateError>
where
    F: Fn(Shard) -> Fut + Sync,
    Fut: std::future::Future<Output = Result<Shard, SimulateError>>,
{
    std::thread::scope(|scope| {
        let work = &work;
        let threads = shards
            .into_iter()
            .map(|shard| {
                std::thread::Builder::new()
                    .name(format!("shard-{}", shard.index))
                    .spawn_scoped(scope, move || {
                        let executor = tokio::runtime::Builder::new_current_thread()
                            .enable_time()
                            .build()
                            .map_err(SimulateError::Thread)?;
                        executor.block_on(work(shard))
                    })
                    .map_err(SimulateError::Thread)
            })
            .collect::<Vec<_>>();
        let mut done = Vec::with_capacity(threads.len());
        let mut failed = None;
        for thread in threads {
            let outcome =
                thread.and_then(|thread| thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            match outcome {
                Ok(shard) => done.push(shard),
                Err(error) => failed = failed.or(Some(error)),
            }
        }
        failed.map_or(Ok(done), Err)
    })
}

/// A write for a shard, with its account's rank among all the workload's accounts when it
/// opens one (which picks the account's simulator address, the same whatever the shards).
type ShardWrite = (LedgerWrite, Option<u64>);

/// Writes made ahead of the shards that take them, per shard: a tick's worth, so a shard
/// never waits for its next tick's writes, and no more decoded items (a kilobyte or two
/// each) wait in memory than that.
const WRITES_IN_FLIGHT: usize = REQUESTS_PER_TICK;

/// The workload's writes in order, each with the shard of its account.
fn routed_writes(spec: &WorkloadSpec, shard_count: usize) -> impl Iterator<Item = (usize, ShardWrite)> + use<> {
    let mut accounts_seen = 0;
    Workload::new(spec).map(move |write| {
        let item = match &write {
            LedgerWrite::Insert { item, .. } => item,
            LedgerWrite::Modify { new, .. } => new,
            LedgerWrite::Remove { old, .. } => old,
        };
        let text = |name: &str| match item.get(name) {
            Some(serde_dynamo::AttributeValue::S(s)) => s.as_str(),
            _ => "",
        };
        let pk = text("pk");
        let opens_account = matches!(write, LedgerWrite::Insert { .. })
            && text("sk") == keys::PROFILE_SK
            && matches!(LedgerItem::decode(item), Ok(LedgerItem::Account(_)));
        let rank = opens_account.then(|| {
            accounts_seen += 1;
            accounts_seen - 1
        });
        let account = keys::account_id_of(pk).unwrap_or(pk);
        (shards::shard_of(account, shard_count), (write, rank))
    })
}

const OPEN: &str = "a shard's runtime is open between restarts";

/// One shard of the run: a runtime on its own folder and clock, what went into it, and
/// what must come out.
struct Shard {
    index: usize,
    dir: PathBuf,
    clock: Clk,
    parts: RuntimeParts<Clk>,
    /// `None` only while a crash replaces it.
    runtime: Option<Runtime<Clk>>,
    intake: Intake,
    expected: Expected,
    tally: Tally,
    crash_after: Option<u64>,
    writes_ended: DateTime<Utc>,
    monday: MondayMorning,
    figures: Option<report::Figures>,
}

impl Shard {
    fn open(
        options: &SimulateOptions,
        index: usize,
        dir: PathBuf,
        start: DateTime<Utc>,
    ) -> Result<Shard, SimulateError> {
        let clock: Clk = Arc::new(SkippingClock::starting_at(start));
        let mut parts = RuntimeParts::local(Arc::clone(&clock));
        parts.faults = Faults::new(options.faults, options.seed.wrapping_add(index as u64));
        parts.outbox_layout = OutboxLayout::Mailboxes;
        parts.cache_shares = options.shards;
        let runtime = Runtime::open(&dir, &parts)?;
        let expected = Expected::create_sharing(&dir.join(judge_file::JUDGE_FILE), options.shards)?;
        Ok(Shard {
            index,
            dir,
            writes_ended: clock.now(),
            clock,
            parts,
            runtime: Some(runtime),
            intake: Intake::default(),
            expected,
            tally: Tally::default(),
            crash_after: if index == 0 { options.crash_after } else { None },
            monday: MondayMorning::default(),
            figures: None,
        })
    }

    fn runtime(&self) -> &Runtime<Clk> {
        self.runtime.as_ref().expect(OPEN)
    }

    fn advance_to(&self, instant: DateTime<Utc>) {
        // The clock skips in whole milliseconds: land just past the instant.
        while self.clock.now() < instant {
            let ahead = (instant - self.clock.now()).num_milliseconds().max(0) as u64 + 1;
            self.clock.advance(Duration::from_millis(ahead));
        }
    }

    /// One tick; a crash opens a new runtime on the same folder.
    async fn tick(&mut self, drain: bool) -> Result<Ticked, SimulateError> {
        let crash_after = self.crash_after;
        let crash_here =
            move |tally: &Tally| crash_after.is_some_and(|k| tally.crashes == 0 && tally.processor_batches + 1 == k);
        let runtime = self.runtime.as_ref().expect(OPEN);
        let ticked = runtime.tick(drain, &mut self.tally, Some(&crash_here)).await?;
        if ticked == Ticked::Crashed {
            // Throws the runtime away (closing the store) and opens a new one.
            self.runtime = None;
            self.runtime = Some(Runtime::open(&self.dir, &self.parts)?);
        }
        Ok(ticked)
    }

    async fn catch_up(&mut self) -> Result<(), SimulateError> {
        let runtime = self.runtime.as_ref().expect(OPEN);
        self.expected
            .catch_up(&runtime.store, &self.parts.rules, &mut self.intake.insert_ms)
            .await
    }

    /// The shard's writes, a tick after each hundred, then everything drained.
    async fn take_writes(
        &mut self,
        writes: impl Iterator<Item = (LedgerWrite, Option<u64>)>,
        written: &WritesDone<'_, impl Progress>,
    ) -> Result<(), SimulateError> {
        let mut writes = writes.peekable();
        while writes.peek().is_some() {
            // The requests between two ticks are answered together, after one commit of
            // their writes: the group commit of a server that takes them concurrently.
            let runtime = self.runtime.as_ref().expect(OPEN);
            let requests = runtime.store.group();
            let mut taken = 0;
            for (write, rank) in writes.by_ref().take(REQUESTS_PER_TICK) {
                ingest_write(runtime, &write, rank, &mut self.intake).await?;
                taken += 1;
            }
            requests.commit()?;
            written.add(taken as u64);
            if taken == REQUESTS_PER_TICK {
                self.tick(false).await?;
                self.catch_up().await?;
            }
        }
        self.writes_ended = self.clock.now();
        self.drain(written.progress).await?;
        self.catch_up().await
    }

    /// The Monday morning's hours, the stream's day to its end, the outbox's index, and the
    /// shard's figures for the report.
    async fn finish(&mut self, window: &[RunHour], progress: &impl Progress) -> Result<(), SimulateError> {
        for hour in window {
            self.advance_to(hour.start());
            let runs = self.runtime().run_schedules().await?;
            self.monday.planner_runs += runs.len() as u64;
            self.monday.planner_runs_failed += runs.iter().filter(|r| r.failed.is_some()).count() as u64;
            self.drain(progress).await?;
            self.catch_up().await?;
        }
        // The store is measured once the stream's day is over, whatever the hour the run
        // began: DynamoDB Streams keeps a record 24 hours, and so does the embedded stream.
        let stream_day_over =
            self.writes_ended + crate::local::embedded::store::STREAM_RETENTION + chrono::Duration::seconds(1);
        if self.clock.now() < stream_day_over {
            self.advance_to(stream_day_over);
            self.drain(progress).await?;
        }
        self.runtime().outbox.write_index()?;
        let window: Vec<DateTime<Utc>> = window.iter().map(|h| h.start()).collect();
        let runtime = self.runtime.as_ref().expect(OPEN);
        self.figures = Some(report::Figures::read(&runtime.store, &mut self.expected, &window).await?);
        Ok(())
    }

    /// Ticks until the stream and the queues are empty, skipping ahead to when a message
    /// that is not visible yet comes back.
    async fn drain(&mut self, progress: &impl Progress) -> Result<(), SimulateError> {
        let mut idle_rounds = 0;
        loop {
            if self.tick(true).await? == Ticked::Crashed {
                continue;
            }
            let runtime = self.runtime();
            let backlog = runtime.backlog()?;
            progress.draining(backlog.stream + backlog.queued);
            if backlog.is_empty() {
                return Ok(());
            }
            // Nothing visible yet: skip ahead to when the next message reappears.
            let next = runtime
                .consumers
                .iter()
                .filter_map(|source| runtime.store.next_visible(&source.queue).ok().flatten())
                .min()
                .unwrap_or(Duration::from_secs(1));
            self.clock.advance(next.max(Duration::from_millis(1)));
            idle_rounds += 1;
            if idle_rounds > 10_000 {
                return Err(SimulateError::DidNotDrain);
            }
        }
    }
}

/// The Monday morning the simulation went through.
#[derive(Debug, Default)]
pub struct MondayMorning {
    /// The hours of the window, in order.
    pub window: Vec<chrono::DateTime<chrono::Utc>>,
    pub planner_runs: u64,
    pub planner_runs_failed: u64,
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
    #[error("{0} shards: a run is split into 1 to {MAX_SHARDS}")]
    Shards(usize),
    #[error(transparent)]
    ShardFolder(#[from] ShardsError),
    #[error("cannot start a shard's thread: {0}")]
    Thread(std::io::Error),
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
async fn ingest_write(
    runtime: &Runtime<Clk>,
    write: &LedgerWrite,
    account_rank: Option<u64>,
    tally: &mut Intake,
) -> Result<(), SimulateError> {
    let store = &runtime.store;
    match write {
        LedgerWrite::Insert { item, .. } => match LedgerItem::decode(item) {
            Ok(LedgerItem::Account(account)) => {
                let mut body = serde_json::to_value(&*account).expect("an account serialises");
                let object = body.as_object_mut().expect("an account is an object");
                if let Some(address) = simulator_address(account_rank.unwrap_or(tally.accounts_in), &account.account_id)
                {
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

/// Replays the archive of a store folder (a `simulate` or `dev` run; each shard of a sharded
/// one) for [from, to) to the rules named (all when none), then lets the consumers drain
/// what it queued: effects done before are skipped, missed ones are done now.
pub async fn replay(
    dir: &Path,
    name: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    rules_named: &[String],
) -> Result<ReplayReport, SimulateError> {
    let folders = shards::store_folders(dir)?;
    if folders.iter().any(|folder| !folder.join("txn-notify.db").exists()) {
        return Err(SimulateError::NoStore(dir.to_path_buf()));
    }
    // The rules are checked before any shard replays anything.
    let routes = crate::template::Routes::builtin();
    for rule in rules_named {
        if !routes.rules.iter().any(|r| &r.name == rule) {
            let known: Vec<&str> = routes.rules.iter().map(|r| r.name.as_str()).collect();
            return Err(SimulateError::NoSuchRule {
                rule: rule.clone(),
                known: known.join(", "),
            });
        }
    }
    let mut total = ReplayReport {
        replay_name: name.to_string(),
        deliveries: 0,
        new_emails: 0,
        new_audit_items: 0,
    };
    for folder in &folders {
        let runtime = Runtime::open(folder, &RuntimeParts::local(Arc::new(SkippingClock::new())))?;
        let emails_before = runtime.store.outbox_count()?;
        let audit_before = runtime.store.audit_count()?;
        let bus = EmbeddedBus::new(Arc::clone(&runtime.store), runtime.routes.clone());
        total.deliveries += bus.replay(name, from, to, rules_named)?;
        runtime.tick(true, &mut Tally::default(), None).await?;
        runtime.outbox.write_index()?;
        total.new_emails += runtime.store.outbox_count()? - emails_before;
        total.new_audit_items += runtime.store.audit_count()? - audit_before;
    }
    Ok(total)
}
