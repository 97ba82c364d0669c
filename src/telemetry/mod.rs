//! What the functions tell ops: JSON logs through tracing (`logs`) and CloudWatch EMF
//! metrics (`emf`), written to stdout, where Lambda hands both to CloudWatch Logs.

pub mod emf;
pub mod logs;
pub mod peak_rss;
