//! The embedded runtime: the same use cases as on AWS, on a durable store in a folder.

pub mod bus;
pub(crate) mod faults;
pub mod mailbox_simulator;
pub(crate) mod outbox;
pub(crate) mod poller;
pub(crate) mod runtime;
pub(crate) mod secrets;
pub mod store;

pub use outbox::{OutboxError, OutboxMailer};
pub use poller::{PollerConfig, StreamPoller};
pub use secrets::FixedSecret;
