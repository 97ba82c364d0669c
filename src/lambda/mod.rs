//! Glue between Lambda and the use cases: event shapes (`apigw`), each function's invocation
//! (`handlers`), the typed error it answers Lambda with (`error`), and what every function
//! does around it (`runtime`: logs, cold start, EMF, settings from the environment).

pub mod apigw;
pub mod error;
pub mod handlers;
pub mod runtime;
