//! txn-notify: real-time bank-transaction notifications.
//!
//! Transactions land in the DynamoDB `ledger` table; its stream feeds the processor
//! ([`pipeline::process`]), which decodes each record ([`domain`]), runs the rule engine
//! ([`rules`]) and publishes typed events ([`domain::events`]) onto EventBridge in packed
//! PutEvents calls ([`pipeline::publish`]), reporting partial batch failures the DynamoDB
//! Streams way. Consumers (notifier, auditor, digest) react to those events.
//!
//! The use cases talk to the world only through the traits of [`ports`]: AWS adapters live
//! in `aws`, embedded and in-memory ones in [`local`], and the binaries only wire them.

pub mod aws;
pub mod cli;
pub mod clock;
pub mod domain;
pub mod local;
pub mod pattern;
pub mod pipeline;
pub mod ports;
pub mod rules;
pub mod workload;
