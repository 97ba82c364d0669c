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
//! Then comes a Monday morning across zones: the clock skips to the next window of the
//! digest planner's schedules (Sunday 16:00 to Monday 18:00 UTC) and goes through it hour by
//! hour; each hour's planner run queues the accounts whose Monday 06:00 it is, and the
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

pub mod report;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::clock::SkippingClock;
use crate::domain::email::Mailbox;
use crate::domain::item::LedgerItem;
use crate::domain::keys;
use crate::local::embedded::bus::EmbeddedBus;
use crate::local::embedded::faults::Faults;
use crate::local::embedded::mailbox_simulator::{Fate, SIMULATOR_DOMAIN};
use crate::local::embedded::outbox::{OutboxError, OutboxLayout};
use crate::local::embedded::runtime::{Runtime, RuntimeError, RuntimeParts, Tally, Ticked};
use crate::local::embedded::store::EmbeddedStore;
use crate::local::memory::MemoryBus;
use crate::pipeline::digest::RunHour;
use crate::pipeline::ingest::Written;
use crate::pipeline::ingest::json_body::JsonBody;
use crate::pipeline::notify::notice::Notice;
use crate::pipeline::notify::policy::{Plan, plan};
use crate::pipeline::{Processor, ProcessorConfig, StreamBatch};
use crate::ports::{Clock, Ledger, PortError};
use crate::rules::Rules;
use crate::workload::{LedgerWrite, Workload, WorkloadSpec};
pub use report::Report;

type Clk = Arc<SkippingClock>;
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
    insert_ms: HashMap<String, i64>,
}

fn reset(dir: &Path) -> Result<(), SimulateError> {
    for file in ["txn-notify.db", "txn-notify.db-wal", "txn-notify.db-shm", "metrics.emf"] {
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
    let started = Instant::now();
    let dir = options.data_dir.clone();
    reset(&dir)?;
    let clock: Clk = Arc::new(SkippingClock::new());
    let mut parts = RuntimeParts::local(Arc::clone(&clock));
    parts.faults = Faults::new(options.faults, options.seed);
    parts.outbox_layout = OutboxLayout::Mailboxes;
    let mut runtime = Runtime::open(&dir, &parts)?;
    let mut intake = Intake::default();
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
    for write in writes {
        ingest_write(&runtime, &write, &mut intake).await?;
        written += 1;
        if written % 100 == 0 {
            progress.wrote(written);
            if runtime.tick(false, &mut tally, Some(&crash_here)).await? == Ticked::Crashed {
                runtime = restart(runtime, &dir, &parts)?;
            }
        }
    }
    progress.writes(written);
    progress.wrote(written);
    runtime = drain(runtime, &dir, &parts, &clock, &mut tally, &crash_here, progress).await?;

    // A Monday morning: the next whole window of the planner's schedules, hour by hour.
    let mut monday = MondayMorning::default();
    runtime.run_schedules().await?;
    let mut window = RunHour::window_from(clock.now());
    if window.first().is_some_and(|first| first.start() < clock.now()) {
        window = RunHour::window_from(clock.now() + chrono::Duration::days(6));
    }
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
    }
    monday.window = window.iter().map(|h| h.start()).collect();
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
    report::build(&runtime.store, &parts.rules, run).await
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

/// An event the pipeline must publish, with what the report needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedEvent {
    pub detail_type: String,
    /// For events about a transaction.
    pub transaction_id: Option<String>,
    /// The event of a reversal (a MODIFY), not of the transaction's insert.
    pub reversal: bool,
}

/// What must have happened: event_id → the event, and event_id → account_id for the
/// emails the email policy sends.
#[derive(Debug, Default)]
pub struct Expected {
    pub events: BTreeMap<String, ExpectedEvent>,
    pub emails: BTreeMap<String, String>,
    /// Accounts whose address SES's mailbox simulator bounces or complains about: once one
    /// email reached it, it must be marked undeliverable and the rest may be suppressed.
    pub undeliverable_accounts: std::collections::BTreeSet<String>,
}

/// The events the pipeline must publish for what the ledger's stream holds, computed again
/// from scratch chunk by chunk, and among them the ones the email policy sends. Only ids
/// and a few fields are kept, so a run of 100k transactions is judged in little memory.
pub async fn expected_effects(store: &Store, rules: &Arc<Rules>) -> Result<Expected, SimulateError> {
    let mut expected = Expected::default();
    let mut accounts: HashMap<String, Option<crate::domain::Account>> = HashMap::new();
    let mut after = 0;
    loop {
        let entries = store.read_stream(after, 500)?;
        let Some(last) = entries.last() else { break };
        after = last.sequence;
        let processor = Processor::new(
            Arc::clone(store),
            MemoryBus::new(),
            Arc::clone(store.clock()),
            Arc::clone(rules),
            ProcessorConfig::new("txn-notify"),
        );
        let event = crate::local::embedded::store::stream_event(&entries);
        let batch = StreamBatch::from_json(event.get()).expect("the store's own stream records");
        let outcome = processor.process_batch(batch).await;
        if !outcome.response.batch_item_failures.is_empty() {
            return Err(SimulateError::ExpectedEffects);
        }
        for entry in processor.bus.published() {
            let detail: Value = serde_json::from_str(&entry.detail).expect("our events are JSON");
            let id = detail["event_id"].as_str().unwrap_or_default().to_string();
            if let Ok(Some(notice)) = Notice::of(&entry.detail_type, &detail) {
                let account_id = notice.account_id().to_string();
                if !accounts.contains_key(&account_id) {
                    let batch = store.batch_get_accounts(std::slice::from_ref(&account_id)).await?;
                    accounts.insert(account_id.clone(), batch.accounts.into_iter().next());
                }
                let emailed = match accounts.get(&account_id) {
                    Some(Some(account)) => {
                        if Fate::of(account.email.expose()) != Fate::Delivered {
                            expected.undeliverable_accounts.insert(account_id.clone());
                        }
                        // What the policy sends to a deliverable address: the mark the
                        // feedback left is judged on its own.
                        let mut deliverable = account.clone();
                        deliverable.email_status = None;
                        matches!(plan(&notice, &deliverable), Plan::Send(_))
                            && Mailbox::new(None, account.email.expose()).is_ok()
                    }
                    _ => false,
                };
                if emailed {
                    expected.emails.insert(id.clone(), account_id);
                }
            }
            let transaction_id = detail["transaction"]["transaction_id"].as_str().map(str::to_string);
            expected.events.insert(
                id,
                ExpectedEvent {
                    detail_type: entry.detail_type.clone(),
                    transaction_id,
                    reversal: detail["change"] == "reversed",
                },
            );
        }
    }
    Ok(expected)
}

/// The Weekly Statements the Monday window must have published, added to `expected`: for
/// each account that is due (not closed, not unsubscribed), the run of the window that holds
/// Monday 06:00 in its zone, and the week that just ended there; a statement when the
/// ledger holds a transaction of that week. Worked out from the profiles and the ledger,
/// not from the planner's index or its pages.
pub async fn expected_statements(
    store: &Store,
    window: &[chrono::DateTime<chrono::Utc>],
    expected: &mut Expected,
) -> Result<u64, SimulateError> {
    let hours: Vec<RunHour> = window.iter().map(|at| RunHour::containing(*at)).collect();
    let mut statements = 0;
    for account in store.accounts()? {
        if account.status == crate::domain::AccountStatus::Closed || !account.preferences.statement_enabled {
            continue;
        }
        let zone = account.zone();
        let Some(due) = hours.iter().find_map(|hour| hour.due(zone)) else {
            continue;
        };
        let query = crate::ports::TransactionQuery {
            account_id: &account.account_id,
            from: due.week.from,
            to: due.week.to,
            newest_first: false,
            limit: 1,
            after: None,
        };
        let mut after: Option<String> = None;
        let mut any = false;
        loop {
            let page = store
                .query_transactions(&crate::ports::TransactionQuery {
                    after: after.as_deref(),
                    ..query.clone()
                })
                .await?;
            if !page.transactions.is_empty() {
                any = true;
                break;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        if !any {
            continue;
        }
        statements += 1;
        let id = crate::domain::event_id::for_weekly_statement(&account.account_id, &due.week.start.to_string());
        expected.events.insert(
            id.clone(),
            ExpectedEvent {
                detail_type: "Weekly Statement".into(),
                transaction_id: None,
                reversal: false,
            },
        );
        if Fate::of(account.email.expose()) != Fate::Delivered {
            expected.undeliverable_accounts.insert(account.account_id.clone());
        }
        if account.preferences.email_enabled && Mailbox::new(None, account.email.expose()).is_ok() {
            expected.emails.insert(id, account.account_id.clone());
        }
    }
    Ok(statements)
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
