//! The stream poller: reads the embedded store's change stream and invokes a handler on
//! batches, with the semantics of Lambda's DynamoDB event source mapping (one shard, one
//! batch at a time, so the order per item key holds):
//!
//! | what happens | what the poller does |
//! |---|---|
//! | records waiting | a batch of at most `batch_size`, once it is full or its oldest record has waited `batching_window` (or at once when draining) |
//! | the handler answers `{"batchItemFailures": []}` | the checkpoint moves past the batch |
//! | it names failures | the checkpoint moves to just before the lowest one named; that record and all after it come again; one retry counted |
//! | it names a record that is not in the batch, or answers something else | the whole batch counts as failed |
//! | the handler fails (an error, not a reply) | with `bisect_on_error`, the batch is split in two and the first half is tried (not counted as a retry); a batch of one is retried |
//! | a batch failed more than `max_retry_attempts` times | its records go to the on-failure folder (the invocation record with the whole payload, as Lambda's S3 destination writes it); the checkpoint moves past them |
//! | a record is older than `max_record_age` when read | it goes to the on-failure folder without an invocation |
//!
//! The checkpoint, the retry count and the bisected batch size are kept in the store after
//! each step, so a poller restarted after a crash goes on where the last one stopped.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::store::{EMBEDDED_STREAM, EmbeddedStore, StreamEntry, stream_event};
use crate::ports::{Clock, PortError};
use crate::template::{StreamSource, Template, functions};

#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// The name its checkpoint is kept under.
    pub name: String,
    pub batch_size: usize,
    pub batching_window: Duration,
    pub max_retry_attempts: u32,
    pub max_record_age: Duration,
    pub bisect_on_error: bool,
    /// Where discarded batches are written (one JSON file each).
    pub on_failure_dir: PathBuf,
}

impl PollerConfig {
    /// The settings of a stream event source.
    pub fn of_source(name: &str, source: &StreamSource, on_failure_dir: PathBuf) -> Self {
        PollerConfig {
            name: name.into(),
            batch_size: source.batch_size,
            batching_window: source.batching_window,
            max_retry_attempts: source.max_retry_attempts,
            max_record_age: source.max_record_age,
            bisect_on_error: source.bisect_on_error,
            on_failure_dir,
        }
    }

    /// The settings of the processor's stream event source in template.yaml.
    pub fn of_template(on_failure_dir: PathBuf) -> Self {
        let source = Template::builtin()
            .stream_source(functions::PROCESSOR)
            .expect("template.yaml's stream event source is checked by the tests");
        PollerConfig::of_source("processor", &source, on_failure_dir)
    }
}

/// What survives a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    /// The last sequence done with (acknowledged or discarded).
    after: i64,
    /// Failed tries of the batch that starts after `after`.
    attempts: u32,
    /// The batch size while bisecting (0: the configured size).
    limit: usize,
}

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Records handed to the handler (0: nothing was ready).
    pub invoked: usize,
    pub acknowledged: usize,
    /// Records that will come again.
    pub retried: usize,
    pub discarded: usize,
    pub bisected: bool,
    pub function_error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollerStats {
    pub invocations: u64,
    pub acknowledged: u64,
    pub retried: u64,
    pub discarded: u64,
    pub function_errors: u64,
    pub bisections: u64,
}

pub struct StreamPoller<'a, C> {
    store: &'a EmbeddedStore<C>,
    config: PollerConfig,
    pub stats: PollerStats,
}

fn checkpoint_key(name: &str) -> String {
    format!("stream-poller:{name}")
}

impl<'a, C: Clock> StreamPoller<'a, C> {
    pub fn new(store: &'a EmbeddedStore<C>, config: PollerConfig) -> Self {
        StreamPoller {
            store,
            config,
            stats: PollerStats::default(),
        }
    }

    fn position(&self) -> Result<Position, PortError> {
        Ok(self
            .store
            .checkpoint(&checkpoint_key(&self.config.name))?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default())
    }

    fn save(&self, position: &Position) -> Result<(), PortError> {
        let text = serde_json::to_string(position).expect("a position serializes");
        self.store.set_checkpoint(&checkpoint_key(&self.config.name), &text)
    }

    /// Records not done with yet.
    pub fn lag(&self) -> Result<i64, PortError> {
        Ok(self.store.stream_head()? - self.position()?.after)
    }

    /// One step: reads a batch if one is ready, invokes the handler, moves the checkpoint.
    /// `drain`: do not wait for the batching window.
    pub async fn step<F, Fut, E>(&mut self, drain: bool, handler: F) -> Result<Step, PortError>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<Value, E>>,
        E: std::fmt::Display,
    {
        self.step_inner(drain, handler, true).await
    }

    /// A step whose process dies after the handler returned and before the checkpoint
    /// moved: the batch comes again after a restart (crash tests).
    pub async fn step_then_crash<F, Fut, E>(&mut self, handler: F) -> Result<Step, PortError>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<Value, E>>,
        E: std::fmt::Display,
    {
        self.step_inner(true, handler, false).await
    }

    async fn step_inner<F, Fut, E>(&mut self, drain: bool, handler: F, save: bool) -> Result<Step, PortError>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<Value, E>>,
        E: std::fmt::Display,
    {
        let mut position = self.position()?;
        let limit = if position.limit == 0 {
            self.config.batch_size
        } else {
            position.limit
        };
        let mut entries = self.store.read_stream(position.after, limit)?;
        let now = self.store.clock().now();
        let mut step = Step::default();

        // Records past their maximum age are given up before any invocation.
        let expired = entries
            .iter()
            .take_while(|e| created_at(e).is_some_and(|at| age(now, at) > self.config.max_record_age))
            .count();
        if expired > 0 {
            let old: Vec<StreamEntry> = entries.drain(..expired).collect();
            self.discard(&old, "RecordAgeExceeded", 0)?;
            position = Position {
                after: old.last().map_or(position.after, |e| e.sequence),
                ..Position::default()
            };
            self.save(&position)?;
            step.discarded += old.len();
            self.stats.discarded += old.len() as u64;
        }
        if entries.is_empty() {
            return Ok(step);
        }
        let full = entries.len() >= limit;
        let waited = created_at(&entries[0]).is_none_or(|at| age(now, at) >= self.config.batching_window);
        if !(drain || full || waited) {
            return Ok(step);
        }

        let event = stream_event(&entries);
        step.invoked = entries.len();
        self.stats.invocations += 1;
        let reply = handler(event).await;
        let failed_from = match &reply {
            Ok(response) => first_failure(response, &entries),
            Err(_) => Some(0),
        };
        match (failed_from, &reply) {
            (None, _) => {
                step.acknowledged = entries.len();
                position = Position {
                    after: entries.last().expect("not empty").sequence,
                    ..Position::default()
                };
            }
            (Some(_), Err(error)) if self.config.bisect_on_error && entries.len() > 1 => {
                // Splitting is not a retry: the first half is tried next.
                step.function_error = Some(error.to_string());
                step.bisected = true;
                step.retried = entries.len();
                self.stats.function_errors += 1;
                self.stats.bisections += 1;
                position.limit = entries.len().div_ceil(2);
            }
            (Some(index), reply) => {
                if let Err(error) = reply {
                    step.function_error = Some(error.to_string());
                    self.stats.function_errors += 1;
                }
                step.acknowledged = index;
                let done = entries[..index].last().map_or(position.after, |e| e.sequence);
                let failing = &entries[index..];
                let attempts = if index > 0 { 1 } else { position.attempts + 1 };
                if attempts > self.config.max_retry_attempts {
                    self.discard(failing, "RetryAttemptsExhausted", attempts)?;
                    step.discarded += failing.len();
                    self.stats.discarded += failing.len() as u64;
                    position = Position {
                        after: failing.last().expect("not empty").sequence,
                        ..Position::default()
                    };
                } else {
                    step.retried = failing.len();
                    position = Position {
                        after: done,
                        attempts,
                        limit: position.limit,
                    };
                }
            }
        }
        self.stats.acknowledged += step.acknowledged as u64;
        self.stats.retried += step.retried as u64;
        if save {
            self.save(&position)?;
        }
        Ok(step)
    }

    /// Writes the invocation record of given-up records, as Lambda's S3 on-failure
    /// destination does (metadata and the payload).
    fn discard(&self, entries: &[StreamEntry], condition: &str, attempts: u32) -> Result<(), PortError> {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(());
        };
        let sequence_number = |e: &StreamEntry| e.sequence_number();
        let arrival = |e: &StreamEntry| created_at(e).map(|t| crate::domain::time::format_rfc3339(&t));
        let payload = stream_event(entries);
        let document = json!({
            "version": "1.0",
            "timestamp": crate::domain::time::format_rfc3339(&self.store.clock().now()),
            "requestContext": {
                "requestId": format!("{}-{}", first.sequence, last.sequence),
                "functionArn": format!("arn:aws:lambda:local:000000000000:function:{}", self.config.name),
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": { "statusCode": 200, "executedVersion": "$LATEST" },
            "DDBStreamBatchInfo": {
                "shardId": "shardId-embedded",
                "startSequenceNumber": sequence_number(first),
                "endSequenceNumber": sequence_number(last),
                "approximateArrivalOfFirstRecord": arrival(first),
                "approximateArrivalOfLastRecord": arrival(last),
                "batchSize": entries.len(),
                "streamArn": EMBEDDED_STREAM.stream_arn,
            },
            "payload": payload,
        });
        std::fs::create_dir_all(&self.config.on_failure_dir)
            .map_err(|e| PortError::permanent(format!("on-failure folder: {e}")))?;
        let path = self.config.on_failure_dir.join(format!(
            "{}-{:012}-{:012}.json",
            self.config.name, first.sequence, last.sequence
        ));
        let text = serde_json::to_string_pretty(&document).expect("JSON serializes");
        std::fs::write(&path, text).map_err(|e| PortError::permanent(format!("{}: {e}", path.display())))?;
        tracing::error!(
            condition,
            first_sequence = first.sequence,
            last_sequence = last.sequence,
            records = entries.len(),
            file = %path.display(),
            "stream records given up; kept in the on-failure folder"
        );
        Ok(())
    }
}

fn created_at(entry: &StreamEntry) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(entry.created_s?, 0).single()
}

fn age(now: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    (now - at).to_std().unwrap_or_default()
}

/// The index in the batch of the lowest record the reply names as failed; None when it
/// names none. A reply that is not of the expected shape, or names an unknown record, fails
/// the whole batch (index 0), as Lambda does.
fn first_failure(response: &Value, entries: &[StreamEntry]) -> Option<usize> {
    let Some(failures) = response.get("batchItemFailures") else {
        return if response.is_null() { None } else { Some(0) };
    };
    let Some(failures) = failures.as_array() else {
        return Some(0);
    };
    let numbers: Vec<String> = entries.iter().map(StreamEntry::sequence_number).collect();
    let mut lowest: Option<usize> = None;
    for failure in failures {
        let identifier = failure.get("itemIdentifier").and_then(Value::as_str);
        let index = identifier.and_then(|id| numbers.iter().position(|number| number == id));
        let index = index.unwrap_or(0);
        lowest = Some(lowest.map_or(index, |l| l.min(index)));
    }
    lowest
}
