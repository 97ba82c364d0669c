//! The embedded store's hot paths, one SQLite file in a temporary folder: what ingest writes
//! per transaction (alone: a commit each, as the API does), what a batch writes inside one
//! group commit (as the runtime does), a queue's receive and deletes, and the stream read by
//! the poller. Throughput is in operations per second.
//!
//! `cargo bench --bench store`

use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use txn_notify::clock::SystemClock;
use txn_notify::domain::LedgerItem;
use txn_notify::local::embedded::store::EmbeddedStore;
use txn_notify::ports::Ledger;
use txn_notify::template::Routes;
use txn_notify::workload::{LedgerWrite, WorkloadSpec, generate};

fn transactions(n: usize, seed: u64) -> Vec<txn_notify::domain::Transaction> {
    generate(&WorkloadSpec::new(50, n, seed))
        .into_iter()
        .filter_map(|write| match write {
            LedgerWrite::Insert { item, .. } => match LedgerItem::decode(&item) {
                Ok(LedgerItem::Transaction(transaction)) => Some(*transaction),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn fresh_store(name: &str) -> Arc<EmbeddedStore<SystemClock>> {
    let dir = std::env::temp_dir().join(format!("txn-notify-bench-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Arc::new(EmbeddedStore::open(&dir, SystemClock).unwrap())
}

fn store_paths(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut group = c.benchmark_group("store");
    group.sample_size(10);

    // A transaction: its marker, its item and their stream records.
    let store = fresh_store("put");
    let mut seed = 0;
    group.throughput(Throughput::Elements(100));
    // Alone, a commit each (the API); in one group, one commit (a batch of the runtime).
    for (name, grouped) in [
        ("put_transaction_100_commits", false),
        ("put_transaction_100_one_group", true),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    seed += 1;
                    transactions(100, seed)
                },
                |batch| {
                    runtime.block_on(async {
                        let commit = grouped.then(|| store.group());
                        for transaction in &batch {
                            store.put_transaction(transaction, "fp").await.unwrap();
                        }
                        if let Some(commit) = commit {
                            commit.commit().unwrap();
                        }
                    })
                },
                BatchSize::LargeInput,
            )
        });
    }

    // What the poller reads: 100 records at a time from a stream of 20,000.
    let head = store.stream_head().unwrap();
    let mut after = 0;
    group.bench_function("read_stream_100", |b| {
        b.iter(|| {
            let entries = store.read_stream(after, 100).unwrap();
            after = if after + 200 > head { 0 } else { after + 100 };
            entries.len()
        })
    });

    // A queue batch: 10 messages of 2 KiB received and deleted in one group, as a consumer's.
    let settings = Routes::builtin().queues["NotifyQueue"].clone();
    let body = format!("{{\"detail\":\"{}\"}}", "x".repeat(2_000));
    group.throughput(Throughput::Elements(10));
    group.bench_function("enqueue_receive_delete_10", |b| {
        b.iter(|| {
            let group = store.group();
            for _ in 0..10 {
                store.enqueue("NotifyQueue", &body).unwrap();
            }
            let received = store.receive("NotifyQueue", &settings, 10).unwrap();
            for message in &received {
                assert!(store.delete_message("NotifyQueue", &message.receipt).unwrap());
            }
            group.commit().unwrap();
            received.len()
        })
    });
    group.finish();
}

criterion_group!(benches, store_paths);
criterion_main!(benches);
