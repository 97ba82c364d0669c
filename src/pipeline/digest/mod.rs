//! Weekly statements at any scale (docs/statements.md): each account gets its statement on
//! Monday at 06:00 in its own zone, for the week that just ended there.
//!
//! - `schedule`: which zones' Monday 06:00 falls in a run's hour, and the week it closes.
//! - `planner`: a run of the schedule → the due accounts, read from the sparse
//!   `accounts-by-zone` index, as pages of at most 100 ids on DigestQueue.
//! - `worker`: a page → each account's week read with one Query on its key range → its
//!   Weekly Statement on the bus.
//! - `statement`: the week's bounds and the statement built from its transactions.
//!
//! Reads grow with the accounts due and their week's transactions, never with the table:
//! no Scan anywhere. A retried run, page or message yields the same event_ids (per account
//! and week), so consumers skip what they did.

pub mod page;
pub mod planner;
pub mod schedule;
pub mod statement;
pub mod worker;

pub use page::{DigestPage, MAX_ACCOUNTS_PER_PAGE, PageError};
pub use planner::{DigestPlanner, PlanReport, PlanRequest, PlanRequestError, PlannerConfig};
pub use schedule::{RunHour, ZoneDue};
pub use statement::{MAX_LISTED, StatementLimits, Week};
pub use worker::{DigestWorker, PageReport, WorkerBatch, WorkerConfig};
