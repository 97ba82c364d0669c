//! The notifier Lambda: SQS batches of EventBridge events → one SES email per event, once.
//! Environment: TXN_NOTIFY_LEDGER_TABLE, TXN_NOTIFY_IDEMPOTENCY_TABLE, TXN_NOTIFY_SENDER,
//! TXN_NOTIFY_SENDER_NAME (optional), TXN_NOTIFY_SES_CONFIGURATION_SET (optional).
#![recursion_limit = "256"]

use txn_notify::aws::clients::{Clients, sdk_config};
use txn_notify::aws::dynamodb::{DynamoIdempotency, DynamoLedger};
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
    let clients = Clients::new(&sdk_config().await);
    let notifier = Notifier::new(
        DynamoLedger::new(clients.dynamodb.clone(), Settings::required("TXN_NOTIFY_LEDGER_TABLE")?),
        SesMailer::new(clients.sesv2, Settings::optional("TXN_NOTIFY_SES_CONFIGURATION_SET")),
        DynamoIdempotency::new(clients.dynamodb, Settings::required("TXN_NOTIFY_IDEMPOTENCY_TABLE")?),
        SystemClock,
        NotifyConfig::new(sender),
    );
    serve("notifier", notifier).await
}
