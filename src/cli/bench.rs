//! `txn-notify bench processor --event FILE`: the processor in process on a stream event
//! file, as the Lambda function runs it (the payload's text in, the PutEvents calls out),
//! timed over several iterations. The ledger is seeded from the file's own images, as
//! `invoke processor` does; the bus checks every call as EventBridge does and keeps
//! nothing, so the figures are the processor's own.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::clock::SystemClock;
use crate::local::memory::{MemoryBus, MemoryLedger};
use crate::pipeline::{BatchStats, Processor, ProcessorConfig, StreamBatch};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: BenchTarget,
}

#[derive(Debug, clap::Subcommand)]
enum BenchTarget {
    /// The processor on a DynamoDB stream event file (`events generate` makes one).
    Processor(ProcessorBenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct ProcessorBenchArgs {
    /// A DynamoDB stream event, as Lambda delivers it.
    #[arg(long)]
    event: PathBuf,
    /// Timed runs over the whole file (after one untimed run).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    iterations: u32,
    #[arg(long, env = "TXN_NOTIFY_EVENT_BUS", default_value = "txn-notify")]
    bus: String,
    #[command(flatten)]
    rules: super::RulesSource,
    #[arg(long)]
    json: bool,
}

pub fn run(args: BenchArgs) -> ExitCode {
    match args.target {
        BenchTarget::Processor(args) => match processor(&args) {
            Ok(figures) => {
                figures.print(args.json);
                ExitCode::SUCCESS
            }
            Err(message) => super::fail(args.json, &message),
        },
    }
}

/// What one bench run measured.
struct Figures {
    records: u64,
    events: u64,
    put_events_calls: u32,
    iterations: u32,
    /// The fastest and the median iteration.
    best: Duration,
    median: Duration,
    peak_rss_bytes: Option<u64>,
}

impl Figures {
    fn per_second(count: u64, time: Duration) -> f64 {
        count as f64 / time.as_secs_f64().max(1e-9)
    }

    fn print(&self, json: bool) {
        let records_per_second = Self::per_second(self.records, self.median);
        let events_per_second = Self::per_second(self.events, self.median);
        if json {
            let output = json!({
                "records": self.records,
                "events": self.events,
                "iterations": self.iterations,
                "records_per_second": records_per_second.round() as u64,
                "events_per_second": events_per_second.round() as u64,
                "best_records_per_second": Self::per_second(self.records, self.best).round() as u64,
                "median_seconds": self.median.as_secs_f64(),
                "put_events_calls": self.put_events_calls,
                "peak_rss_bytes": self.peak_rss_bytes,
            });
            println!("{output}");
            return;
        }
        println!(
            "processor: {} records → {} events in {} PutEvents calls, {} iterations",
            self.records, self.events, self.put_events_calls, self.iterations
        );
        println!(
            "  {:.0} records/s, {:.0} events/s (median iteration {:.2} ms; best {:.0} records/s)",
            records_per_second,
            events_per_second,
            self.median.as_secs_f64() * 1000.0,
            Self::per_second(self.records, self.best)
        );
        match self.peak_rss_bytes {
            Some(bytes) => println!("  peak RSS {:.1} MiB", bytes as f64 / (1024.0 * 1024.0)),
            None => println!("  peak RSS: not measured on this system"),
        }
    }
}

fn processor(args: &ProcessorBenchArgs) -> Result<Figures, String> {
    let text =
        std::fs::read_to_string(&args.event).map_err(|e| format!("cannot read {}: {e}", args.event.display()))?;
    // Refused with the processor's own words; read in place, so the seeding builds no tree.
    let batch = StreamBatch::with_images(&text).map_err(|e| format!("{}: {e}", args.event.display()))?;
    let ledger = Arc::new(MemoryLedger::new());
    ledger.load_stream_batch(&batch);
    drop(batch);
    let rules = args.rules.load()?;
    let runtime = super::invoke::input::runtime()?;
    let run_once = || -> Result<(Duration, BatchStats), String> {
        let processor = Processor::new(
            Arc::clone(&ledger),
            MemoryBus::discarding(),
            SystemClock,
            Arc::clone(&rules),
            ProcessorConfig::new(args.bus.clone()),
        );
        let started = Instant::now();
        let batch = StreamBatch::from_json(&text).map_err(|e| e.to_string())?;
        let outcome = runtime.block_on(processor.process_batch(batch));
        Ok((started.elapsed(), outcome.stats))
    };
    // Warm: the first run pays for the page faults of its allocations.
    let (_, stats) = run_once()?;
    // The high-water mark starts again from here: the file and the seeded ledger stay in.
    crate::telemetry::peak_rss::reset();
    let mut times = Vec::with_capacity(args.iterations as usize);
    for _ in 0..args.iterations {
        times.push(run_once()?.0);
    }
    times.sort();
    Ok(Figures {
        records: stats.records_received,
        events: stats.events_published,
        put_events_calls: stats.put_events_calls,
        iterations: args.iterations,
        best: times[0],
        median: times[times.len() / 2],
        peak_rss_bytes: crate::telemetry::peak_rss::read(),
    })
}
