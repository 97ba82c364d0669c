//! The processor end to end on in-memory adapters: read the Lambda event in place, decode
//! every record, run the rules, serialize the entries, pack them into PutEvents calls on a
//! bus that only counts them. Throughput is in records per second. `read` is the reading of
//! the batch, each record planned (decoded) as it is read. `txn-notify bench processor
//! --event FILE` measures the same on any file.
//!
//! `cargo bench --bench processor`

use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use txn_notify::clock::FrozenClock;
use txn_notify::local::memory::{MemoryBus, MemoryLedger};
use txn_notify::pipeline::{Processor, ProcessorConfig, StreamBatch};
use txn_notify::rules::{Rules, assess};
use txn_notify::workload::{WorkloadSpec, generate, stream::to_stream_event};

fn stream_event_text(records: usize) -> (String, serde_json::Value) {
    let accounts = (records / 20).max(10);
    let mut writes = generate(&WorkloadSpec::new(accounts, records, 11));
    writes.truncate(records);
    let event = to_stream_event(&writes);
    (event.to_string(), event)
}

fn processor_throughput(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let rules = Arc::new(Rules::builtin());
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-21T00:00:00Z")
        .unwrap()
        .to_utc();
    let mut group = c.benchmark_group("processor");
    for records in [1_000usize, 10_000] {
        let (text, event) = stream_event_text(records);
        let ledger = Arc::new(MemoryLedger::new());
        ledger.load_stream_images(&event);
        group.throughput(Throughput::Elements(records as u64));
        group.sample_size(if records > 1_000 { 10 } else { 30 });
        group.bench_function(format!("{records}_records"), |b| {
            b.iter_batched(
                || {
                    Processor::new(
                        ledger.clone(),
                        MemoryBus::discarding(),
                        FrozenClock::at(now),
                        rules.clone(),
                        ProcessorConfig::new("txn-notify"),
                    )
                },
                |processor| {
                    let batch = StreamBatch::from_json(&text).unwrap();
                    let outcome = runtime.block_on(processor.process_batch(batch));
                    assert!(outcome.response.batch_item_failures.is_empty());
                    outcome.stats.events_published
                },
                BatchSize::LargeInput,
            )
        });
    }
    let (text, _) = stream_event_text(10_000);
    group.throughput(Throughput::Elements(10_000));
    group.sample_size(10);
    group.bench_function("read_10000_records", |b| {
        b.iter(|| StreamBatch::from_json(&text).unwrap().len())
    });
    group.finish();
}

fn rule_engine(c: &mut Criterion) {
    let rules = Rules::builtin();
    let now = chrono::Utc::now();
    let transactions: Vec<_> = generate(&WorkloadSpec::new(50, 1_000, 3))
        .into_iter()
        .filter_map(|w| match w {
            txn_notify::workload::LedgerWrite::Insert { item, .. } => {
                txn_notify::domain::Transaction::decode(&item).ok()
            }
            _ => None,
        })
        .collect();
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(transactions.len() as u64));
    group.bench_function("assess", |b| {
        b.iter(|| {
            transactions
                .iter()
                .map(|t| assess(&rules, t, None, now).findings.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, processor_throughput, rule_engine);
criterion_main!(benches);
