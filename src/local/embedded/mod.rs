//! The embedded runtime: the same use cases as on AWS, on a durable store in a folder.

pub mod bus;
pub mod faults;
pub mod outbox;
pub mod poller;
pub mod runtime;
pub mod secrets;
pub mod store;
