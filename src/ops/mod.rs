//! What operators run, beside the pipeline: replaying an archive after an incident, and
//! the cost model.

pub mod cost;
pub mod replay;
