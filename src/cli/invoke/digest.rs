//! `invoke digest`: the weekly digest on a scheduled event.

use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::args::InvokeArgs;
use super::input::{Recorded, open_store, read_json, runtime, seeded_ledger};
use crate::clock::FrozenClock;
use crate::local::embedded::bus::EmbeddedBus;
use crate::local::memory::MemoryBus;
use crate::pipeline::digest::{Digest, DigestConfig, DigestRequest};
use crate::ports::{BusEntry, EventBus, Ledger};
use crate::template::Routes;

/// The digest on a scheduled event, over the seeded ledger; prints what it published.
pub fn run(args: &InvokeArgs) -> Result<ExitCode, String> {
    let event = read_json(&args.event)?;
    let (request, fired_at) = DigestRequest::from_event(&event).map_err(|e| e.to_string())?;
    let now = args.now.or(fired_at).unwrap_or_else(Utc::now);
    let rules = args.rules.load()?;
    async fn run(
        ledger: impl Ledger,
        bus: impl EventBus,
        now: DateTime<Utc>,
        rules: Arc<crate::rules::Rules>,
        config: DigestConfig,
        request: &DigestRequest,
    ) -> Result<(crate::pipeline::digest::DigestReport, Vec<BusEntry>), String> {
        let bus = Arc::new(Recorded::new(bus));
        let digest = Digest::new(ledger, Arc::clone(&bus), FrozenClock::at(now), rules, config);
        let report = digest.run(request, now).await.map_err(|e| e.to_string())?;
        Ok((report, bus.accepted()))
    }
    let config = DigestConfig::new(args.bus.clone());
    let (report, published) = match &args.data_dir {
        Some(dir) => {
            let store = open_store(dir)?;
            let bus = EmbeddedBus::new(Arc::clone(&store), Routes::builtin());
            runtime()?.block_on(run(store, bus, now, rules, config, &request))?
        }
        None => runtime()?.block_on(run(
            seeded_ledger(args.ledger.as_ref())?,
            MemoryBus::new(),
            now,
            rules,
            config,
            &request,
        ))?,
    };
    if args.json {
        let events: Vec<Value> = published
            .iter()
            .map(|e| json!({"DetailType": e.detail_type, "Detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null)}))
            .collect();
        println!("{}", json!({ "report": report, "published": events }));
    } else {
        println!(
            "digest: {} accounts: {} statements, {} without transactions, {} failed",
            report.accounts_scanned,
            report.statements_published,
            report.accounts_without_transactions,
            report.accounts_failed.len()
        );
        for entry in &published {
            let detail: Value = serde_json::from_str(&entry.detail).unwrap_or(Value::Null);
            println!(
                "  {} {} week of {}: {} transactions",
                entry.detail_type, detail["account_id"], detail["week"]["start"], detail["transaction_count"]
            );
        }
    }
    // Incomplete: the schedule must retry the invocation.
    Ok(if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
