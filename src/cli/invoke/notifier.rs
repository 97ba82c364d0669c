//! `invoke notifier`: the notifier on an SQS batch of events (or one bare event).

use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value, json};

use super::args::InvokeArgs;
use super::input::{Recorded, now_of, open_store, read_json, reply_json, runtime, seeded_ledger};
use crate::clock::FrozenClock;
use crate::domain::email::Mailbox;
use crate::local::embedded::FixedSecret;
use crate::local::embedded::bus::EmbeddedBus;
use crate::local::embedded::outbox::{OutboxLayout, OutboxMailer};
use crate::local::memory::{MemoryAuditLog, MemoryIdempotency};
use crate::local::memory::{MemoryBus, MemoryMailer};
use crate::pipeline::notify::{Notifier, NotifyConfig};
use crate::ports::BusEntry;
use crate::template::Routes;

/// One email the notifier sent, for the report.
struct Sent {
    to: Option<String>,
    subject: String,
    file: Option<String>,
}

/// The notifier: sends through an in-memory mailer that writes `.eml` files to `--outbox`,
/// or into the outbox of `--data-dir`.
pub fn run(args: &InvokeArgs) -> Result<ExitCode, String> {
    let payload = read_json(&args.event)?;
    let from = Mailbox::new(Some("txn-notify"), &args.sender).map_err(|e| format!("--sender: {e}"))?;
    let config = NotifyConfig::new(from).with_public_api_url(crate::local::LOCAL_API_URL);
    let secret = || FixedSecret::new(crate::local::LOCAL_SIGNING_SECRET.as_bytes());
    let clock = FrozenClock::at(now_of(args));
    let runtime = runtime()?;
    let (reply, stats, sent, published) = match &args.data_dir {
        Some(dir) => {
            let store = open_store(dir)?;
            let before = store.outbox().map_err(|e| e.message)?.len();
            let folder = dir.join("outbox");
            let layout = OutboxLayout::prepare(&store, &folder, OutboxLayout::EmlFiles).map_err(|e| e.to_string())?;
            let mailer = OutboxMailer::new(Arc::clone(&store), folder, layout);
            let bus = Recorded::new(EmbeddedBus::new(Arc::clone(&store), Routes::builtin()));
            let notifier = Notifier::new(
                Arc::clone(&store),
                mailer,
                bus,
                Arc::clone(&store),
                Arc::clone(&store),
                secret(),
                clock,
                config,
            );
            let (reply, stats) = runtime.block_on(notifier.handle(payload)).map_err(|e| e.to_string())?;
            notifier.mailer.write_index().map_err(|e| e.to_string())?;
            let sent: Vec<Sent> = store
                .outbox()
                .map_err(|e| e.message)?
                .into_iter()
                .skip(before)
                .map(|entry| Sent {
                    to: None,
                    subject: entry.subject,
                    file: Some(entry.file),
                })
                .collect();
            (reply, stats, sent, notifier.bus.accepted())
        }
        None => {
            let ledger = seeded_ledger(args.ledger.as_ref())?;
            let mailer = match &args.outbox {
                Some(folder) => MemoryMailer::writing_to(folder.clone()),
                None => MemoryMailer::new(),
            };
            let notifier = Notifier::new(
                ledger,
                mailer,
                Recorded::new(MemoryBus::new()),
                MemoryIdempotency::new(),
                MemoryAuditLog::new(),
                secret(),
                clock,
                config,
            );
            let (reply, stats) = runtime.block_on(notifier.handle(payload)).map_err(|e| e.to_string())?;
            let sent = notifier
                .mailer
                .sent()
                .into_iter()
                .map(|s| Sent {
                    to: Some(s.email.to.address.expose().clone()),
                    subject: s.email.subject.as_str().to_string(),
                    file: s.file.map(|f| f.display().to_string()),
                })
                .collect();
            (reply, stats, sent, notifier.bus.accepted())
        }
    };
    let events: Vec<Value> = published.iter().map(event_json).collect();
    let emails: Vec<Value> = sent
        .iter()
        .map(|s| json!({ "to": s.to, "subject": s.subject, "file": s.file }))
        .collect();
    if args.json {
        println!(
            "{}",
            json!({ "response": reply_json(&reply), "emails": emails, "events": events, "stats": stats })
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
            let hint = if args.data_dir.is_some() {
                ""
            } else {
                " (seed one with --ledger)"
            };
            println!("{} message(s) for accounts with no profile{hint}", stats.no_profile);
        }
        for s in &sent {
            let file = s.file.as_ref().map(|f| format!("  → {f}")).unwrap_or_default();
            println!("  {}{file}", s.subject);
        }
        for event in &published {
            println!("published {}: {}", event.detail_type, event.detail);
        }
        println!("response: {}", reply_json(&reply));
    }
    Ok(ExitCode::SUCCESS)
}

/// A published event, for `--json`.
fn event_json(entry: &BusEntry) -> Value {
    json!({
        "DetailType": entry.detail_type,
        "Source": entry.source,
        "EventBusName": entry.event_bus_name,
        "Detail": serde_json::from_str::<Value>(&entry.detail).unwrap_or(Value::Null),
    })
}
