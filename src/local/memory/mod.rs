//! The in-memory adapters: test doubles for unit tests and benches, and what `invoke` runs
//! on without `--data-dir`. Each keeps the conditions of its AWS adapter (the contract tests
//! of tests/contracts.rs hold them to it) and fails on demand.

mod audit_log;
mod bus;
mod idempotency;
mod ledger;
mod mailer;
mod queue;
mod secrets;

pub use audit_log::MemoryAuditLog;
pub use bus::MemoryBus;
pub use idempotency::MemoryIdempotency;
pub use ledger::{LedgerFaults, MemoryLedger};
pub use mailer::{MemoryMailer, SentEmail};
pub use queue::{MemoryQueue, QueueFaults};
pub use secrets::MemorySecrets;

pub use super::LOCAL_SIGNING_SECRET;
