//! The digest worker Lambda: DigestQueue pages → each due account's week, read with one
//! Query on its key range → its Weekly Statement on EventBridge.
//! Environment: TXN_NOTIFY_LEDGER_TABLE, TXN_NOTIFY_EVENT_BUS, TXN_NOTIFY_RULES (optional).
#![recursion_limit = "256"]

use txn_notify::aws::clients::{Clients, sdk_config};
use txn_notify::aws::dynamodb::DynamoLedger;
use txn_notify::aws::eventbridge::EventBridgeBus;
use txn_notify::clock::SystemClock;
use txn_notify::lambda::runtime::{Settings, serve};
use txn_notify::pipeline::{DigestWorker, WorkerConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    txn_notify::telemetry::logs::init_json_logs();
    let clients = Clients::new(&sdk_config().await);
    let worker = DigestWorker::new(
        DynamoLedger::new(clients.dynamodb, Settings::required("TXN_NOTIFY_LEDGER_TABLE")?),
        EventBridgeBus::new(clients.eventbridge),
        SystemClock,
        Settings::rules()?,
        WorkerConfig::new(Settings::event_bus()),
    );
    serve("digest-worker", worker).await
}
