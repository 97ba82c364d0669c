use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::consumers::Recorded;
use super::{Function, RulesSource};
use crate::clock::{FrozenClock, SystemClock};
use crate::local::bus::EmbeddedBus;
use crate::local::bus::routes::Routes;
use crate::local::memory::{MemoryBus, MemoryLedger};
use crate::pipeline::{BatchOutcome, Processor, ProcessorConfig, StreamBatch};
use crate::ports::{BusEntry, EventBus, Ledger};
use std::sync::Arc;

/// Human output lists at most this many events; `--json` lists them all.
const EVENTS_SHOWN: usize = 25;

#[derive(Debug, clap::Args)]
pub struct InvokeArgs {
    /// The handler to run.
    function: Function,
    /// A Lambda event file (JSON).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) event: PathBuf,
    /// Print one JSON object (processor: {"response", "published"}; notifier: {"response",
    /// "emails"}; ingest: the API Gateway response; digest: {"report", "published"}).
    #[arg(long)]
    pub(crate) json: bool,
    /// The event bus name put on every entry.
    #[arg(long, env = "TXN_NOTIFY_EVENT_BUS", default_value = "txn-notify")]
    pub(crate) bus: String,
    /// Run as if it were this time (RFC 3339), for reproducible output and for the signed
    /// sample requests of events/api/.
    #[arg(long, value_name = "TIME")]
    pub(crate) now: Option<DateTime<Utc>>,
    #[command(flatten)]
    pub(crate) rules: RulesSource,
    /// notifier: also write each email as an RFC 5322 .eml file into this folder.
    #[arg(long, value_name = "DIR")]
    pub(crate) outbox: Option<PathBuf>,
    /// notifier, ingest, digest: seed the in-memory ledger from this file: a DynamoDB Scan
    /// output ({"Items": [...]}) or a stream event. Default: events/ledger/sample.json when
    /// it exists (run from the repository), else an empty ledger.
    #[arg(long, value_name = "FILE")]
    pub(crate) ledger: Option<PathBuf>,
    /// notifier: the sender address.
    #[arg(long, env = "TXN_NOTIFY_SENDER", default_value = "alerts@txn-notify.example")]
    pub(crate) sender: String,
    /// Run against the embedded store in this folder (as `dev` and `simulate` keep it)
    /// instead of in-memory adapters: the processor reads profiles from its ledger and
    /// publishes onto its bus (archive and queues); the notifier sends into its outbox under
    /// its idempotency records; the auditor writes its audit items; ingest and the digest
    /// read and write its ledger. `--ledger` does not apply.
    #[arg(long, value_name = "DIR", conflicts_with = "ledger")]
    pub(crate) data_dir: Option<PathBuf>,
}

pub fn run(args: InvokeArgs) -> ExitCode {
    let handled = match args.function {
        Function::Processor => None,
        Function::Auditor => return run_auditor(&args),
        Function::Notifier => Some(super::consumers::run_notifier(&args)),
        Function::Ingest => Some(super::consumers::run_ingest(&args)),
        Function::Digest => Some(super::consumers::run_digest(&args)),
    };
    if let Some(result) = handled {
        return result.unwrap_or_else(|message| super::fail(args.json, &message));
    }
    let text = match std::fs::read_to_string(&args.event) {
        Ok(text) => text,
        Err(e) => return super::fail(args.json, &format!("cannot read {}: {e}", args.event.display())),
    };
    let value: Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(e) => return super::fail(args.json, &format!("{} is not JSON: {e}", args.event.display())),
    };
    let batch = match StreamBatch::from_json(&text) {
        Ok(batch) => batch,
        Err(e) => return super::fail(args.json, &format!("{}: {e}", args.event.display())),
    };
    let rules = match args.rules.load() {
        Ok(rules) => rules,
        Err(message) => return super::fail(args.json, &message),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(args.json, &format!("cannot start the runtime: {e}")),
    };
    let config = ProcessorConfig::new(args.bus.clone());
    let clock = args.now.map(FrozenClock::at);
    let (outcome, published) = match &args.data_dir {
        Some(dir) => {
            let store = match super::consumers::open_store(dir) {
                Ok(store) => store,
                Err(message) => return super::fail(args.json, &message),
            };
            let bus = EmbeddedBus::new(Arc::clone(&store), Routes::builtin());
            runtime.block_on(run_processor(store, bus, clock, rules, config, batch))
        }
        None => {
            let ledger = MemoryLedger::new();
            ledger.load_stream_images(&value);
            runtime.block_on(run_processor(ledger, MemoryBus::new(), clock, rules, config, batch))
        }
    };
    if args.json {
        let output = json!({
            "response": outcome.response,
            "published": published.iter().map(entry_json).collect::<Vec<_>>(),
        });
        println!("{output}");
    } else {
        print_report(&outcome, &published);
    }
    ExitCode::SUCCESS
}

async fn run_processor<L: Ledger, B: EventBus>(
    ledger: L,
    bus: B,
    frozen: Option<FrozenClock>,
    rules: Arc<crate::rules::Rules>,
    config: ProcessorConfig,
    batch: StreamBatch,
) -> (BatchOutcome, Vec<BusEntry>) {
    let bus = Arc::new(Recorded::new(bus));
    let outcome = match frozen {
        Some(clock) => {
            Processor::new(ledger, Arc::clone(&bus), clock, rules, config)
                .process_batch(batch)
                .await
        }
        None => {
            Processor::new(ledger, Arc::clone(&bus), SystemClock, rules, config)
                .process_batch(batch)
                .await
        }
    };
    (outcome, bus.accepted())
}

fn entry_json(entry: &BusEntry) -> Value {
    json!({
        "Source": entry.source,
        "DetailType": entry.detail_type,
        "Detail": serde_json::from_str::<Value>(&entry.detail).unwrap_or(Value::Null),
        "EventBusName": entry.event_bus_name,
    })
}

fn print_report(outcome: &BatchOutcome, published: &[BusEntry]) {
    let s = &outcome.stats;
    println!(
        "processor: {} records: {} processed, {} ignored, {} rejected, {} to retry",
        s.records_received, s.records_processed, s.records_ignored, s.records_rejected, s.records_retried
    );
    println!(
        "published {} events in {} PutEvents calls",
        s.events_published, s.put_events_calls
    );
    let width = s.events_by_detail_type.keys().map(|k| k.len()).max().unwrap_or(0);
    for (detail_type, count) in &s.events_by_detail_type {
        println!("  {detail_type:<width$}  {count:>6}");
    }
    print_counts("ignored", &s.ignored_by_reason);
    print_counts("rejected", &s.rejected_by_reason);
    if let Some(error) = &s.last_error {
        println!("last error: {error}");
    }
    println!();
    for entry in published.iter().take(EVENTS_SHOWN) {
        println!("{}", describe(entry));
    }
    if published.len() > EVENTS_SHOWN {
        println!("… and {} more (--json lists them all)", published.len() - EVENTS_SHOWN);
    }
    println!();
    println!(
        "response: {}",
        serde_json::to_string(&outcome.response).unwrap_or_else(|_| "?".into())
    );
}

fn print_counts(label: &str, counts: &BTreeMap<&'static str, u64>) {
    if !counts.is_empty() {
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("{label}: {}", parts.join(", "));
    }
}

/// One line per event: detail-type, account, and what it is about.
fn describe(entry: &BusEntry) -> String {
    let detail: Value = serde_json::from_str(&entry.detail).unwrap_or(Value::Null);
    let text = |pointer: &str| detail.pointer(pointer).and_then(Value::as_str).unwrap_or("");
    let about = match detail.pointer("/transaction") {
        Some(t) => {
            let amount = t.get("amount_minor").and_then(Value::as_i64).unwrap_or(0);
            let currency = t.get("currency").and_then(Value::as_str).unwrap_or("");
            let money = crate::domain::Currency::from_code(currency)
                .map(|c| crate::domain::Money::new(amount, c).to_string())
                .unwrap_or_default();
            let reversed = if text("/change") == "reversed" {
                " (reversed)"
            } else {
                ""
            };
            format!(
                "{} {} {} {}{reversed}",
                text("/transaction/transaction_id"),
                text("/transaction/kind"),
                money,
                text("/category")
            )
        }
        None if entry.detail_type == "Record Rejected" => format!("{}: {}", text("/reason_code"), text("/reason")),
        None => String::new(),
    };
    let account = detail.get("account_id").and_then(Value::as_str).unwrap_or("-");
    format!(
        "{:<22} {:<8} {:<18} {}",
        entry.detail_type,
        text("/severity"),
        account,
        about
    )
}

/// The auditor on an SQS batch of EventBridge events (or one bare event), with an in-memory
/// audit log: prints the Lambda reply and what was written.
fn run_auditor(args: &InvokeArgs) -> ExitCode {
    use crate::local::memory::MemoryAuditLog;
    use crate::pipeline::audit::{AuditConfig, Auditor};
    use crate::pipeline::consumer::Reply;

    let payload: Value = match std::fs::read_to_string(&args.event)
        .map_err(|e| format!("cannot read {}: {e}", args.event.display()))
        .and_then(|text| serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", args.event.display())))
    {
        Ok(payload) => payload,
        Err(message) => return super::fail(args.json, &message),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(args.json, &format!("cannot start the runtime: {e}")),
    };
    let now = args.now.unwrap_or_else(chrono::Utc::now);
    let handled = match &args.data_dir {
        Some(dir) => super::consumers::open_store(dir).and_then(|store| {
            let before = store.audit_records().map_err(|e| e.message)?.len();
            let auditor = Auditor::new(Arc::clone(&store), FrozenClock::at(now), AuditConfig::default());
            let (reply, stats) = runtime.block_on(auditor.handle(payload))?;
            let records: Vec<Value> = store.audit_records().map_err(|e| e.message)?.split_off(before);
            Ok((reply, stats, records))
        }),
        None => {
            let auditor = Auditor::new(MemoryAuditLog::new(), FrozenClock::at(now), AuditConfig::default());
            runtime.block_on(auditor.handle(payload)).map(|(reply, stats)| {
                let records = auditor
                    .log
                    .records()
                    .iter()
                    .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
                    .collect();
                (reply, stats, records)
            })
        }
    };
    let (reply, stats, records) = match handled {
        Ok(done) => done,
        Err(message) => return super::fail(args.json, &message),
    };
    let response = match &reply {
        Reply::Batch(response) => serde_json::to_value(response).unwrap_or(Value::Null),
        Reply::Single(Ok(())) => Value::Null,
        Reply::Single(Err(error)) => json!({ "errorMessage": error }),
    };
    if args.json {
        println!(
            "{}",
            json!({ "response": response, "audit": stats, "records": records })
        );
    } else {
        println!(
            "auditor: {} messages: {} written, {} duplicates, {} replays, {} to retry, {} malformed",
            stats.received, stats.written, stats.duplicates, stats.replays, stats.retried, stats.malformed
        );
        for record in &records {
            let text = |field: &str| record[field].as_str().unwrap_or("-").to_string();
            println!(
                "  {:<22} {:<18} {}",
                text("detail_type"),
                text("account_id"),
                text("event_id")
            );
        }
        println!("response: {response}");
    }
    ExitCode::SUCCESS
}
