//! The event-pattern matcher: a PatternSet of 100 and of 1,000 rules against txn-notify
//! events (the processor's real output, in EventBridge envelopes) and AWS service events.
//! Events are parsed beforehand; throughput is in events per second. Two cases:
//! - "cold": thousands of distinct events (about 10 MB), so each one comes from main memory;
//! - "in cache": a few events at a time, as on the bus, which routes an event right after
//!   parsing it.
//!
//! `cargo bench --bench patterns`

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use txn_notify::clock::FrozenClock;
use txn_notify::local::memory::{MemoryBus, MemoryLedger};
use txn_notify::pattern::{Pattern, PatternSet};
use txn_notify::pipeline::{Processor, ProcessorConfig, StreamBatch};
use txn_notify::rules::Rules;
use txn_notify::workload::{WorkloadSpec, generate, stream::to_stream_event};

const DETAIL_TYPES: &[&str] = &[
    "Transaction Recorded",
    "Large Transaction",
    "Low Balance",
    "Spending Limit Reached",
    "Foreign Transaction",
    "Cash Withdrawal",
    "High Risk Merchant",
    "Top-up Completed",
    "Refund Received",
    "Account Opened",
    "Weekly Statement",
    "Record Rejected",
];
const CATEGORIES: &[&str] = &[
    "groceries",
    "restaurants",
    "transport",
    "travel",
    "fuel",
    "cash",
    "gambling",
    "shopping",
];
const CURRENCIES: &[&str] = &["EUR", "USD", "GBP", "XAF", "XOF", "JPY"];

fn txn_notify_events() -> Vec<Value> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let event = to_stream_event(&generate(&WorkloadSpec::new(200, 3_000, 17)));
    let ledger = MemoryLedger::new();
    ledger.load_stream_images(&event);
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-21T00:00:00Z")
        .unwrap()
        .to_utc();
    let processor = Processor::new(
        ledger,
        MemoryBus::new(),
        FrozenClock::at(now),
        Arc::new(Rules::builtin()),
        ProcessorConfig::new("txn-notify"),
    );
    runtime.block_on(processor.process_batch(StreamBatch::from_json(&event.to_string()).unwrap()));
    processor
        .bus
        .published()
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            entry.envelope(
                &format!("6a7e8feb-b491-4cf7-a9f1-{i:012}"),
                "123456789012",
                "eu-west-3",
                now,
            )
        })
        .collect()
}

fn envelope(source: &str, detail_type: &str, detail: Value, i: usize) -> Value {
    json!({
        "version": "0", "id": format!("6a7e8feb-b491-4cf7-a9f1-{i:012}"), "detail-type": detail_type, "source": source,
        "account": "123456789012", "time": "2026-11-20T10:00:01Z", "region": "eu-west-3", "resources": [], "detail": detail,
    })
}

fn aws_events() -> Vec<Value> {
    (0..1_000)
        .map(|i| match i % 3 {
            0 => {
                let state = ["running", "stopped", "pending"][i % 3];
                envelope("aws.ec2", "EC2 Instance State-change Notification", json!({"instance-id": format!("i-{i:017x}"), "state": state}), i)
            }
            1 => envelope("aws.s3", "Object Created", json!({"bucket": {"name": "receipts"}, "object": {"key": format!("2026/11/{i}.pdf"), "size": i * 1024}, "source-ip-address": format!("10.0.{}.{}", i % 255, i % 200)}), i),
            _ => envelope("aws.cloudwatch", "CloudWatch Alarm State Change", json!({"alarmName": format!("alarm-{i}"), "state": {"value": "ALARM"}, "previousState": {"value": "OK"}}), i),
        })
        .collect()
}

/// Rules of the kinds a fintech team writes: by detail-type with conditions on the detail,
/// some on AWS sources, a few that no exact value anchors.
fn patterns(count: usize) -> Vec<(usize, Pattern)> {
    let mut rng = fastrand::Rng::with_seed(99);
    (0..count)
        .map(|i| {
            let detail_type = DETAIL_TYPES[rng.usize(..DETAIL_TYPES.len())];
            let pattern = match i % 10 {
                0 => json!({"source": ["txn-notify"], "detail-type": [detail_type], "detail": {"transaction": {"amount_minor": [{"numeric": [">=", rng.i64(1_000..500_000)]}], "currency": [CURRENCIES[rng.usize(..CURRENCIES.len())]]}}}),
                1 => json!({"source": ["txn-notify"], "detail-type": [detail_type], "detail": {"category": [{"anything-but": [CATEGORIES[rng.usize(..CATEGORIES.len())], "cash"]}]}}),
                2 => json!({"source": ["txn-notify"], "detail-type": [detail_type, "Large Transaction"], "detail": {"severity": ["critical", "warning"]}}),
                3 => json!({"source": ["txn-notify"], "detail-type": [detail_type], "detail": {"transaction": {"merchant": {"name": [{"prefix": {"equals-ignore-case": "carre"}}], "country": [{"anything-but": "FR"}]}}}}),
                4 => json!({"source": ["txn-notify"], "detail-type": [detail_type], "$or": [{"detail": {"severity": ["critical"]}}, {"detail": {"category": ["gambling"]}}]}),
                5 => {
                    let state = ["running", "stopped"][rng.usize(..2)];
                    json!({"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], "detail": {"state": [state]}})
                }
                6 => json!({"source": ["aws.s3"], "detail": {"object": {"key": [{"wildcard": format!("2026/{}/*.pdf", rng.u8(1..13))}]}, "source-ip-address": [{"cidr": "10.0.0.0/16"}]}}),
                7 => json!({"detail-type": [detail_type], "detail": {"account_id": [{"prefix": format!("acc-{:04x}", rng.u16(..))}]}}),
                8 => json!({"source": ["txn-notify"], "detail-type": [detail_type], "detail": {"transaction": {"card_last4": [{"exists": false}]}}}),
                _ => json!({"detail": {"findings": {"severity": ["critical"], "detail_type": [detail_type]}}}),
            };
            (i, Pattern::parse(&pattern).expect("bench patterns are valid"))
        })
        .collect()
}

fn matching(c: &mut Criterion) {
    let txn_events = txn_notify_events();
    let aws = aws_events();
    let mut group = c.benchmark_group("patterns");
    for count in [100, 1_000] {
        let set = PatternSet::build(patterns(count));
        // Sixteen events spread over the whole set, so that the mix of detail-types is kept.
        let sample =
            |events: &[Value]| -> Vec<Value> { events.iter().step_by(events.len() / 16).take(16).cloned().collect() };
        let hot_txn = sample(&txn_events);
        let hot_aws = sample(&aws);
        for (name, events) in [
            ("txn-notify events, cold", &txn_events),
            ("aws envelopes, cold", &aws),
            ("txn-notify events, in cache", &hot_txn),
            ("aws envelopes, in cache", &hot_aws),
        ] {
            group.throughput(Throughput::Elements(events.len() as u64));
            let mut scratch = txn_notify::pattern::Scratch::default();
            group.bench_function(format!("{count} patterns, {name}"), |b| {
                b.iter(|| {
                    let mut matched = 0;
                    for event in events.iter() {
                        set.matching_into(event, &mut scratch);
                        matched += scratch.matched.len();
                    }
                    matched
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
