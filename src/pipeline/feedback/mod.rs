//! Email feedback from SES (docs/feedback.md): SES's events about the emails the notifier
//! sent, as the configuration set publishes them to the default bus and a rule there hands
//! them to FeedbackQueue. `ses_event` reads them; the delivery state they move is
//! `domain::DeliveryState::advanced_by`; `address` marks an account's address.
//!
//! | SES event | effect | counted as |
//! |---|---|---|
//! | Email Sent, Email Delivered, Email Delivery Delayed | the email's delivery state moves forward (never back, never out of a final state) | `FeedbackReceived` by type |
//! | Email Bounced, Permanent | state `bounced`; `email_status` undeliverable (bounce) if `email` is still that address; a Notification Undeliverable | `addresses_marked`, `undeliverable` |
//! | Email Bounced, Transient or Undetermined | state `delayed`, nothing else (SES already retried) | |
//! | Email Complaint Received | state `complained`; `email_status` undeliverable (complaint) if `email` is still that address; a Notification Undeliverable | `addresses_marked`, `undeliverable` |
//! | Email Rejected, Email Rendering Failed | state `rejected`; a Notification Undeliverable | `undeliverable` |
//! | the same feedback again (redelivery, replay, SES repeating itself) | nothing changes: the state does not move, the address is already marked, the report is published once | `unchanged` |
//! | an email of another configuration set | acknowledged, nothing done | `other_configuration_set` |
//! | an email of ours without our tags (not sent by the notifier) | acknowledged, nothing done | `untagged` |
//! | an event whose source is not `aws.ses` | acknowledged, nothing done | `not_ses` |
//! | an SES event of a type not tracked (Email Opened, Email Clicked, Email Subscribed) | acknowledged, nothing done | `other_event_type` |
//! | the notification is not in the audit trail yet (SES was faster than the notifier's record) | retried later | `retried` |
//! | the ledger, the audit table, the bus or the idempotency table failing | retried later; what was done stays done | `retried` |
//! | not an EventBridge event, not an SES email event, a detail SES would not write | reported failed: SQS retries it, then its DLQ keeps it | `malformed` |

pub mod address;
pub mod ses_event;

pub use address::{AddressMark, mark_undeliverable};
pub use ses_event::{BounceType, FeedbackKind, SesEventError, SesFeedback};

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::events::{DetailType, Severity, UndeliveredReason};
use crate::domain::{DeliveryState, UndeliverableReason};
use crate::ports::{Clock, DeliveryUpdate, EventBus, Idempotency, Ledger, NotificationLog, PortError};

use super::consumer::{ConsumerPayload, Delivery, MessageError, Outcome, PayloadError, Reply, reply};
use super::idempotency::IdempotencyConfig;
use super::retry::{RetryPolicy, retry_transient};
use super::undeliverable::{ReportError, Reported, Reporting, Undelivered, report_undeliverable};

/// The source of SES's events on the default bus.
pub const SES_SOURCE: &str = "aws.ses";

#[derive(Debug, Clone)]
pub struct FeedbackConfig {
    /// Our configuration set: feedback of any other is skipped.
    pub configuration_set: String,
    /// Where Notification Undeliverable events go.
    pub event_bus_name: String,
    pub retry: RetryPolicy,
    pub idempotency: IdempotencyConfig,
}

impl FeedbackConfig {
    pub fn new(configuration_set: impl Into<String>, event_bus_name: impl Into<String>) -> Self {
        FeedbackConfig {
            configuration_set: configuration_set.into(),
            event_bus_name: event_bus_name.into(),
            retry: RetryPolicy::default(),
            idempotency: IdempotencyConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedbackStats {
    pub received: u64,
    /// By SES's `eventType` (Send, Delivery, Bounce, ...), of the feedback that was ours.
    pub by_event_type: BTreeMap<&'static str, u64>,
    /// Delivery states moved forward.
    pub moved: u64,
    /// Feedback that moved nothing (late, repeated).
    pub unchanged: u64,
    pub addresses_marked: u64,
    /// Bounces and complaints of an address the account no longer has.
    pub address_changed: u64,
    /// Notification Undeliverable events published.
    pub undeliverable: u64,
    pub other_configuration_set: u64,
    pub untagged: u64,
    pub not_ses: u64,
    /// SES events of a type feedback does not track (Email Opened, Email Clicked, ...).
    pub other_event_type: u64,
    pub retried: u64,
    pub malformed: u64,
}

impl FeedbackStats {
    /// Feedback acknowledged without effect: not ours, or not tracked.
    pub fn skipped(&self) -> u64 {
        self.other_configuration_set + self.untagged + self.not_ses + self.other_event_type
    }
}

pub struct Feedback<L, N, B, I, C> {
    pub ledger: L,
    pub notifications: N,
    pub bus: B,
    pub idempotency: I,
    pub clock: C,
    pub config: FeedbackConfig,
}

impl<L: Ledger, N: NotificationLog, B: EventBus, I: Idempotency, C: Clock> Feedback<L, N, B, I, C> {
    pub fn new(ledger: L, notifications: N, bus: B, idempotency: I, clock: C, config: FeedbackConfig) -> Self {
        Feedback {
            ledger,
            notifications,
            bus,
            idempotency,
            clock,
            config,
        }
    }

    /// Handles a Lambda payload (an SQS batch or a bare event). Err: neither shape.
    pub async fn handle(&self, payload: impl ConsumerPayload) -> Result<(Reply, FeedbackStats), PayloadError> {
        let (shape, messages) = payload.messages()?;
        let mut stats = FeedbackStats {
            received: messages.len() as u64,
            ..FeedbackStats::default()
        };
        let mut outcomes = Vec::with_capacity(messages.len());
        for message in &messages {
            let message_id = message.message_id.as_deref().unwrap_or("-");
            let outcome = match message.delivery() {
                Err(error) => {
                    stats.malformed += 1;
                    tracing::warn!(message_id, reason = %error, "malformed message; it will reach the DLQ");
                    Outcome::malformed(error)
                }
                Ok(delivery) => self.one(&delivery, &mut stats).await,
            };
            outcomes.push(outcome);
        }
        Ok((reply(shape, &messages, &outcomes), stats))
    }

    async fn one(&self, delivery: &Delivery, stats: &mut FeedbackStats) -> Outcome {
        if delivery.source != SES_SOURCE {
            stats.not_ses += 1;
            tracing::info!(source = %delivery.source, "not an SES event; skipped");
            return Outcome::Done;
        }
        let feedback = match SesFeedback::from_event(&delivery.detail_type, delivery.detail.get()) {
            Ok(feedback) => feedback,
            Err(SesEventError::NotAnEmailEvent(detail_type)) => {
                stats.other_event_type += 1;
                tracing::info!(detail_type = %detail_type, "an SES event feedback does not track; skipped");
                return Outcome::Done;
            }
            Err(error) => {
                stats.malformed += 1;
                tracing::warn!(detail_type = %delivery.detail_type, reason = %error, "not an SES email event we can read; it will reach the DLQ");
                return Outcome::malformed(MessageError::BadDetail {
                    path: "detail".into(),
                    reason: error.to_string(),
                });
            }
        };
        if feedback.configuration_set.as_deref() != Some(self.config.configuration_set.as_str()) {
            stats.other_configuration_set += 1;
            tracing::info!(message_id = %feedback.message_id, "feedback of another configuration set; skipped");
            return Outcome::Done;
        }
        *stats.by_event_type.entry(feedback.kind.event_type()).or_default() += 1;
        let (Some(event_id), Some(account_id), Some(detail_type)) = (
            feedback.event_id.as_deref(),
            feedback.account_id.as_deref(),
            feedback.detail_type,
        ) else {
            stats.untagged += 1;
            tracing::info!(message_id = %feedback.message_id, "an email without the notifier's tags; skipped");
            return Outcome::Done;
        };
        let event = FeedbackOf {
            feedback: &feedback,
            event_id,
            account_id,
            detail_type,
        };
        match self.apply(&event, stats).await {
            Ok(()) => Outcome::Done,
            Err(error) => {
                stats.retried += 1;
                tracing::warn!(event_id, message_id = %feedback.message_id, error = %error, "feedback not fully applied; to be retried");
                Outcome::retry(error.to_string())
            }
        }
    }

    /// The effects of one feedback, each idempotent, so that a retry after any failure
    /// redoes only what is missing.
    async fn apply(&self, event: &FeedbackOf<'_>, stats: &mut FeedbackStats) -> Result<(), FeedbackError> {
        let feedback = event.feedback;
        let reason = match feedback.kind {
            FeedbackKind::Bounce(BounceType::Permanent) => Some(UndeliverableReason::Bounce),
            FeedbackKind::Complaint => Some(UndeliverableReason::Complaint),
            _ => None,
        };
        if let Some(reason) = reason {
            for address in &feedback.recipients {
                let mark = mark_undeliverable(
                    &self.ledger,
                    &self.clock,
                    &self.config.retry,
                    event.account_id,
                    address.expose(),
                    reason,
                    feedback.timestamp,
                )
                .await
                .map_err(FeedbackError::MarkAddress)?;
                match mark {
                    AddressMark::Marked => {
                        stats.addresses_marked += 1;
                        tracing::warn!(
                            account_id = event.account_id,
                            reason = reason.as_str(),
                            "the account's address is now undeliverable"
                        );
                    }
                    AddressMark::AddressChanged => stats.address_changed += 1,
                    AddressMark::AlreadyMarked => {}
                    AddressMark::Missing => {
                        tracing::warn!(
                            account_id = event.account_id,
                            "feedback for an account that is not in the ledger"
                        )
                    }
                }
            }
        }
        let reported = feedback.kind.reported_state();
        let update = retry_transient(&self.clock, &self.config.retry, || {
            self.notifications
                .record_delivery(event.event_id, &feedback.message_id, reported, feedback.timestamp)
        })
        .await
        .map_err(FeedbackError::RecordDelivery)?;
        let now_final = match update {
            DeliveryUpdate::UnknownEmail => return Err(FeedbackError::NotYetRecorded),
            DeliveryUpdate::Moved { .. } => {
                stats.moved += 1;
                reported.is_final()
            }
            DeliveryUpdate::Unchanged { current } => {
                stats.unchanged += 1;
                // The same final report again: its Notification Undeliverable may not have
                // gone out yet (published once, whoever gets there).
                reported.is_final() && current == reported
            }
        };
        if now_final {
            self.report(event, reported, stats).await?;
        }
        Ok(())
    }

    async fn report(
        &self,
        event: &FeedbackOf<'_>,
        state: DeliveryState,
        stats: &mut FeedbackStats,
    ) -> Result<(), FeedbackError> {
        let feedback = event.feedback;
        let reason = match state {
            DeliveryState::Bounced => UndeliveredReason::Bounced,
            DeliveryState::Complained => UndeliveredReason::Complained,
            _ => UndeliveredReason::Rejected,
        };
        let undelivered = Undelivered {
            original_event_id: event.event_id,
            original_detail_type: event.detail_type,
            account_id: event.account_id,
            transaction_id: feedback.transaction_id.as_deref(),
            reason,
            template: feedback.template.as_deref(),
            message_id: Some(&feedback.message_id),
            severity: feedback.severity.unwrap_or(Severity::Info),
            findings: Vec::new(),
            at: feedback.timestamp,
        };
        let reporting = Reporting {
            bus: &self.bus,
            idempotency: &self.idempotency,
            clock: &self.clock,
            retry: &self.config.retry,
            idempotency_config: &self.config.idempotency,
            event_bus_name: &self.config.event_bus_name,
        };
        match report_undeliverable(&reporting, &undelivered).await? {
            Reported::Published => stats.undeliverable += 1,
            Reported::AlreadyPublished => {}
        }
        Ok(())
    }
}

/// Why a feedback was not fully applied: the message is retried, and what was done stays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackError {
    #[error("marking the address undeliverable failed: {0}")]
    MarkAddress(PortError),
    #[error("recording the delivery state failed: {0}")]
    RecordDelivery(PortError),
    #[error("the notification of this email is not in the audit trail yet")]
    NotYetRecorded,
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// A feedback of ours, with the tags that name its notification.
struct FeedbackOf<'a> {
    feedback: &'a SesFeedback,
    event_id: &'a str,
    account_id: &'a str,
    detail_type: DetailType,
}
