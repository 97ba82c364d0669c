//! The processor Lambda: DynamoDB stream batches → typed events on EventBridge.
//! Environment: TXN_NOTIFY_LEDGER_TABLE, TXN_NOTIFY_EVENT_BUS, TXN_NOTIFY_RULES (optional).
#![recursion_limit = "256"]

use std::time::Duration;

use txn_notify::aws::clients::{Clients, OPERATION_TIMEOUT, sdk_config};
use txn_notify::aws::dynamodb::DynamoLedger;
use txn_notify::aws::eventbridge::EventBridgeBus;
use txn_notify::clock::SystemClock;
use txn_notify::lambda::runtime::{Settings, serve};
use txn_notify::pipeline::{Processor, ProcessorConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    txn_notify::telemetry::logs::init_json_logs();
    let clients = Clients::new(&sdk_config().await);
    let mut config = ProcessorConfig::new(Settings::event_bus());
    // No call starts that could outlive the invocation: one call's longest, then a second to answer.
    config.deadline_reserve = OPERATION_TIMEOUT + Duration::from_secs(1);
    let processor = Processor::new(
        DynamoLedger::new(clients.dynamodb, Settings::required("TXN_NOTIFY_LEDGER_TABLE")?),
        EventBridgeBus::new(clients.eventbridge),
        SystemClock,
        Settings::rules()?,
        config,
    );
    serve("processor", processor).await
}
