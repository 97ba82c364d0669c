//! `invoke auditor`: the auditor on an SQS batch of EventBridge events (or one bare event).

use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value, json};

use super::args::InvokeArgs;
use super::input::{now_of, open_store, read_json, reply_json, runtime};
use crate::clock::FrozenClock;
use crate::local::memory::MemoryAuditLog;
use crate::pipeline::audit::{AuditConfig, Auditor};

/// The auditor with an in-memory audit log, or on the audit items of `--data-dir`: prints
/// the Lambda reply and what was written.
pub fn run(args: &InvokeArgs) -> Result<ExitCode, String> {
    let payload = read_json(&args.event)?;
    let runtime = runtime()?;
    let now = now_of(args);
    let handled = match &args.data_dir {
        Some(dir) => open_store(dir).and_then(|store| {
            let before = store.audit_records().map_err(|e| e.message)?.len();
            let auditor = Auditor::new(Arc::clone(&store), FrozenClock::at(now), AuditConfig::default());
            let (reply, stats) = runtime.block_on(auditor.handle(payload)).map_err(|e| e.to_string())?;
            let records: Vec<Value> = store.audit_records().map_err(|e| e.message)?.split_off(before);
            Ok((reply, stats, records))
        }),
        None => {
            let auditor = Auditor::new(MemoryAuditLog::new(), FrozenClock::at(now), AuditConfig::default());
            runtime
                .block_on(auditor.handle(payload))
                .map_err(|e| e.to_string())
                .map(|(reply, stats)| {
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
    let (reply, stats, records) = handled?;
    let response = reply_json(&reply);
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
    Ok(ExitCode::SUCCESS)
}
