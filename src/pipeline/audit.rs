//! The auditor: every event → one audit record, written once by a conditional put.
//! Duplicates and replays are counted, never rewritten.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;

use super::consumer::{ConsumerPayload, Delivery, Outcome, PayloadError, Reply, reply};
use crate::domain::audit::AuditRecord;
use crate::ports::{AuditLog, Clock, PutOutcome};

#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// How long audit records are kept.
    pub retention: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention: crate::domain::audit::RETENTION,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditStats {
    pub received: u64,
    pub written: u64,
    pub duplicates: u64,
    /// Deliveries that carried a replay-name (written or duplicate).
    pub replays: u64,
    pub retried: u64,
    pub malformed: u64,
}

pub struct Auditor<L, C> {
    pub log: L,
    pub clock: C,
    pub config: AuditConfig,
}

impl<L: AuditLog, C: Clock> Auditor<L, C> {
    pub fn new(log: L, clock: C, config: AuditConfig) -> Self {
        Auditor { log, clock, config }
    }

    pub fn record_of(&self, delivery: &Delivery, received_at: DateTime<Utc>) -> AuditRecord {
        let detail = delivery.detail_value();
        let text = |name: &str| detail.get(name).and_then(Value::as_str);
        AuditRecord {
            // The item's key: the detail's deterministic event_id. The envelope id changes on a
            // replay, so it is only a fallback for events that are not ours.
            event_id: text("event_id").unwrap_or(&delivery.id).to_string(),
            account_id: text("account_id").map(str::to_string),
            occurred_at: text("occurred_at").and_then(crate::domain::time::parse_timestamp),
            detail_type: delivery.detail_type.clone(),
            source: delivery.source.clone(),
            replay_name: delivery.replay_name.clone(),
            received_at,
            expires_at: (received_at + self.config.retention).timestamp(),
            detail,
        }
    }

    /// Handles a Lambda payload (an SQS batch or a bare event). Err: neither shape.
    pub async fn handle(&self, payload: impl ConsumerPayload) -> Result<(Reply, AuditStats), PayloadError> {
        let (shape, messages) = payload.messages()?;
        let mut stats = AuditStats {
            received: messages.len() as u64,
            ..AuditStats::default()
        };
        let mut outcomes = Vec::with_capacity(messages.len());
        for message in &messages {
            let outcome = match message.delivery() {
                Err(reason) => {
                    stats.malformed += 1;
                    tracing::warn!(message_id = message.message_id.as_deref().unwrap_or("-"), reason = %reason, "malformed message");
                    Outcome::malformed(reason)
                }
                Ok(delivery) => {
                    stats.replays += u64::from(delivery.replay_name.is_some());
                    let record = self.record_of(&delivery, self.clock.now());
                    match self.log.put_if_absent(&record).await {
                        Ok(PutOutcome::Written) => {
                            stats.written += 1;
                            Outcome::Done
                        }
                        Ok(PutOutcome::AlreadyPresent) => {
                            stats.duplicates += 1;
                            Outcome::Done
                        }
                        Err(error) => {
                            stats.retried += 1;
                            tracing::warn!(event_id = %record.event_id, error = %error, "audit write failed; to be retried");
                            Outcome::retry(error.to_string())
                        }
                    }
                }
            };
            outcomes.push(outcome);
        }
        Ok((reply(shape, &messages, &outcomes), stats))
    }
}
