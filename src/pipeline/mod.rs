//! The use cases. Each takes its ports as generic parameters and knows nothing of AWS.
//!
//! - `process`: a DynamoDB stream batch → typed events on the bus, with partial batch failure.
//! - `audit`: every event → one audit record, written once.
//! - `digest`: the hourly planner of Monday mornings and the workers that turn each due
//!   account's week into one Weekly Statement event.
//! - `consumer`: what the consumers share: SQS batches or bare events in, partial replies out.
//! - `idempotency`: exactly-once effects over at-least-once deliveries.
//! - `ingest`: the signed HTTP API that stores transactions and accounts.
//! - `notify`: Transaction Recorded, Account Opened, Account Updated and Weekly Statement →
//!   their emails, and the decision recorded in the audit trail.

pub(crate) mod audit;
pub(crate) mod consumer;
pub mod digest;
pub mod feedback;
pub(crate) mod idempotency;
pub mod ingest;
pub mod notify;
pub mod process;
pub(crate) mod profiles;
pub(crate) mod publish;
pub(crate) mod retry;
pub(crate) mod secret_cache;
pub(crate) mod undeliverable;

pub use audit::{AuditConfig, Auditor};
pub use consumer::{Delivery, DeliveryError, MessageError, Outcome, PayloadError, Reply};
pub use digest::{DigestPlanner, DigestWorker, PlanRequest, PlannerConfig, Week, WorkerConfig};
pub use idempotency::{IdempotencyConfig, Once, OnceError, run_once};
pub use process::{BatchOutcome, BatchStats, Processor, ProcessorConfig, StreamBatch};
pub use profiles::load_profiles;
pub use publish::{EntryGroup, MAX_ENTRIES_PER_CALL, MAX_REQUEST_BYTES, PublishLimits, publish};
pub use retry::RetryPolicy;
pub use secret_cache::SecretCache;
