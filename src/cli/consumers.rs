//! `invoke notifier|ingest|digest`: the other handlers on their Lambda event files, with
//! in-memory adapters and a ledger seeded from a file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::invoke::InvokeArgs;
use crate::clock::FrozenClock;
use crate::clock::SystemClock;
use crate::domain::email::Mailbox;
use crate::local::bus::EmbeddedBus;
use crate::local::bus::routes::Routes;
use crate::local::memory::{LOCAL_SIGNING_SECRET, MemoryBus, MemoryIdempotency, MemoryLedger, MemorySecrets};
use crate::local::outbox::{MemoryMailer, OutboxMailer};
use crate::local::store::EmbeddedStore;
use crate::pipeline::consumer::Reply;
use crate::pipeline::digest::{Digest, DigestConfig, DigestRequest};
use crate::pipeline::ingest::{Ingest, IngestConfig};
use crate::pipeline::notify::{Notifier, NotifyConfig};
use crate::ports::{BusEntry, EntryResult, EventBus, Ledger, PortError};

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

/// The embedded store of a folder (`dev`, `simulate`), created when there is none.
pub fn open_store(dir: &Path) -> Result<Arc<EmbeddedStore<SystemClock>>, String> {
    EmbeddedStore::open(dir, SystemClock).map(Arc::new)
}

/// A bus that keeps a copy of each entry the bus behind it accepted, for the report.
pub(super) struct Recorded<B> {
    inner: B,
    accepted: std::sync::Mutex<Vec<BusEntry>>,
}

impl<B> Recorded<B> {
    pub(super) fn new(inner: B) -> Self {
        Recorded {
            inner,
            accepted: Default::default(),
        }
    }

    pub(super) fn accepted(&self) -> Vec<BusEntry> {
        self.accepted.lock().expect("recorded lock").clone()
    }
}

impl<B: EventBus> EventBus for Recorded<B> {
    async fn put_events(&self, entries: &[&BusEntry]) -> Result<Vec<EntryResult>, PortError> {
        let results = self.inner.put_events(entries).await?;
        let mut accepted = self.accepted.lock().expect("recorded lock");
        for (entry, result) in entries.iter().zip(&results) {
            if matches!(result, EntryResult::Accepted { .. }) {
                accepted.push((*entry).clone());
            }
        }
        Ok(results)
    }
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

/// One email the notifier sent, for the report.
struct Sent {
    to: Option<String>,
    subject: String,
    file: Option<String>,
}

/// The notifier: sends through an in-memory mailer that writes `.eml` files to `--outbox`,
/// or into the outbox of `--data-dir`.
pub fn run_notifier(args: &InvokeArgs) -> Result<ExitCode, String> {
    let payload = read_json(&args.event)?;
    let from = Mailbox::new(Some("txn-notify"), &args.sender).map_err(|e| format!("--sender: {e}"))?;
    let config = NotifyConfig::new(from);
    let clock = FrozenClock::at(now_of(args));
    let runtime = runtime()?;
    let (reply, stats, sent) = match &args.data_dir {
        Some(dir) => {
            let store = open_store(dir)?;
            let before = store.outbox().map_err(|e| e.message)?.len();
            let mailer = OutboxMailer::new(Arc::clone(&store), dir.join("outbox"));
            let notifier = Notifier::new(Arc::clone(&store), mailer, Arc::clone(&store), clock, config);
            let (reply, stats) = runtime.block_on(notifier.handle(payload))?;
            notifier.mailer.write_index()?;
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
            (reply, stats, sent)
        }
        None => {
            let ledger = seeded_ledger(args.ledger.as_ref())?;
            let mailer = match &args.outbox {
                Some(folder) => MemoryMailer::writing_to(folder.clone()),
                None => MemoryMailer::new(),
            };
            let notifier = Notifier::new(ledger, mailer, MemoryIdempotency::new(), clock, config);
            let (reply, stats) = runtime.block_on(notifier.handle(payload))?;
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
            (reply, stats, sent)
        }
    };
    let emails: Vec<Value> = sent
        .iter()
        .map(|s| json!({ "to": s.to, "subject": s.subject, "file": s.file }))
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
        println!("response: {}", reply_json(&reply));
    }
    Ok(ExitCode::SUCCESS)
}

type Request = http::Request<Vec<u8>>;
type Response = http::Response<Vec<u8>>;

/// Ingest on an API Gateway HTTP API (v2) request; prints the v2 response.
pub fn run_ingest(args: &InvokeArgs) -> Result<ExitCode, String> {
    let event = read_json(&args.event)?;
    let request = crate::lambda::apigw::request_from_v2(&event)?;
    let secret = std::env::var("TXN_NOTIFY_SIGNING_SECRET").unwrap_or_else(|_| LOCAL_SIGNING_SECRET.to_string());
    async fn respond(ledger: impl Ledger, secret: &str, now: DateTime<Utc>, request: Request) -> Response {
        let ingest = Ingest::new(
            ledger,
            MemorySecrets::new(secret.as_bytes()),
            FrozenClock::at(now),
            IngestConfig::default(),
        );
        ingest.handle(request).await
    }
    let now = now_of(args);
    let response = match &args.data_dir {
        Some(dir) => runtime()?.block_on(respond(open_store(dir)?, &secret, now, request)),
        None => runtime()?.block_on(respond(seeded_ledger(args.ledger.as_ref())?, &secret, now, request)),
    };
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
        let report = digest.run(request, now).await?;
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
