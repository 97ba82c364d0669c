//! What every function does around its use case: JSON logs, one span per invocation with
//! the request id and whether it was a cold start, the invocation's EMF metrics flushed
//! when it ends (ProcessingLatency and ColdStart added here), and errors that Lambda
//! understands. The handler itself never panics on a payload: a payload of the wrong shape
//! is an error reply, not a crash.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use serde_json::value::RawValue;
use tracing::Instrument;

use super::error::HandlerError;
use super::handlers::Invoke;
use crate::telemetry::emf::Invocation;

static WARM: AtomicBool = AtomicBool::new(false);

/// Runs the Lambda Runtime API loop: each event goes to the use case with a fresh set of
/// metrics for it to fill; its reply goes back to Lambda.
pub async fn serve(function: &'static str, use_case: impl Invoke) -> Result<(), lambda_runtime::Error> {
    let use_case = &use_case;
    // The payload stays text: the processor reads its batch in place, without a JSON tree.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        let cold_start = !WARM.swap(true, Ordering::SeqCst);
        let request_id = event.context.request_id.clone();
        let span = tracing::info_span!("invocation", function, request_id = %request_id, cold_start);
        // Lambda's deadline, in epoch milliseconds.
        let deadline = i64::try_from(event.context.deadline)
            .ok()
            .and_then(chrono::DateTime::from_timestamp_millis);
        let (reply, metrics) = invoke_measured(
            function,
            use_case,
            event.payload.get(),
            &request_id,
            cold_start,
            deadline,
        )
        .instrument(span.clone())
        .await;
        metrics.flush();
        reply.map_err(|error| {
            span.in_scope(|| tracing::error!(error_type = error.error_type(), error = %error, "invocation failed"));
            error
        })
    }))
    .await
}

/// One invocation with its metrics, as every function records them: what the use case
/// counts, then ColdStart and ProcessingLatency, and the request id as a property. Lambda
/// and the embedded runtime both go through here, so their EMF carries the same names.
pub async fn invoke_measured(
    function: &'static str,
    use_case: &impl Invoke,
    payload: &str,
    request_id: &str,
    cold_start: bool,
    deadline: Option<chrono::DateTime<chrono::Utc>>,
) -> (Result<Value, HandlerError>, Invocation) {
    measured(function, request_id, cold_start, async |metrics: &mut Invocation| {
        use_case.invoke(payload, deadline, metrics).await
    })
    .await
}

/// As [`invoke_measured`], for an invocation that hands its use case something else than
/// the event's text (the embedded runtime's consumers take their messages as they are).
pub async fn measured(
    function: &'static str,
    request_id: &str,
    cold_start: bool,
    run: impl AsyncFnOnce(&mut Invocation) -> Result<Value, HandlerError>,
) -> (Result<Value, HandlerError>, Invocation) {
    let started = Instant::now();
    let mut metrics = Invocation::new(function, chrono::Utc::now());
    metrics.property("requestId", request_id);
    let reply = run(&mut metrics).await;
    metrics
        .count("ColdStart", u64::from(cold_start))
        .milliseconds("ProcessingLatency", [started.elapsed().as_millis() as i64]);
    (reply, metrics)
}

/// A setting of the environment that a function cannot start without.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("the environment variable {0} must be set")]
    Missing(String),
    #[error("{name} must be a whole number, not {value:?}")]
    NotANumber { name: String, value: String },
    #[error("TXN_NOTIFY_RULES ({path}): {reason}")]
    Rules { path: String, reason: String },
    #[error("{name}: {reason}")]
    Invalid { name: String, reason: String },
}

/// Reads the function's settings from the environment, with messages that name the variable.
pub struct Settings;

impl Settings {
    pub fn required(name: &str) -> Result<String, SettingsError> {
        match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Ok(value),
            _ => Err(SettingsError::Missing(name.into())),
        }
    }

    pub fn optional(name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }

    pub fn number(name: &str, default: u64) -> Result<u64, SettingsError> {
        match Settings::optional(name) {
            None => Ok(default),
            Some(text) => text.trim().parse().map_err(|_| SettingsError::NotANumber {
                name: name.into(),
                value: text.clone(),
            }),
        }
    }

    /// The event bus name, `TXN_NOTIFY_EVENT_BUS`, default `txn-notify`.
    pub fn event_bus() -> String {
        Settings::optional("TXN_NOTIFY_EVENT_BUS").unwrap_or_else(|| "txn-notify".into())
    }

    /// The rules: the file `TXN_NOTIFY_RULES` names, else the built-in ones.
    pub fn rules() -> Result<std::sync::Arc<crate::rules::Rules>, SettingsError> {
        match Settings::optional("TXN_NOTIFY_RULES") {
            None => Ok(std::sync::Arc::new(crate::rules::Rules::builtin())),
            Some(path) => crate::rules::Rules::load(std::path::Path::new(&path))
                .map(std::sync::Arc::new)
                .map_err(|e| SettingsError::Rules {
                    path: path.clone(),
                    reason: e.to_string(),
                }),
        }
    }
}
