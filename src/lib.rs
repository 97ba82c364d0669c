//! txn-notify: real-time bank-transaction notifications.
//!
//! Transactions land in the DynamoDB `ledger` table; its stream feeds the processor
//! ([`pipeline::process`]), which decodes each record ([`domain`]), runs the rule engine
//! ([`rules`]) and publishes typed events onto EventBridge in packed PutEvents calls,
//! reporting partial batch failures the DynamoDB Streams way. Consumers react to those
//! events: the notifier ([`pipeline::notify`]) emails once per event, the auditor
//! ([`pipeline::Auditor`]) keeps the trail, and the weekly digest ([`pipeline::Digest`])
//! publishes statements. Ingest ([`pipeline::ingest`]) is the signed HTTP API that lets
//! transactions and accounts in.
//!
//! The use cases talk to the world only through the traits of [`ports`]: AWS adapters live
//! in [`aws`], in-memory and embedded ones in [`local`], template.yaml is read by
//! [`template`], and the binaries only wire them. Each folder module keeps its files private
//! and re-exports what the binaries, tests and benches use.

pub mod aws;
pub mod cli;
pub mod clock;
pub mod domain;
pub mod lambda;
pub mod local;
pub mod ops;
pub mod pattern;
pub mod pipeline;
pub mod ports;
pub mod rules;
pub mod telemetry;
pub mod template;
pub mod workload;
