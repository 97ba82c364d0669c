//! The use cases. Each takes its ports as generic parameters and knows nothing of AWS.
//!
//! - `process`: a DynamoDB stream batch → typed events on the bus, with partial batch failure.
//! - `audit`: every event → one audit record, written once.
//! - `digest`: each account's week → one Weekly Statement event.
//! - `consumer`: what the consumers share: SQS batches or bare events in, partial replies out.
//! - `idempotency`: exactly-once effects over at-least-once deliveries.
//! - `ingest`: the signed HTTP API that stores transactions and accounts.
//! - `notify`: Transaction Recorded, Account Opened and Weekly Statement → one email each.

pub mod audit;
pub mod consumer;
pub mod digest;
pub mod idempotency;
pub mod ingest;
pub mod notify;
pub mod process;
pub mod profiles;
pub mod publish;
pub mod retry;

pub use process::StreamBatch;
pub use process::{BatchOutcome, BatchStats, Processor, ProcessorConfig};
