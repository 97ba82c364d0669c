//! `invoke digest`: a run of the weekly schedule as on AWS — the planner for the event's hour,
//! then the workers on every page it queued — and the statements they published.

use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value, json};

use super::args::InvokeArgs;
use super::input::{Recorded, open_store, read_json, runtime, seeded_ledger};
use crate::clock::FrozenClock;
use crate::local::embedded::StoreQueue;
use crate::local::embedded::bus::EmbeddedBus;
use crate::local::embedded::bus::queue_runner::deliver;
use crate::local::memory::{MemoryBus, MemoryQueue};
use crate::pipeline::digest::{
    DigestPage, DigestPlanner, DigestWorker, PageReport, PlanReport, PlanRequest, PlannerConfig, WorkerConfig,
};
use crate::ports::BusEntry;
use crate::template::{DIGEST_QUEUE, Routes, Template, functions};

struct Outcome {
    plan: PlanReport,
    pages: PageReport,
    pages_failed: u64,
    published: Vec<BusEntry>,
}

/// The planner, then the workers, over the seeded ledger (or the store of `--data-dir`).
pub fn run(args: &InvokeArgs) -> Result<ExitCode, String> {
    let event = read_json(&args.event)?;
    let fallback = args.now.unwrap_or_else(chrono::Utc::now);
    let request = PlanRequest::from_event(&event, fallback).map_err(|e| e.to_string())?;
    let clock = Arc::new(FrozenClock::at(args.now.unwrap_or_else(|| request.hour.start())));
    let rules = args.rules.load()?;
    let config = WorkerConfig::new(args.bus.clone());
    let outcome = match &args.data_dir {
        Some(dir) => {
            let store = open_store(dir)?;
            let routes = Routes::builtin();
            let settings = routes
                .queues
                .get(DIGEST_QUEUE)
                .cloned()
                .ok_or_else(|| format!("template.yaml has no {DIGEST_QUEUE}"))?;
            let batch_size = Template::builtin()
                .queue_sources()
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|s| s.function == functions::DIGEST_WORKER)
                .map_or(10, |s| s.batch_size);
            let bus = Arc::new(Recorded::new(EmbeddedBus::new(Arc::clone(&store), routes)));
            let planner = DigestPlanner::new(
                Arc::clone(&store),
                StoreQueue::new(Arc::clone(&store), DIGEST_QUEUE),
                Arc::clone(&clock),
                PlannerConfig::default(),
            );
            let worker = DigestWorker::new(Arc::clone(&store), Arc::clone(&bus), Arc::clone(&clock), rules, config);
            runtime()?.block_on(async {
                let plan = planner.run(&request).await;
                let mut pages = PageReport::default();
                let mut pages_failed = 0;
                // Like the event source mapping: batches until nothing is visible; a failed
                // page stays on the queue for the next `dev` tick (or this command again).
                loop {
                    let mut totals = None;
                    let delivered = deliver(&store, DIGEST_QUEUE, &settings, batch_size, |batch| {
                        let payload = serde_json::from_str(&batch.event_text());
                        async {
                            let payload = payload.map_err(|e| e.to_string())?;
                            let batch = worker.handle_batch(payload).await.map_err(|e| e.to_string())?;
                            totals = Some(batch.totals.clone());
                            pages_failed += batch.response.batch_item_failures.len() as u64;
                            serde_json::to_value(&batch.response).map_err(|e| e.to_string())
                        }
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                    if let Some(totals) = totals {
                        pages.add(&totals);
                    }
                    if delivered.received == 0 || delivered.failed == delivered.received {
                        break;
                    }
                }
                Ok::<_, String>(Outcome {
                    plan,
                    pages,
                    pages_failed,
                    published: bus.accepted(),
                })
            })?
        }
        None => {
            let ledger = Arc::new(seeded_ledger(args.ledger.as_ref())?);
            let queue = Arc::new(MemoryQueue::new());
            let bus = Arc::new(Recorded::new(MemoryBus::new()));
            let planner = DigestPlanner::new(
                Arc::clone(&ledger),
                Arc::clone(&queue),
                Arc::clone(&clock),
                PlannerConfig::default(),
            );
            let worker = DigestWorker::new(ledger, Arc::clone(&bus), clock, rules, config);
            runtime()?.block_on(async {
                let plan = planner.run(&request).await;
                let mut pages = PageReport::default();
                let mut pages_failed = 0;
                for body in queue.drain() {
                    match DigestPage::parse(&body) {
                        Ok((page, week)) => {
                            let report = worker.work(&page, &week).await;
                            pages_failed += u64::from(!report.complete());
                            pages.add(&report);
                        }
                        Err(_) => pages_failed += 1,
                    }
                }
                Outcome {
                    plan,
                    pages,
                    pages_failed,
                    published: bus.accepted(),
                }
            })
        }
    };
    print(args, &request, &outcome);
    // Incomplete: on AWS the run (or the page) would be retried.
    Ok(if outcome.plan.complete() && outcome.pages_failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print(args: &InvokeArgs, request: &PlanRequest, outcome: &Outcome) {
    let events = published_events(&outcome.published);
    if args.json {
        println!(
            "{}",
            json!({
                "plan": outcome.plan,
                "workers": outcome.pages,
                "pages_failed": outcome.pages_failed,
                "published": events,
            })
        );
        return;
    }
    let plan = &outcome.plan;
    println!(
        "digest planner, run of {}: {} zones due, {} with accounts; {} accounts in {} pages",
        request.hour.start().format("%Y-%m-%d %H:%M UTC"),
        plan.zones_due,
        plan.zones.len(),
        plan.accounts_read,
        plan.messages_sent
    );
    for zone in &plan.zones {
        println!("  {}: {} accounts", zone.zone, zone.accounts);
    }
    if let Some(error) = &plan.error {
        println!("  the plan stopped: {error}");
    }
    let pages = &outcome.pages;
    println!(
        "digest workers: {} statements, {} accounts without transactions, {} not due, {} failed",
        pages.statements_published,
        pages.accounts_without_transactions,
        pages.accounts_not_due,
        pages.accounts_failed.len()
    );
    print_statements(&events);
}

/// The workers alone on an SQS batch of pages, over the seeded ledger (or the store of
/// `--data-dir`): the Lambda reply, and the statements published.
pub fn run_worker(args: &InvokeArgs) -> Result<ExitCode, String> {
    let payload = read_json(&args.event)?;
    let clock = Arc::new(FrozenClock::at(args.now.unwrap_or_else(chrono::Utc::now)));
    let rules = args.rules.load()?;
    let config = WorkerConfig::new(args.bus.clone());
    let (batch, published) = match &args.data_dir {
        Some(dir) => {
            let store = open_store(dir)?;
            let bus = Arc::new(Recorded::new(EmbeddedBus::new(Arc::clone(&store), Routes::builtin())));
            let worker = DigestWorker::new(store, Arc::clone(&bus), clock, rules, config);
            let batch = runtime()?
                .block_on(worker.handle_batch(payload))
                .map_err(|e| e.to_string())?;
            (batch, bus.accepted())
        }
        None => {
            let bus = Arc::new(Recorded::new(MemoryBus::new()));
            let worker = DigestWorker::new(
                seeded_ledger(args.ledger.as_ref())?,
                Arc::clone(&bus),
                clock,
                rules,
                config,
            );
            let batch = runtime()?
                .block_on(worker.handle_batch(payload))
                .map_err(|e| e.to_string())?;
            (batch, bus.accepted())
        }
    };
    let response = serde_json::to_value(&batch.response).unwrap_or(Value::Null);
    let events = published_events(&published);
    if args.json {
        println!(
            "{}",
            json!({"response": response, "workers": batch.totals, "malformed": batch.malformed, "published": events})
        );
    } else {
        let t = &batch.totals;
        println!(
            "digest workers: {} pages ({} malformed, {} to retry): {} statements, {} without transactions, {} not due",
            batch.messages,
            batch.malformed,
            batch.retried,
            t.statements_published,
            t.accounts_without_transactions,
            t.accounts_not_due
        );
        print_statements(&events);
        println!("response: {response}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The entries put on the bus, as PutEvents carried them: `DetailType` and the parsed `Detail`.
fn published_events(published: &[BusEntry]) -> Vec<Value> {
    published
        .iter()
        .map(|e| {
            let detail = serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null);
            json!({"DetailType": e.detail_type, "Detail": detail})
        })
        .collect()
}

fn print_statements(events: &[Value]) {
    for detail in events.iter().map(|e| &e["Detail"]) {
        println!(
            "  Weekly Statement {} week of {} ({}): {} transactions",
            detail["account_id"].as_str().unwrap_or_default(),
            detail["week"]["start"].as_str().unwrap_or_default(),
            detail["week"]["time_zone"].as_str().unwrap_or_default(),
            detail["transaction_count"]
        );
    }
}
