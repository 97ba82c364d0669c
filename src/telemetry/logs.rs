//! JSON logs, one object per line: level, message, fields, and the fields of the current
//! span, which the Lambda glue opens per invocation with `function`, `request_id` and
//! `cold_start`. Use cases log ids (transaction_id, event_id, account_id), never names,
//! addresses or card numbers.

use tracing_subscriber::EnvFilter;

/// `TXN_NOTIFY_LOG` is the filter (`info` by default, `debug`, `txn_notify=debug,warn`, …).
pub fn init_json_logs() {
    let filter = EnvFilter::try_from_env("TXN_NOTIFY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests that start two handlers) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .try_init();
}

/// Logs for a person at a terminal (`txn-notify dev`): one compact line per event on
/// stderr, so stdout keeps the banner and the summary. Same filter variable.
pub fn init_terminal_logs() {
    let filter = EnvFilter::try_from_env("TXN_NOTIFY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .compact()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}
