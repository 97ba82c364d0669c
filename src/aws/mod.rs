//! Adapters of the ports on the AWS SDK. So far: the one place that builds SDK clients.

pub mod clients;
