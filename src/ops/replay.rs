//! Replaying an EventBridge archive (`txn-notify replay --aws`): check the window against
//! the clock and the archive, start the replay to the bus (all its rules, or the ones
//! named), then follow it with DescribeReplay until it ends. Progress is how far
//! EventLastReplayedTime has got between the window's start and end: EventBridge replays
//! a window minute by minute, in order.
//!
//! | situation | outcome |
//! |---|---|
//! | `--from` not before `--to` | refused before any call |
//! | `--to` in the future | refused: the archive holds nothing after now |
//! | `--to` within the last 10 minutes | refused unless `allow_recent`: EventBridge can take that long to archive an event, so a replay now could miss some |
//! | the window ends before the archive existed, or before its retention | refused, nothing to replay |
//! | the window starts before the archive or its retention | goes ahead, with a note |
//! | the archive is missing or failed to create | refused, with AWS's message |
//! | the replay name is taken | refused (names are unique per account and region) |
//! | DescribeReplay fails transiently | asked again, up to 10 times in a row |
//! | COMPLETED | success |
//! | FAILED or CANCELLED | failure, with the state's reason |

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ports::{ArchiveInfo, ArchiveReplays, Clock, PortError, ReplayRequest, ReplayState, ReplayStatus};

/// EventBridge can take this long to put an event into its archive.
pub const ARCHIVE_DELAY: chrono::Duration = chrono::Duration::minutes(10);
const DESCRIBE_FAILURES_TOLERATED: u32 = 10;

#[derive(Debug, Clone)]
pub struct ReplayPlan {
    pub archive: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Rule ARNs, or names of rules on the archive's bus; empty: every rule.
    pub rules: Vec<String>,
    /// Default: `txn-notify-<now>`.
    pub name: Option<String>,
    pub allow_recent: bool,
    pub poll_every: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplayOutcome {
    pub replay_name: String,
    pub archive_arn: String,
    pub event_bus_arn: String,
    pub rule_arns: Vec<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub state: String,
    pub reason: Option<String>,
    pub last_replayed: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Things worth knowing that did not stop the replay.
    pub notes: Vec<String>,
}

/// What the caller shows while it runs.
pub trait ReplayProgress {
    fn started(&self, name: &str);
    /// `done` in [0, 1].
    fn progressed(&self, state: &ReplayState, done: f64);
}

pub struct NoProgress;

impl ReplayProgress for NoProgress {
    fn started(&self, _: &str) {}
    fn progressed(&self, _: &ReplayState, _: f64) {}
}

/// Why a replay was not started or not followed to its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The window, the name or a rule cannot be replayed: nothing was started.
    #[error("{0}")]
    Refused(String),
    #[error("the archive {archive}: {}", .error.message)]
    Archive { archive: String, error: PortError },
    #[error("StartReplay {name}: {}", .error.message)]
    Start { name: String, error: PortError },
    #[error("DescribeReplay {name}: {} (the replay may still be running: aws events describe-replay --replay-name {name})", .error.message)]
    Describe { name: String, error: PortError },
}

/// The window against the clock and, once known, the archive: Err says why it cannot be
/// replayed; Ok carries notes.
pub fn check_window(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    allow_recent: bool,
    archive: Option<&ArchiveInfo>,
) -> Result<Vec<String>, ReplayError> {
    let time = crate::domain::time::format_rfc3339;
    if from >= to {
        return Err(ReplayError::Refused(format!(
            "--from ({}) must be before --to ({})",
            time(&from),
            time(&to)
        )));
    }
    if to > now {
        return Err(ReplayError::Refused(format!(
            "--to ({}) is in the future: the archive holds nothing after now ({})",
            time(&to),
            time(&now)
        )));
    }
    if !allow_recent && to > now - ARCHIVE_DELAY {
        return Err(ReplayError::Refused(format!(
            "--to ({}) is within the last 10 minutes: EventBridge can take that long to archive an event, so a replay now could miss some. Wait until {}, or pass --allow-recent to replay what the archive holds so far",
            time(&to),
            time(&(to + ARCHIVE_DELAY))
        )));
    }
    let mut notes = Vec::new();
    let Some(archive) = archive else { return Ok(notes) };
    if archive.state.ends_with("FAILED") {
        return Err(ReplayError::Refused(format!(
            "the archive {} is in state {}",
            archive.name, archive.state
        )));
    }
    if let Some(created) = archive.created_at {
        if to <= created {
            return Err(ReplayError::Refused(format!(
                "the window ends before the archive {} was created ({}): there is nothing to replay",
                archive.name,
                time(&created)
            )));
        }
        if from < created {
            notes.push(format!(
                "the archive was created at {}: nothing before that is replayed",
                time(&created)
            ));
        }
    }
    if let Some(days) = archive.retention_days {
        let kept_since = now - chrono::Duration::days(i64::from(days));
        if to <= kept_since {
            return Err(ReplayError::Refused(format!(
                "the window ends before what the archive still keeps ({days} days, since {})",
                time(&kept_since)
            )));
        }
        if from < kept_since {
            notes.push(format!(
                "the archive keeps {days} days: events before {} are gone",
                time(&kept_since)
            ));
        }
    }
    Ok(notes)
}

/// A rule name becomes the ARN of that rule on the archive's bus.
pub fn rule_arn(bus_arn: &str, rule: &str) -> Result<String, ReplayError> {
    if rule.starts_with("arn:") {
        return Ok(rule.to_string());
    }
    let (prefix, bus) = bus_arn
        .split_once(":event-bus/")
        .ok_or_else(|| ReplayError::Refused(format!("{bus_arn} is not an event bus ARN")))?;
    Ok(if bus == "default" {
        format!("{prefix}:rule/{rule}")
    } else {
        format!("{prefix}:rule/{bus}/{rule}")
    })
}

fn check_name(name: &str) -> Result<(), ReplayError> {
    let valid =
        !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(ReplayError::Refused(format!(
            "the replay name {name:?} must be 1 to 64 letters, digits, '.', '-' or '_'"
        )))
    }
}

fn progress_of(status: &ReplayStatus, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    if status.state == ReplayState::Completed {
        return 1.0;
    }
    let Some(last) = status.last_replayed else { return 0.0 };
    let span = (to - from).num_milliseconds().max(1) as f64;
    ((last - from).num_milliseconds() as f64 / span).clamp(0.0, 1.0)
}

/// Runs the plan to the end of the replay. Err carries a message for the operator.
pub async fn replay_archive(
    replays: &impl ArchiveReplays,
    clock: &impl Clock,
    plan: &ReplayPlan,
    progress: &impl ReplayProgress,
) -> Result<ReplayOutcome, ReplayError> {
    let now = clock.now();
    check_window(plan.from, plan.to, now, plan.allow_recent, None)?;
    let name = plan
        .name
        .clone()
        .unwrap_or_else(|| format!("txn-notify-{}", now.format("%Y%m%dT%H%M%SZ")));
    check_name(&name)?;
    let archive = replays
        .describe_archive(&plan.archive)
        .await
        .map_err(|error| ReplayError::Archive {
            archive: plan.archive.clone(),
            error,
        })?;
    let notes = check_window(plan.from, plan.to, now, plan.allow_recent, Some(&archive))?;
    let rule_arns = plan
        .rules
        .iter()
        .map(|rule| rule_arn(&archive.event_bus_arn, rule))
        .collect::<Result<Vec<_>, _>>()?;
    let request = ReplayRequest {
        name: name.clone(),
        description: format!(
            "txn-notify replay of {} to {}",
            crate::domain::time::format_rfc3339(&plan.from),
            crate::domain::time::format_rfc3339(&plan.to)
        ),
        archive_arn: archive.arn.clone(),
        event_bus_arn: archive.event_bus_arn.clone(),
        rule_arns: rule_arns.clone(),
        from: plan.from,
        to: plan.to,
    };
    let mut status = replays
        .start_replay(&request)
        .await
        .map_err(|error| ReplayError::Start {
            name: name.clone(),
            error,
        })?;
    progress.started(&name);
    let mut failures = 0;
    loop {
        progress.progressed(&status.state, progress_of(&status, plan.from, plan.to));
        if status.state.is_final() {
            break;
        }
        clock.sleep(plan.poll_every).await;
        match replays.describe_replay(&name).await {
            Ok(next) => {
                status = next;
                failures = 0;
            }
            Err(error) if error.is_transient() && failures < DESCRIBE_FAILURES_TOLERATED => failures += 1,
            Err(error) => {
                return Err(ReplayError::Describe { name, error });
            }
        }
    }
    let outcome = ReplayOutcome {
        replay_name: name,
        archive_arn: archive.arn,
        event_bus_arn: archive.event_bus_arn,
        rule_arns,
        from: plan.from,
        to: plan.to,
        state: status.state.as_str().to_string(),
        reason: status.reason,
        last_replayed: status.last_replayed,
        started_at: status.started_at,
        ended_at: status.ended_at,
        notes,
    };
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn archive() -> ArchiveInfo {
        ArchiveInfo {
            name: "txn-notify-archive".into(),
            arn: "arn:aws:events:eu-west-3:123456789012:archive/txn-notify-archive".into(),
            event_bus_arn: "arn:aws:events:eu-west-3:123456789012:event-bus/txn-notify".into(),
            state: "ENABLED".into(),
            retention_days: Some(30),
            created_at: Some(at("2026-11-01T00:00:00Z")),
            event_count: Some(10),
        }
    }

    #[test]
    fn windows_that_cannot_be_replayed_are_refused_with_the_reason() {
        let now = at("2026-11-30T12:00:00Z");
        let refused = |from: &str, to: &str| {
            check_window(at(from), at(to), now, false, Some(&archive()))
                .unwrap_err()
                .to_string()
        };
        assert!(refused("2026-11-30T10:00:00Z", "2026-11-30T09:00:00Z").contains("must be before"));
        assert!(refused("2026-11-30T10:00:00Z", "2026-11-30T13:00:00Z").contains("in the future"));
        assert!(refused("2026-11-30T10:00:00Z", "2026-11-30T11:55:00Z").contains("within the last 10 minutes"));
        assert!(refused("2026-10-01T00:00:00Z", "2026-10-30T00:00:00Z").contains("before the archive"));
        let mut short = archive();
        short.retention_days = Some(1);
        short.created_at = None;
        let error = check_window(
            at("2026-11-20T00:00:00Z"),
            at("2026-11-25T00:00:00Z"),
            now,
            false,
            Some(&short),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("keeps (1 days") || error.contains("still keeps"),
            "{error}"
        );
        assert!(
            check_window(
                at("2026-11-30T10:00:00Z"),
                at("2026-11-30T11:55:00Z"),
                now,
                true,
                Some(&archive())
            )
            .is_ok(),
            "allowed when asked"
        );
    }

    #[test]
    fn a_window_partly_before_the_archive_goes_ahead_with_a_note() {
        let now = at("2026-11-30T12:00:00Z");
        let notes = check_window(
            at("2026-10-20T00:00:00Z"),
            at("2026-11-30T11:00:00Z"),
            now,
            false,
            Some(&archive()),
        )
        .unwrap();
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[test]
    fn rule_names_become_arns_on_the_archive_bus() {
        let bus = "arn:aws:events:eu-west-3:123456789012:event-bus/txn-notify";
        assert_eq!(
            rule_arn(bus, "NotifyRule").unwrap(),
            "arn:aws:events:eu-west-3:123456789012:rule/txn-notify/NotifyRule"
        );
        assert_eq!(
            rule_arn("arn:aws:events:eu-west-3:123456789012:event-bus/default", "r").unwrap(),
            "arn:aws:events:eu-west-3:123456789012:rule/r"
        );
        assert_eq!(rule_arn(bus, "arn:aws:events:x").unwrap(), "arn:aws:events:x");
    }

    #[test]
    fn progress_is_how_far_the_last_replayed_time_got() {
        let (from, to) = (at("2026-11-30T10:00:00Z"), at("2026-11-30T11:00:00Z"));
        let mut status = ReplayStatus {
            state: ReplayState::Running,
            reason: None,
            last_replayed: Some(at("2026-11-30T10:15:00Z")),
            started_at: None,
            ended_at: None,
        };
        assert!((progress_of(&status, from, to) - 0.25).abs() < 1e-9);
        status.last_replayed = None;
        assert_eq!(progress_of(&status, from, to), 0.0);
        status.state = ReplayState::Completed;
        assert_eq!(progress_of(&status, from, to), 1.0);
    }

    #[test]
    fn replay_names_follow_eventbridge_rules() {
        assert!(check_name("txn-notify-20261130T120000Z").is_ok());
        assert!(check_name("bad name").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
