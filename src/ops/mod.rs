//! What operators run, beside the pipeline: replaying an archive after an incident, and
//! the cost model.

pub(crate) mod cost;
pub(crate) mod replay;

pub use replay::{ReplayError, ReplayPlan, ReplayProgress, replay_archive};
