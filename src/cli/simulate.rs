//! `txn-notify simulate`: the whole pipeline end to end on the embedded runtime, and a report.

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use crate::local::tools::simulate::{Progress, Quiet, Report, SimulateOptions, simulate};

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Accounts to open.
    #[arg(long, default_value_t = 200)]
    accounts: usize,
    /// Transactions of the day.
    #[arg(long, default_value_t = 5_000)]
    transactions: usize,
    /// The workload's seed: the same seed, the same workload.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of port attempts (store, bus, mailer, audit, idempotency) that fail, in [0, 1].
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    faults: f64,
    /// Kill the runtime after this many processor batches and start it again.
    #[arg(long, value_name = "K")]
    crash_after: Option<u64>,
    /// Where the store, the outbox, the on-failure folder and metrics.emf go (emptied first).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Runtimes to split the run into by account, each on a thread of its own (1 to 64;
    /// default: one per core). With more than one, DIR holds `shard-0/`, `shard-1/`, ….
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    shards: Option<u16>,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
}

/// One shard per core.
fn default_shards() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(crate::local::embedded::shards::MAX_SHARDS)
}

fn rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err("a rate is between 0 and 1".into())
    }
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn writes(&self, total: u64) {
        self.0.set_length(total);
    }
    fn wrote(&self, done: u64) {
        self.0.set_position(done);
    }
    fn draining(&self, left: u64) {
        self.0
            .set_message(format!("draining: {left} stream records and queue messages left"));
    }
}

pub fn run(args: SimulateArgs) -> ExitCode {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("txn-notify-simulate-{}", std::process::id())));
    let options = SimulateOptions {
        accounts: args.accounts,
        transactions: args.transactions,
        seed: args.seed,
        faults: args.faults,
        crash_after: args.crash_after,
        data_dir,
        starts_at: None,
        shards: args.shards.map_or_else(default_shards, usize::from),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(args.json, &format!("cannot start the runtime: {e}")),
    };
    let result = if args.json {
        runtime.block_on(simulate(&options, &Quiet))
    } else {
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{spinner} {bar:40} {pos}/{len} ledger writes {msg}")
                .expect("a valid template"),
        );
        let result = runtime.block_on(simulate(&options, &Bar(bar.clone())));
        bar.finish_and_clear();
        result
    };
    match result {
        Err(error) => super::fail(args.json, &error.to_string()),
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string(&report).expect("a report serializes"));
            } else {
                print_report(&report);
            }
            if report.lost == 0 && report.duplicated == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn print_report(r: &Report) {
    println!(
        "txn-notify simulate: {} accounts, {} transactions in",
        r.accounts, r.transactions_in
    );
    println!(
        "  ledger writes straight into the table: {} malformed items (plus the day's reversals and TTL deletes)",
        r.malformed_written
    );
    println!("events by detail-type:");
    let width = r.events_by_detail_type.keys().map(String::len).max().unwrap_or(0);
    for (detail_type, count) in &r.events_by_detail_type {
        println!("  {detail_type:<width$}  {count:>7}");
    }
    println!("emails sent           {:>7}", r.emails_sent);
    println!("audit items           {:>7}", r.audit_items);
    println!("rejected records      {:>7}", r.rejected_records);
    println!(
        "retries               {:>7}  (stream records and queue messages; {} ingest requests)",
        r.retries, r.requests_retried
    );
    println!(
        "DLQ messages          {:>7}  (and {} stream records given up)",
        r.dlq_messages, r.stream_records_given_up
    );
    println!(
        "faults                {:>7}  injected, {} got past the SDK's retries; {} crash(es)",
        r.faults_injected, r.faults_surfaced, r.crashes
    );
    println!(
        "SES feedback          {:>7}  bounces, {} complaints; {} addresses marked undeliverable, {} notifications undeliverable, {} emails not sent to them",
        r.bounces,
        r.complaints,
        r.addresses_marked_undeliverable,
        r.notifications_undeliverable,
        r.emails_suppressed_undeliverable
    );
    println!(
        "weekly statements     {:>7}  published, {} due; {} planner runs from {} to {} ({} failed)",
        r.statements_published,
        r.statements_expected,
        r.planner_runs,
        r.monday_from.as_deref().unwrap_or("-"),
        r.monday_to.as_deref().unwrap_or("-"),
        r.planner_runs_failed
    );
    println!("lost                  {:>7}", r.lost);
    println!("duplicated            {:>7}", r.duplicated);
    for example in &r.examples {
        println!("  {example}");
    }
    println!(
        "throughput            {:>7.0} transactions/s ({:.1} s, {} processor batches)",
        r.transactions_per_second, r.seconds, r.processor_batches
    );
    if let Some(latency) = &r.insert_to_email {
        println!(
            "insert → email        p50 {} ms, p99 {} ms, max {} ms ({} emails)",
            latency.p50_ms, latency.p99_ms, latency.max_ms, latency.samples
        );
    }
    let per_transaction = |bytes: u64| bytes.checked_div(r.transactions_in).unwrap_or(0);
    println!(
        "store                 {} MB in use ({} bytes per transaction), file {} MB (freed pages are reused)",
        r.store.in_use_bytes / 1_000_000,
        per_transaction(r.store.in_use_bytes),
        r.store.file_bytes / 1_000_000
    );
    if let Some(bytes) = r.peak_rss_bytes {
        println!("peak RSS              {} MB", bytes / 1_000_000);
    }
    if r.shards > 1 {
        let last = r.shards - 1;
        println!(
            "outbox                {}/shard-{{0…{last}}}/outbox/index.html",
            r.data_dir
        );
        println!("metrics (EMF)         {}/shard-{{0…{last}}}/metrics.emf", r.data_dir);
    } else {
        println!("outbox                {}/outbox/index.html", r.data_dir);
        println!("metrics (EMF)         {}/metrics.emf", r.data_dir);
    }
}
