//! The embedded runtime's adapters. For now: in-memory ledger and bus, used by
//! `txn-notify invoke`, the unit tests of the use cases and the benches.

pub mod bus;
pub mod memory;
pub mod outbox;
pub mod poller;
pub mod simulate;
pub mod store;
