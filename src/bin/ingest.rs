//! The ingest Lambda: API Gateway HTTP API (v2) requests → signed, idempotent writes.
//! Environment: TXN_NOTIFY_LEDGER_TABLE, TXN_NOTIFY_AUDIT_TABLE (the notification history),
//! TXN_NOTIFY_SIGNING_SECRET_ID,
//! TXN_NOTIFY_SECRET_CACHE_SECONDS (default 300).
#![recursion_limit = "256"]

use std::time::Duration;

use txn_notify::aws::clients::{Clients, sdk_config};
use txn_notify::aws::dynamodb::{DynamoAuditLog, DynamoLedger};
use txn_notify::aws::secrets::SecretsManagerSecrets;
use txn_notify::clock::SystemClock;
use txn_notify::lambda::runtime::{Settings, serve};
use txn_notify::pipeline::ingest::{Ingest, IngestConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    txn_notify::telemetry::logs::init_json_logs();
    let config = IngestConfig {
        secret_ttl: Duration::from_secs(Settings::number("TXN_NOTIFY_SECRET_CACHE_SECONDS", 300)?),
        ..IngestConfig::default()
    };
    let clients = Clients::new(&sdk_config().await);
    let ingest = Ingest::new(
        DynamoLedger::new(clients.dynamodb.clone(), Settings::required("TXN_NOTIFY_LEDGER_TABLE")?),
        DynamoAuditLog::new(clients.dynamodb, Settings::required("TXN_NOTIFY_AUDIT_TABLE")?),
        SecretsManagerSecrets::new(
            clients.secretsmanager,
            Settings::required("TXN_NOTIFY_SIGNING_SECRET_ID")?,
        ),
        SystemClock,
        config,
    );
    serve("ingest", ingest).await
}
