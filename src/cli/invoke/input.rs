//! What the handlers of `invoke` read: event files, ledger seed files, the embedded store of
//! `--data-dir`; and a bus that records what it accepted, for the report.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::args::InvokeArgs;
use crate::clock::SystemClock;
use crate::local::embedded::store::EmbeddedStore;
use crate::local::memory::MemoryLedger;
use crate::pipeline::consumer::Reply;
use crate::ports::{BusEntry, EntryResult, EventBus, PortError};

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
    EmbeddedStore::open(dir, SystemClock)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

/// A bus that keeps a copy of each entry the bus behind it accepted, for the report.
pub struct Recorded<B> {
    inner: B,
    accepted: std::sync::Mutex<Vec<BusEntry>>,
}

impl<B> Recorded<B> {
    pub fn new(inner: B) -> Self {
        Recorded {
            inner,
            accepted: Default::default(),
        }
    }

    pub fn accepted(&self) -> Vec<BusEntry> {
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
            // A Scan output from before the statement index: its accounts join the index.
            ledger.put(crate::domain::Account::with_statement_zone(item));
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

pub fn reply_json(reply: &Reply) -> Value {
    match reply {
        Reply::Batch(response) => serde_json::to_value(response).unwrap_or(Value::Null),
        Reply::Single(Ok(())) => Value::Null,
        Reply::Single(Err(error)) => json!({ "errorMessage": error.to_string() }),
    }
}

pub fn now_of(args: &InvokeArgs) -> DateTime<Utc> {
    args.now.unwrap_or_else(Utc::now)
}
