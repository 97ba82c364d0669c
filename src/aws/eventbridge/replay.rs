//! EventBridge archives and replays: DescribeArchive, StartReplay, DescribeReplay, for
//! `txn-notify replay --aws`.
//!
//! | what came back | result |
//! |---|---|
//! | ResourceNotFoundException (no such archive or replay) | permanent, "… not found" |
//! | ResourceAlreadyExistsException (the replay name is taken) | permanent |
//! | LimitExceededException (too many replays running) | transient |
//! | ValidationException (a bad window, a rule of another bus) | permanent, with AWS's message |
//! | throttling, 5xx, no response | transient |

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime as AwsTime;
use aws_sdk_eventbridge::types::ReplayDestination;
use chrono::{DateTime, Utc};

use crate::aws::failure::classify;
use crate::ports::{ArchiveInfo, ArchiveReplays, PortError, ReplayRequest, ReplayState, ReplayStatus};

#[derive(Clone)]
pub struct EventBridgeReplays {
    client: Client,
}

impl EventBridgeReplays {
    pub fn new(client: Client) -> Self {
        EventBridgeReplays { client }
    }
}

fn to_chrono(time: Option<&AwsTime>) -> Option<DateTime<Utc>> {
    let time = time?;
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

fn to_aws(time: DateTime<Utc>) -> AwsTime {
    AwsTime::from_millis(time.timestamp_millis())
}

fn status(
    state: Option<&aws_sdk_eventbridge::types::ReplayState>,
    reason: Option<&str>,
    last: Option<&AwsTime>,
    started: Option<&AwsTime>,
    ended: Option<&AwsTime>,
) -> ReplayStatus {
    ReplayStatus {
        state: state.map_or(ReplayState::Starting, |s| ReplayState::parse(s.as_str())),
        reason: reason.map(str::to_string),
        last_replayed: to_chrono(last),
        started_at: to_chrono(started),
        ended_at: to_chrono(ended),
    }
}

impl ArchiveReplays for EventBridgeReplays {
    async fn describe_archive(&self, name: &str) -> Result<ArchiveInfo, PortError> {
        let archive = self
            .client
            .describe_archive()
            .archive_name(name)
            .send()
            .await
            .map_err(|e| classify("DescribeArchive", &e))?;
        Ok(ArchiveInfo {
            name: archive.archive_name.unwrap_or_else(|| name.to_string()),
            arn: archive
                .archive_arn
                .ok_or_else(|| PortError::permanent("DescribeArchive: no ArchiveArn"))?,
            event_bus_arn: archive
                .event_source_arn
                .ok_or_else(|| PortError::permanent("DescribeArchive: no EventSourceArn"))?,
            state: archive.state.map(|s| s.as_str().to_string()).unwrap_or_default(),
            retention_days: archive
                .retention_days
                .and_then(|d| u32::try_from(d).ok())
                .filter(|d| *d > 0),
            created_at: to_chrono(archive.creation_time.as_ref()),
            event_count: Some(archive.event_count),
        })
    }

    async fn start_replay(&self, request: &ReplayRequest) -> Result<ReplayStatus, PortError> {
        let destination = ReplayDestination::builder()
            .arn(&request.event_bus_arn)
            .set_filter_arns((!request.rule_arns.is_empty()).then(|| request.rule_arns.clone()))
            .build()
            .map_err(|e| PortError::permanent(format!("StartReplay: {e}")))?;
        let output = self
            .client
            .start_replay()
            .replay_name(&request.name)
            .description(&request.description)
            .event_source_arn(&request.archive_arn)
            .destination(destination)
            .event_start_time(to_aws(request.from))
            .event_end_time(to_aws(request.to))
            .send()
            .await
            .map_err(|e| classify("StartReplay", &e))?;
        Ok(status(
            output.state.as_ref(),
            output.state_reason.as_deref(),
            None,
            output.replay_start_time.as_ref(),
            None,
        ))
    }

    async fn describe_replay(&self, name: &str) -> Result<ReplayStatus, PortError> {
        let output = self
            .client
            .describe_replay()
            .replay_name(name)
            .send()
            .await
            .map_err(|e| classify("DescribeReplay", &e))?;
        Ok(status(
            output.state.as_ref(),
            output.state_reason.as_deref(),
            output.event_last_replayed_time.as_ref(),
            output.replay_start_time.as_ref(),
            output.replay_end_time.as_ref(),
        ))
    }
}
