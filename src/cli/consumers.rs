//! `invoke notifier|ingest|digest`: the other handlers on their Lambda event files, with
//! in-memory adapters and a ledger seeded from a file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::invoke::InvokeArgs;
use crate::clock::FrozenClock;
use crate::domain::email::Mailbox;
use crate::local::memory::{LOCAL_SIGNING_SECRET, MemoryBus, MemoryIdempotency, MemoryLedger, MemorySecrets};
use crate::local::outbox::MemoryMailer;
use crate::pipeline::consumer::Reply;
use crate::pipeline::digest::{Digest, DigestConfig, DigestRequest};
use crate::pipeline::ingest::{Ingest, IngestConfig};
use crate::pipeline::notify::{Notifier, NotifyConfig};

pub fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

pub const DEFAULT_LEDGER_SEED: &str = "events/ledger/sample.json";

/// A ledger holding the items of a seed file: a DynamoDB Scan output (`{"Items": [...]}`,
/// as `aws dynamodb scan` prints it) or a stream event (its NewImages).
pub fn seeded_ledger(seed: Option<&PathBuf>) -> Result<MemoryLedger, String> {
    let ledger = MemoryLedger::new();
    let default = PathBuf::from(DEFAULT_LEDGER_SEED);
    let path = match seed {
        Some(path) => path,
        None if default.exists() => &default,
        None => return Ok(ledger),
    };
    let value = read_json(path)?;
    if let Some(items) = value.get("Items").and_then(Value::as_array) {
        for item in items {
            let item = serde_json::from_value(item.clone())
                .map_err(|e| format!("{}: an item is not a DynamoDB attribute map: {e}", path.display()))?;
            ledger.put(item);
        }
    } else if value.get("Records").is_some() {
        ledger.load_stream_images(&value);
    } else {
        return Err(format!(
            "{}: expected {{\"Items\": [...]}} (a Scan output) or a stream event",
            path.display()
        ));
    }
    Ok(ledger)
}

fn reply_json(reply: &Reply) -> Value {
    match reply {
        Reply::Batch(response) => serde_json::to_value(response).unwrap_or(Value::Null),
        Reply::Single(Ok(())) => Value::Null,
        Reply::Single(Err(error)) => json!({ "errorMessage": error }),
    }
}

fn now_of(args: &InvokeArgs) -> DateTime<Utc> {
    args.now.unwrap_or_else(Utc::now)
}

/// The notifier: sends through an in-memory mailer that writes `.eml` files to `--outbox`.
pub fn run_notifier(args: &InvokeArgs) -> Result<ExitCode, String> {
    let payload = read_json(&args.event)?;
    let ledger = seeded_ledger(args.ledger.as_ref())?;
    let from = Mailbox::new(Some("txn-notify"), &args.sender).map_err(|e| format!("--sender: {e}"))?;
    let mailer = match &args.outbox {
        Some(folder) => MemoryMailer::writing_to(folder.clone()),
        None => MemoryMailer::new(),
    };
    let notifier = Notifier::new(
        ledger,
        mailer,
        MemoryIdempotency::new(),
        FrozenClock::at(now_of(args)),
        NotifyConfig::new(from),
    );
    let (reply, stats) = runtime()?.block_on(notifier.handle(payload))?;
    let sent = notifier.mailer.sent();
    let emails: Vec<Value> = sent
        .iter()
        .map(|s| {
            json!({
                "to": s.email.to.address.expose(),
                "subject": s.email.subject.as_str(),
                "file": s.file.as_ref().map(|f| f.display().to_string()),
            })
        })
        .collect();
    if args.json {
        println!(
            "{}",
            json!({ "response": reply_json(&reply), "emails": emails, "stats": stats })
        );
    } else {
        println!(
            "notifier: {} messages: {} sent, {} suppressed, {} not for email, {} duplicates, {} rejected, {} to retry, {} malformed",
            stats.received,
            stats.sent,
            stats.suppressed,
            stats.not_emailed,
            stats.duplicates,
            stats.rejected,
            stats.retried,
            stats.malformed
        );
        if stats.no_profile > 0 {
            println!(
                "{} message(s) for accounts with no profile (seed one with --ledger)",
                stats.no_profile
            );
        }
        for s in &sent {
            let file = s
                .file
                .as_ref()
                .map(|f| format!("  → {}", f.display()))
                .unwrap_or_default();
            println!("  {}{file}", s.email.subject.as_str());
        }
        println!("response: {}", reply_json(&reply));
    }
    Ok(ExitCode::SUCCESS)
}

/// Ingest on an API Gateway HTTP API (v2) request; prints the v2 response.
pub fn run_ingest(args: &InvokeArgs) -> Result<ExitCode, String> {
    let event = read_json(&args.event)?;
    let request = crate::lambda::apigw::request_from_v2(&event)?;
    let ledger = seeded_ledger(args.ledger.as_ref())?;
    let secret = std::env::var("TXN_NOTIFY_SIGNING_SECRET").unwrap_or_else(|_| LOCAL_SIGNING_SECRET.to_string());
    let ingest = Ingest::new(
        ledger,
        MemorySecrets::new(secret.as_bytes()),
        FrozenClock::at(now_of(args)),
        IngestConfig::default(),
    );
    let response = runtime()?.block_on(ingest.handle(request));
    let v2 = crate::lambda::apigw::response_to_v2(&response);
    if args.json {
        println!("{v2}");
    } else {
        println!("ingest: {}", response.status());
        println!("{}", String::from_utf8_lossy(response.body()));
    }
    Ok(ExitCode::SUCCESS)
}

/// The digest on a scheduled event, over the seeded ledger; prints what it published.
pub fn run_digest(args: &InvokeArgs) -> Result<ExitCode, String> {
    let event = read_json(&args.event)?;
    let (request, fired_at) = DigestRequest::from_event(&event)?;
    let now = args.now.or(fired_at).unwrap_or_else(Utc::now);
    let ledger = seeded_ledger(args.ledger.as_ref())?;
    let rules = args.rules.load()?;
    let digest = Digest::new(
        ledger,
        MemoryBus::new(),
        FrozenClock::at(now),
        Arc::clone(&rules),
        DigestConfig::new(args.bus.clone()),
    );
    let report = runtime()?.block_on(digest.run(&request, now))?;
    let published = digest.bus.published();
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
