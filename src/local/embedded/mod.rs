//! The embedded runtime: the same use cases as on AWS, on a durable store in a folder.

pub mod bus;
pub(crate) mod faults;
pub mod mailbox_simulator;
pub(crate) mod outbox;
pub(crate) mod poller;
pub(crate) mod runtime;
pub mod scheduler;
pub(crate) mod secrets;
pub mod shards;
pub mod store;
pub(crate) mod work_queue;

pub use outbox::{OutboxError, OutboxLayout, OutboxMailer};
pub use poller::{PollerConfig, StreamPoller};
pub use secrets::FixedSecret;
pub use work_queue::StoreQueue;
