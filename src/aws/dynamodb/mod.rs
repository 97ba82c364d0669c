//! DynamoDB adapters: the ledger, the audit log and the idempotency store, each on its own
//! table. Retries: the SDK's standard mode (see `crate::aws::clients`) for throttling and
//! 5xx; what is left is reported as a transient `PortError`, and the use case decides.

pub(crate) mod audit_log;
pub(crate) mod idempotency;
pub mod item;
pub(crate) mod ledger;
pub mod zone_backfill;

pub use audit_log::DynamoAuditLog;
pub use idempotency::DynamoIdempotency;
pub use ledger::DynamoLedger;
