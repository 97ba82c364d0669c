//! `invoke processor`: the processor on a DynamoDB stream event, with an in-memory ledger
//! seeded from the event's own account images, or on the embedded store of `--data-dir`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value, json};

use super::args::InvokeArgs;
use super::input::{Recorded, open_store, runtime};
use crate::clock::{FrozenClock, SystemClock};
use crate::local::embedded::bus::EmbeddedBus;
use crate::local::memory::{MemoryBus, MemoryLedger};
use crate::pipeline::{BatchOutcome, Processor, ProcessorConfig, StreamBatch};
use crate::ports::{BusEntry, EventBus, Ledger};
use crate::template::Routes;

/// Human output lists at most this many events; `--json` lists them all.
const EVENTS_SHOWN: usize = 25;

pub fn run(args: &InvokeArgs) -> Result<ExitCode, String> {
    let text =
        std::fs::read_to_string(&args.event).map_err(|e| format!("cannot read {}: {e}", args.event.display()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", args.event.display()))?;
    let batch = StreamBatch::from_json(&text).map_err(|e| format!("{}: {e}", args.event.display()))?;
    let rules = args.rules.load()?;
    let runtime = runtime()?;
    let config = ProcessorConfig::new(args.bus.clone());
    let clock = args.now.map(FrozenClock::at);
    let (outcome, published) = match &args.data_dir {
        Some(dir) => {
            let store = open_store(dir)?;
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
    Ok(ExitCode::SUCCESS)
}

async fn run_processor<L: Ledger, B: EventBus>(
    ledger: L,
    bus: B,
    frozen: Option<FrozenClock>,
    rules: Arc<crate::rules::Rules>,
    config: ProcessorConfig,
    batch: StreamBatch<'_>,
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
