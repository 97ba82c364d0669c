//! The feedback Lambda: SQS batches of SES's email events (from the default bus) → the
//! delivery state of each notification in the audit trail, undeliverable addresses on the
//! accounts, and Notification Undeliverable events (docs/feedback.md).
//! Environment: TXN_NOTIFY_LEDGER_TABLE, TXN_NOTIFY_AUDIT_TABLE, TXN_NOTIFY_IDEMPOTENCY_TABLE,
//! TXN_NOTIFY_SES_CONFIGURATION_SET (feedback of any other set is skipped), TXN_NOTIFY_EVENT_BUS.
#![recursion_limit = "256"]

use txn_notify::aws::clients::{Clients, sdk_config};
use txn_notify::aws::dynamodb::{DynamoAuditLog, DynamoIdempotency, DynamoLedger};
use txn_notify::aws::eventbridge::EventBridgeBus;
use txn_notify::clock::SystemClock;
use txn_notify::lambda::runtime::{Settings, serve};
use txn_notify::pipeline::feedback::{Feedback, FeedbackConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    txn_notify::telemetry::logs::init_json_logs();
    let config = FeedbackConfig::new(
        Settings::required("TXN_NOTIFY_SES_CONFIGURATION_SET")?,
        Settings::event_bus(),
    );
    let clients = Clients::new(&sdk_config().await);
    let feedback = Feedback::new(
        DynamoLedger::new(clients.dynamodb.clone(), Settings::required("TXN_NOTIFY_LEDGER_TABLE")?),
        DynamoAuditLog::new(clients.dynamodb.clone(), Settings::required("TXN_NOTIFY_AUDIT_TABLE")?),
        EventBridgeBus::new(clients.eventbridge),
        DynamoIdempotency::new(clients.dynamodb, Settings::required("TXN_NOTIFY_IDEMPOTENCY_TABLE")?),
        SystemClock,
        config,
    );
    serve("feedback", feedback).await
}
