//! The notifier Lambda: SQS batches of EventBridge events → their SES emails, once each, and
//! the decision in the audit trail.
//! Environment: TXN_NOTIFY_LEDGER_TABLE, TXN_NOTIFY_IDEMPOTENCY_TABLE, TXN_NOTIFY_AUDIT_TABLE,
//! TXN_NOTIFY_AUDIT_RETENTION_DAYS (default 396), TXN_NOTIFY_SENDER, TXN_NOTIFY_SENDER_NAME
//! (optional), TXN_NOTIFY_SES_CONFIGURATION_SET (optional), TXN_NOTIFY_SIGNING_SECRET_ID and
//! TXN_NOTIFY_PUBLIC_API_URL (the statements' unsubscribe links), TXN_NOTIFY_SECRET_CACHE_SECONDS
//! (default 300), TXN_NOTIFY_EVENT_BUS (Notification Undeliverable events; default txn-notify).
#![recursion_limit = "256"]

use std::time::Duration;

use txn_notify::aws::clients::{Clients, sdk_config};
use txn_notify::aws::dynamodb::{DynamoAuditLog, DynamoIdempotency, DynamoLedger};
use txn_notify::aws::eventbridge::EventBridgeBus;
use txn_notify::aws::secrets::SecretsManagerSecrets;
use txn_notify::aws::ses::SesMailer;
use txn_notify::clock::SystemClock;
use txn_notify::domain::Mailbox;
use txn_notify::lambda::runtime::{Settings, serve};
use txn_notify::pipeline::notify::{Notifier, NotifyConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    txn_notify::telemetry::logs::init_json_logs();
    let sender_name = Settings::optional("TXN_NOTIFY_SENDER_NAME").unwrap_or_else(|| "txn-notify".into());
    let sender = Mailbox::new(Some(&sender_name), &Settings::required("TXN_NOTIFY_SENDER")?)
        .map_err(|e| format!("TXN_NOTIFY_SENDER / TXN_NOTIFY_SENDER_NAME: {e}"))?;
    let mut config = NotifyConfig::new(sender).with_public_api_url(Settings::required("TXN_NOTIFY_PUBLIC_API_URL")?);
    config.secret_ttl = Duration::from_secs(Settings::number("TXN_NOTIFY_SECRET_CACHE_SECONDS", 300)?);
    config.event_bus_name = Settings::event_bus();
    config.retention = chrono::Duration::days(Settings::number("TXN_NOTIFY_AUDIT_RETENTION_DAYS", 396)? as i64);
    let clients = Clients::new(&sdk_config().await);
    let notifier = Notifier::new(
        DynamoLedger::new(clients.dynamodb.clone(), Settings::required("TXN_NOTIFY_LEDGER_TABLE")?),
        SesMailer::new(clients.sesv2, Settings::optional("TXN_NOTIFY_SES_CONFIGURATION_SET")),
        EventBridgeBus::new(clients.eventbridge),
        DynamoIdempotency::new(
            clients.dynamodb.clone(),
            Settings::required("TXN_NOTIFY_IDEMPOTENCY_TABLE")?,
        ),
        DynamoAuditLog::new(clients.dynamodb, Settings::required("TXN_NOTIFY_AUDIT_TABLE")?),
        SecretsManagerSecrets::new(
            clients.secretsmanager,
            Settings::required("TXN_NOTIFY_SIGNING_SECRET_ID")?,
        ),
        SystemClock,
        config,
    );
    serve("notifier", notifier).await
}
