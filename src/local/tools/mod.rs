//! The developer's tools on top of the embedded runtime.

pub mod dashboard;
pub(crate) mod dev;
pub mod simulate;
