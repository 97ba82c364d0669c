//! Publishing a Notification Undeliverable once: the notifier (an email suppressed because
//! the address is undeliverable, or refused by SES at once) and the feedback function (a
//! bounce, a complaint, a rejection) both report through here.
//!
//! The event's id is derived from the original event and what went wrong
//! (`event_id::for_notification_undeliverable`), and the publication is an idempotent effect
//! keyed on it: a redelivered message, a replayed event or a repeated SES report publishes
//! nothing a second time while the idempotency record lives.

use chrono::{DateTime, Utc};

use crate::domain::event_id::for_notification_undeliverable;
use crate::domain::events::{
    BusEvent, DetailType, Header, NotificationUndeliverable, Severity, UndeliveredFinding, UndeliveredReason,
};

use super::idempotency::{IdempotencyConfig, Once, OnceError, run_once};
use super::publish::{EntryGroup, PublishLimits, entry_for, publish};
use super::retry::RetryPolicy;
use crate::ports::{Clock, EventBus, Idempotency, PortError};

/// What was not delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Undelivered<'a> {
    pub original_event_id: &'a str,
    pub original_detail_type: DetailType,
    pub account_id: &'a str,
    pub transaction_id: Option<&'a str>,
    pub reason: UndeliveredReason,
    pub template: Option<&'a str>,
    /// SES's message id; None when nothing was sent.
    pub message_id: Option<&'a str>,
    pub severity: Severity,
    pub findings: Vec<UndeliveredFinding>,
    pub at: DateTime<Utc>,
}

impl Undelivered<'_> {
    /// What makes this report one of its own: the email (SES's message id), else the reason
    /// and the template (two emails of one event may both be refused at once).
    fn cause(&self) -> String {
        match self.message_id {
            Some(message_id) => message_id.to_string(),
            None => format!("{}#{}", self.reason.as_str(), self.template.unwrap_or("-")),
        }
    }

    pub fn event(&self) -> NotificationUndeliverable {
        NotificationUndeliverable {
            header: Header::new(
                for_notification_undeliverable(self.original_event_id, &self.cause()),
                self.account_id,
                self.at,
            ),
            original_event_id: self.original_event_id.to_string(),
            original_detail_type: self.original_detail_type,
            transaction_id: self.transaction_id.map(str::to_string),
            reason: self.reason,
            template: self.template.map(str::to_string),
            message_id: self.message_id.map(str::to_string),
            severity: self.severity,
            findings: self.findings.clone(),
        }
    }
}

/// Where and how the reports are published.
pub struct Reporting<'a, B, I, C> {
    pub bus: &'a B,
    pub idempotency: &'a I,
    pub clock: &'a C,
    pub retry: &'a RetryPolicy,
    pub idempotency_config: &'a IdempotencyConfig,
    pub event_bus_name: &'a str,
}

/// Why a report was not published: the message is retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("another delivery is publishing the same Notification Undeliverable")]
    InProgressElsewhere,
    #[error("the idempotency store failed: {0}")]
    Store(PortError),
    #[error("PutEvents of the Notification Undeliverable failed: {0}")]
    Bus(String),
}

/// Whether this call published the event or an earlier one had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    Published,
    AlreadyPublished,
}

/// Publishes the report once. Err: it could not be published (or another delivery is
/// publishing it now): the message is retried.
pub async fn report_undeliverable<B: EventBus, I: Idempotency, C: Clock>(
    reporting: &Reporting<'_, B, I, C>,
    undelivered: &Undelivered<'_>,
) -> Result<Reported, ReportError> {
    let event = undelivered.event();
    let key = format!("undeliverable#{}", event.header.event_id);
    let group = EntryGroup {
        account: Some(undelivered.account_id.to_string()),
        entries: vec![entry_for(
            &BusEvent::NotificationUndeliverable(event),
            reporting.event_bus_name,
        )],
    };
    let outcome = run_once(
        reporting.idempotency,
        reporting.clock,
        reporting.idempotency_config,
        &key,
        || async {
            let outcome = publish(
                reporting.bus,
                reporting.clock,
                reporting.retry,
                &PublishLimits::default(),
                std::slice::from_ref(&group),
            )
            .await;
            match outcome.first_unpublished {
                None => Ok(()),
                Some(_) => Err(outcome
                    .last_error
                    .unwrap_or_else(|| "the bus did not take the event".into())),
            }
        },
    )
    .await;
    match outcome {
        Ok(Once::Done(())) => Ok(Reported::Published),
        Ok(Once::AlreadyDone(_)) => Ok(Reported::AlreadyPublished),
        Err(OnceError::InProgressElsewhere) => Err(ReportError::InProgressElsewhere),
        Err(OnceError::Store(error)) => Err(ReportError::Store(error)),
        Err(OnceError::Effect(error)) => Err(ReportError::Bus(error)),
    }
}
