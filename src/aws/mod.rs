//! Adapters of the ports on the AWS SDK, one folder per service, and the one place that
//! builds the SDK clients (`clients`). How SDK errors become transient or permanent
//! failures is in `failure`.

pub mod clients;
pub mod dynamodb;
pub mod eventbridge;
pub(crate) mod failure;
pub mod secrets;
pub mod ses;
pub mod sqs;
