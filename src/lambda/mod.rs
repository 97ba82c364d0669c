//! Glue between Lambda event shapes and the use cases.

pub mod apigw;
