//! The planner: one run of the schedule → the accounts due this hour, as pages on DigestQueue.
//!
//! | what happens | result |
//! |---|---|
//! | no zone has its Monday 06:00 in the run's hour (outside the window) | nothing read, nothing sent |
//! | a zone is due | its accounts are read from `accounts-by-zone` page by page (never a transaction), and sent in messages of at most 100 ids |
//! | an index page fails transiently | retried with backoff; then the run stops and fails, and Lambda runs it again |
//! | SendMessageBatch entries fail (SQS's fault) | those entries are sent again with backoff; still failing, the run fails |
//! | a permanent failure (access denied, no such queue or index) | the run fails at once |
//! | the run is retried, or runs twice | the same accounts are sent again: the workers cut the same weeks with the same event_ids, so nothing is emailed twice |

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::page::{DigestPage, MAX_SEND_BYTES, pages_of};
use super::schedule::{RunHour, ZoneDue};
use crate::pipeline::retry::{RetryPolicy, retry_transient};
use crate::ports::{Clock, Ledger, MAX_MESSAGES_PER_SEND, PortError, WorkQueue};

#[derive(Debug, Clone)]
pub struct PlannerConfig {
    /// Ids asked of the index per Query page.
    pub index_page_size: u32,
    pub retry: RetryPolicy,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        PlannerConfig {
            index_page_size: 1000,
            retry: RetryPolicy::default(),
        }
    }
}

/// What the schedule hands the planner: EventBridge Scheduler's event, whose `time` is the
/// scheduled time. `detail` must be empty: the hour says everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanRequest {
    pub hour: RunHour,
}

/// Why an event is not a planner run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanRequestError {
    #[error("the digest planner expects a scheduled event (a JSON object)")]
    NotAnObject,
    #[error("`time` is not an RFC 3339 timestamp: {0:?}")]
    BadTime(String),
    #[error("`time` must be a string")]
    TimeNotAString,
    #[error(
        "`detail` must be empty, not {0} (the run's hour picks the zones and the week; `segment` and `week_start` are gone with the Scan)"
    )]
    DetailNotEmpty(String),
}

impl PlanRequest {
    /// Reads a scheduled event; without `time`, the run is for the hour of `now`.
    pub fn from_event(event: &Value, now: DateTime<Utc>) -> Result<PlanRequest, PlanRequestError> {
        let Some(object) = event.as_object() else {
            return Err(PlanRequestError::NotAnObject);
        };
        let time = match object.get("time") {
            None | Some(Value::Null) => now,
            Some(Value::String(text)) => {
                crate::domain::time::parse_timestamp(text).ok_or_else(|| PlanRequestError::BadTime(text.clone()))?
            }
            Some(_) => return Err(PlanRequestError::TimeNotAString),
        };
        match object.get("detail") {
            None | Some(Value::Null) => {}
            Some(Value::Object(detail)) if detail.is_empty() => {}
            Some(other) => return Err(PlanRequestError::DetailNotEmpty(other.to_string())),
        }
        Ok(PlanRequest {
            hour: RunHour::containing(time),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanReport {
    pub run_hour: Option<DateTime<Utc>>,
    /// The zones due this hour (by name; most hold no account).
    pub zones_due: u64,
    /// The due zones that held accounts, with how many.
    pub zones: Vec<ZoneCount>,
    /// Account ids read from the index.
    pub accounts_read: u64,
    pub index_pages: u64,
    pub messages_sent: u64,
    pub send_calls: u64,
    /// Why the run stopped before the end: it must run again.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneCount {
    pub zone: String,
    pub accounts: u64,
}

impl PlanReport {
    pub fn complete(&self) -> bool {
        self.error.is_none()
    }
}

pub struct DigestPlanner<L, Q, C> {
    pub ledger: L,
    pub queue: Q,
    pub clock: C,
    pub config: PlannerConfig,
}

impl<L: Ledger, Q: WorkQueue, C: Clock> DigestPlanner<L, Q, C> {
    pub fn new(ledger: L, queue: Q, clock: C, config: PlannerConfig) -> Self {
        DigestPlanner {
            ledger,
            queue,
            clock,
            config,
        }
    }

    pub async fn run(&self, request: &PlanRequest) -> PlanReport {
        let mut report = PlanReport {
            run_hour: Some(request.hour.start()),
            ..PlanReport::default()
        };
        let due = request.hour.zones_due();
        report.zones_due = due.len() as u64;
        for zone in &due {
            if let Err(error) = self.plan_zone(request.hour, zone, &mut report).await {
                tracing::error!(zone = zone.zone.name(), error = %error, "the digest plan stopped; the run must be retried");
                report.error = Some(format!("{}: {error}", zone.zone.name()));
                break;
            }
        }
        tracing::info!(
            run_hour = %request.hour.start(),
            zones = report.zones.len(),
            accounts = report.accounts_read,
            messages = report.messages_sent,
            "digest plan done"
        );
        report
    }

    /// One zone: its index pages, each sent as it is read, so memory stays bounded.
    async fn plan_zone(&self, hour: RunHour, due: &ZoneDue, report: &mut PlanReport) -> Result<(), PortError> {
        let zone = due.zone.name();
        let mut after: Option<String> = None;
        let mut accounts = 0u64;
        loop {
            let page = retry_transient(&self.clock, &self.config.retry, || {
                self.ledger
                    .accounts_in_zone(zone, after.as_deref(), self.config.index_page_size)
            })
            .await?;
            report.index_pages += 1;
            accounts += page.account_ids.len() as u64;
            report.accounts_read += page.account_ids.len() as u64;
            let pages = pages_of(hour.start(), due, page.account_ids);
            self.send(&pages, report).await?;
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        if accounts > 0 {
            report.zones.push(ZoneCount {
                zone: zone.to_string(),
                accounts,
            });
        }
        Ok(())
    }

    /// Sends pages ten (and at most 256 KiB) a call, sending again the entries that failed.
    async fn send(&self, pages: &[DigestPage], report: &mut PlanReport) -> Result<(), PortError> {
        let mut pending: Vec<String> = pages.iter().map(DigestPage::body).collect();
        let mut rng = fastrand::Rng::new();
        let mut failures = 0;
        while !pending.is_empty() {
            let mut failed: Vec<String> = Vec::new();
            let mut last_error: Option<PortError> = None;
            for call in calls_of(&pending) {
                report.send_calls += 1;
                match self.queue.send_messages(call).await {
                    Ok(results) => {
                        for (body, result) in call.iter().zip(results) {
                            match result {
                                Ok(()) => report.messages_sent += 1,
                                Err(error) if error.is_transient() => {
                                    failed.push(body.clone());
                                    last_error = Some(error);
                                }
                                Err(error) => return Err(error),
                            }
                        }
                    }
                    Err(error) if error.is_transient() => {
                        failed.extend(call.iter().cloned());
                        last_error = Some(error);
                    }
                    Err(error) => return Err(error),
                }
            }
            if failed.is_empty() {
                break;
            }
            failures += 1;
            if failures >= self.config.retry.max_attempts {
                return Err(last_error.unwrap_or_else(|| PortError::transient("SendMessageBatch kept failing")));
            }
            self.clock.sleep(self.config.retry.delay(failures, &mut rng)).await;
            pending = failed;
        }
        Ok(())
    }
}

/// Consecutive runs of bodies, at most ten and `MAX_SEND_BYTES` each.
fn calls_of(bodies: &[String]) -> Vec<&[String]> {
    let mut calls = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (n, body) in bodies.iter().enumerate() {
        if n > start && (n - start == MAX_MESSAGES_PER_SEND || bytes + body.len() > MAX_SEND_BYTES) {
            calls.push(&bodies[start..n]);
            start = n;
            bytes = 0;
        }
        bytes += body.len();
    }
    if start < bodies.len() {
        calls.push(&bodies[start..]);
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_take_ten_bodies_and_256_kib_at_most() {
        let small: Vec<String> = (0..23).map(|n| n.to_string()).collect();
        assert_eq!(
            calls_of(&small).iter().map(|c| c.len()).collect::<Vec<_>>(),
            [10, 10, 3]
        );
        let big: Vec<String> = (0..5).map(|_| "x".repeat(100 * 1024)).collect();
        assert_eq!(calls_of(&big).iter().map(|c| c.len()).collect::<Vec<_>>(), [2, 2, 1]);
        assert!(calls_of(&[]).is_empty());
    }

    #[test]
    fn a_scheduled_event_is_read_strictly() {
        let now: DateTime<Utc> = "2026-11-30T05:17:00Z".parse().unwrap();
        let hour = |v: Value| PlanRequest::from_event(&v, now).map(|r| r.hour.start());
        let five: DateTime<Utc> = "2026-11-30T05:00:00Z".parse().unwrap();
        assert_eq!(hour(serde_json::json!({})), Ok(five));
        assert_eq!(
            hour(serde_json::json!({"time": "2026-11-30T04:00:00Z", "detail": {}})),
            Ok(five - chrono::Duration::hours(1))
        );
        assert_eq!(hour(serde_json::json!([])), Err(PlanRequestError::NotAnObject));
        assert_eq!(
            hour(serde_json::json!({"time": "Monday"})),
            Err(PlanRequestError::BadTime("Monday".into()))
        );
        assert_eq!(
            hour(serde_json::json!({"time": 5})),
            Err(PlanRequestError::TimeNotAString)
        );
        assert!(matches!(
            hour(serde_json::json!({"detail": {"segment": 0, "total_segments": 2}})),
            Err(PlanRequestError::DetailNotEmpty(_))
        ));
    }
}
