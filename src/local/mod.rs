//! Everything that runs without AWS, in three parts:
//!
//! | folder | what | used by |
//! |---|---|---|
//! | `memory/` | in-memory adapters of every port: test doubles with faults on demand | unit and integration tests, benches, `invoke` without `--data-dir` |
//! | `embedded/` | the embedded runtime: the durable store (ledger, stream, queues, archive), the stream poller, the bus, the outbox, fault injection, and the runtime that wires them | `simulate`, `dev`, `replay`, `invoke --data-dir` |
//! | `tools/` | what a developer runs on top of it: the `dev` server, the `simulate` workload and its report, the local dashboard | the CLI |
//!
//! `eml` writes emails as files, for the outbox and the in-memory mailer alike.

pub mod embedded;
/// The signing secret of local runs and of the sample API Gateway events in `events/api/`.
/// Public on purpose: it protects nothing.
pub const LOCAL_SIGNING_SECRET: &str = "txn-notify-local-signing-secret";

/// Where `dev` answers by default; local statements link their unsubscribe page there
/// (`dev` on another port links to that one).
pub const LOCAL_API_URL: &str = "http://127.0.0.1:3000";

pub mod eml;
pub mod memory;
pub mod tools;
