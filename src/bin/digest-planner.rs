//! The digest planner Lambda: a run of the weekly schedule → the accounts whose Monday 06:00
//! falls in its hour, from the `accounts-by-zone` index, as pages on DigestQueue.
//! Environment: TXN_NOTIFY_LEDGER_TABLE, TXN_NOTIFY_DIGEST_QUEUE_URL.
#![recursion_limit = "256"]

use txn_notify::aws::clients::{Clients, sdk_config};
use txn_notify::aws::dynamodb::DynamoLedger;
use txn_notify::aws::sqs::SqsQueue;
use txn_notify::clock::SystemClock;
use txn_notify::lambda::runtime::{Settings, serve};
use txn_notify::pipeline::{DigestPlanner, PlannerConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    txn_notify::telemetry::logs::init_json_logs();
    let clients = Clients::new(&sdk_config().await);
    let planner = DigestPlanner::new(
        DynamoLedger::new(clients.dynamodb, Settings::required("TXN_NOTIFY_LEDGER_TABLE")?),
        SqsQueue::new(clients.sqs, Settings::required("TXN_NOTIFY_DIGEST_QUEUE_URL")?),
        SystemClock,
        PlannerConfig::default(),
    );
    serve("digest-planner", planner).await
}
