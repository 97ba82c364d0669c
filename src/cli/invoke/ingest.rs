//! `invoke ingest`: ingest on an API Gateway HTTP API (v2) request.

use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::args::InvokeArgs;
use super::input::{now_of, open_store, read_json, runtime, seeded_ledger};
use crate::clock::FrozenClock;
use crate::local::memory::{LOCAL_SIGNING_SECRET, MemoryAuditLog, MemorySecrets};
use crate::pipeline::ingest::{Ingest, IngestConfig};
use crate::ports::{Ledger, NotificationLog};

type Request = http::Request<Vec<u8>>;
type Response = http::Response<Vec<u8>>;

/// Ingest on an API Gateway HTTP API (v2) request; prints the v2 response.
pub fn run(args: &InvokeArgs) -> Result<ExitCode, String> {
    let event = read_json(&args.event)?;
    let request = crate::lambda::apigw::request_from_v2(&event).map_err(|e| e.to_string())?;
    let secret = std::env::var("TXN_NOTIFY_SIGNING_SECRET").unwrap_or_else(|_| LOCAL_SIGNING_SECRET.to_string());
    async fn respond(
        ledger: impl Ledger,
        notifications: impl NotificationLog,
        secret: &str,
        now: DateTime<Utc>,
        request: Request,
    ) -> Response {
        let ingest = Ingest::new(
            ledger,
            notifications,
            MemorySecrets::new(secret.as_bytes()),
            FrozenClock::at(now),
            IngestConfig::default(),
        );
        ingest.handle(request).await
    }
    let now = now_of(args);
    let response = match &args.data_dir {
        Some(dir) => {
            let store = open_store(dir)?;
            runtime()?.block_on(respond(std::sync::Arc::clone(&store), store, &secret, now, request))
        }
        None => runtime()?.block_on(respond(
            seeded_ledger(args.ledger.as_ref())?,
            MemoryAuditLog::new(),
            &secret,
            now,
            request,
        )),
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
