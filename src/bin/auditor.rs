//! The auditor Lambda: SQS batches of EventBridge events → one audit item per event, once.
//! Environment: TXN_NOTIFY_AUDIT_TABLE, TXN_NOTIFY_AUDIT_RETENTION_DAYS (default 396).
#![recursion_limit = "256"]

use txn_notify::aws::clients::{Clients, sdk_config};
use txn_notify::aws::dynamodb::DynamoAuditLog;
use txn_notify::clock::SystemClock;
use txn_notify::lambda::runtime::{Settings, serve};
use txn_notify::pipeline::{AuditConfig, Auditor};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    txn_notify::telemetry::logs::init_json_logs();
    let retention_days = Settings::number("TXN_NOTIFY_AUDIT_RETENTION_DAYS", 396)?;
    let clients = Clients::new(&sdk_config().await);
    let auditor = Auditor::new(
        DynamoAuditLog::new(clients.dynamodb, Settings::required("TXN_NOTIFY_AUDIT_TABLE")?),
        SystemClock,
        AuditConfig {
            retention: chrono::Duration::days(retention_days as i64),
        },
    );
    serve("auditor", auditor).await
}
