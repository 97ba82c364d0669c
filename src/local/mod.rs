//! The embedded runtime: in-memory adapters (`invoke`, unit tests, benches), the durable
//! store, the stream poller, the bus and queues, the outbox, fault injection, and the
//! runtime that wires them for `simulate`, `dev` and `replay`.

pub mod bus;
pub mod dashboard;
pub mod dev;
pub mod faults;
pub mod memory;
pub mod outbox;
pub mod poller;
pub mod runtime;
pub mod simulate;
pub mod store;
