//! The notifier: EventBridge events (in an SQS batch or bare) → at most one email each,
//! per the email policy of docs/consumers.md (see `policy`), sent exactly once per event_id.
//!
//! | what happens to a message | outcome | counted as |
//! |---|---|---|
//! | Transaction Recorded, Account Opened, Weekly Statement, email allowed | rendered and sent once | `sent` |
//! | the same event again (redelivery, replay), already sent | skipped, acknowledged | `duplicates` |
//! | the same event while another delivery is sending it | retried later (batchItemFailures) | `retried` |
//! | a preference stops it | acknowledged, nothing sent | `suppressed` (by reason) |
//! | any other detail-type (alerts, Record Rejected) | acknowledged, nothing sent | `not_emailed` |
//! | no profile for the account | acknowledged, logged | `no_profile` |
//! | the profile could not be read (ledger failing) | retried later | `retried` |
//! | throttling, 5xx from the mail service | the key is released, retried later | `retried`, `throttled` |
//! | message rejected (bad or suppressed address) | acknowledged, logged without the address, never retried | `rejected` |
//! | the mail service refuses every message (account suspended or paused, sender unverified, configuration set missing) | the key is released, the message fails: SQS keeps it, then its DLQ, for a redrive once fixed | `retried`, `blocked` |
//! | a detail that does not match its schema, a template error | listed as failed: SQS retries it, then its DLQ keeps it | `malformed` |

pub(crate) mod compose;
pub(crate) mod labels;
pub(crate) mod notice;
pub(crate) mod policy;
pub(crate) mod templates;

pub use notice::StatementNotice;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::domain::email::Mailbox;
use crate::domain::pii::redact_addresses;
use crate::ports::{Clock, Idempotency, Ledger, MailError, Mailer};

use super::consumer::{MessageError, Outcome, PayloadError, Reply, messages_of, reply};
use super::idempotency::{IdempotencyConfig, Once, OnceError, run_once};
use super::profiles::load_profiles;
use super::retry::RetryPolicy;
use compose::{ComposeError, Content, compose};
use notice::Notice;
use policy::{EmailKind, decide};
use templates::Templates;

#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// The sender of every email (an SES verified identity in production).
    pub from: Mailbox,
    pub idempotency: IdempotencyConfig,
    /// For profile lookups (UnprocessedKeys, throttling).
    pub retry: RetryPolicy,
}

impl NotifyConfig {
    pub fn new(from: Mailbox) -> Self {
        NotifyConfig {
            from,
            idempotency: IdempotencyConfig::default(),
            retry: RetryPolicy::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NotifyStats {
    pub received: u64,
    pub sent: u64,
    pub sent_by_template: BTreeMap<&'static str, u64>,
    pub suppressed: u64,
    pub suppressed_by_reason: BTreeMap<&'static str, u64>,
    pub duplicates: u64,
    /// Deliveries that carried a replay-name.
    pub replays: u64,
    pub not_emailed: u64,
    pub no_profile: u64,
    pub rejected: u64,
    pub retried: u64,
    /// Of the retried: the mail service throttled us.
    pub throttled: u64,
    /// Of the retried: the mail service refuses every message (account suspended, sender
    /// not verified); they reach the DLQ unless someone fixes it in time.
    pub blocked: u64,
    pub malformed: u64,
}

/// The idempotency key of an event's email (the store may be shared with other effects).
pub fn email_key(event_id: &str) -> String {
    format!("email#{event_id}")
}

/// What the mail service did with one email.
enum Sending {
    Sent(String),
    Rejected(String),
}

pub struct Notifier<L, M, I, C> {
    pub ledger: L,
    pub mailer: M,
    pub idempotency: I,
    pub clock: C,
    pub config: NotifyConfig,
    templates: &'static Templates,
}

impl<L: Ledger, M: Mailer, I: Idempotency, C: Clock> Notifier<L, M, I, C> {
    pub fn new(ledger: L, mailer: M, idempotency: I, clock: C, config: NotifyConfig) -> Self {
        Notifier {
            ledger,
            mailer,
            idempotency,
            clock,
            config,
            templates: Templates::builtin(),
        }
    }

    /// Handles a Lambda payload (an SQS batch or a bare event). Err: neither shape.
    pub async fn handle(&self, payload: Value) -> Result<(Reply, NotifyStats), PayloadError> {
        let (shape, messages) = messages_of(payload)?;
        let mut stats = NotifyStats {
            received: messages.len() as u64,
            ..NotifyStats::default()
        };
        let notices: Vec<Result<Option<Notice>, MessageError>> = messages
            .iter()
            .map(|m| {
                m.delivery
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|d| Notice::of(&d.detail_type, &d.detail))
            })
            .collect();
        let mut wanted: Vec<String> = notices
            .iter()
            .filter_map(|n| n.as_ref().ok()?.as_ref().map(|n| n.account_id().to_string()))
            .collect();
        wanted.sort();
        wanted.dedup();
        let profiles = load_profiles(&self.ledger, &self.clock, &self.config.retry, &wanted).await;

        let mut outcomes = Vec::with_capacity(messages.len());
        for (message, notice) in messages.iter().zip(notices) {
            if let Ok(delivery) = &message.delivery {
                stats.replays += u64::from(delivery.replay_name.is_some());
            }
            let message_id = message.message_id.as_deref().unwrap_or("-");
            let outcome = match notice {
                Err(error) => {
                    stats.malformed += 1;
                    tracing::warn!(message_id, reason = %error, "malformed message; it will reach the DLQ");
                    Outcome::malformed(error)
                }
                Ok(None) => {
                    stats.not_emailed += 1;
                    Outcome::Done
                }
                Ok(Some(notice)) => {
                    let account_id = notice.account_id();
                    match profiles.profiles.get(account_id) {
                        Some(account) => self.notify(&notice, account, &mut stats).await,
                        None if profiles.unread.contains(account_id) => {
                            stats.retried += 1;
                            let error = profiles
                                .last_error
                                .clone()
                                .unwrap_or_else(|| "profile lookup failed".into());
                            tracing::warn!(event_id = notice.event_id(), account_id, error = %error, "profile unavailable; to be retried");
                            Outcome::retry(error)
                        }
                        None => {
                            stats.no_profile += 1;
                            tracing::warn!(
                                event_id = notice.event_id(),
                                account_id,
                                "no profile for the account; no email"
                            );
                            Outcome::Done
                        }
                    }
                }
            };
            outcomes.push(outcome);
        }
        Ok((reply(shape, &messages, &outcomes), stats))
    }

    async fn notify(&self, notice: &Notice, account: &crate::domain::Account, stats: &mut NotifyStats) -> Outcome {
        let event_id = notice.event_id();
        let kind = match decide(notice, account) {
            Ok(kind) => kind,
            Err(reason) => {
                stats.suppressed += 1;
                *stats.suppressed_by_reason.entry(reason.as_str()).or_default() += 1;
                tracing::info!(
                    event_id,
                    reason = reason.as_str(),
                    "email suppressed by the holder's preferences"
                );
                return Outcome::Done;
            }
        };
        let content = match (notice, kind) {
            (Notice::Transaction(recorded), EmailKind::Transaction(shape)) => Content::Transaction(recorded, shape),
            (Notice::Statement(statement), _) => Content::Statement(statement),
            _ => Content::Welcome,
        };
        let email = match compose(self.templates, &self.config.from, kind, content, account, event_id) {
            Ok(email) => email,
            Err(ComposeError::Address(error)) => {
                stats.rejected += 1;
                tracing::warn!(event_id, account_id = %account.account_id, error = %error, "the profile's email address is unusable; no email");
                return Outcome::Done;
            }
            Err(error) => {
                stats.malformed += 1;
                tracing::error!(event_id, error = %error, "the email could not be rendered");
                return Outcome::malformed(MessageError::Unrenderable(error.to_string()));
            }
        };
        let sending = run_once(
            &self.idempotency,
            &self.clock,
            &self.config.idempotency,
            &email_key(event_id),
            || async {
                match self.mailer.send(&email).await {
                    Ok(message_id) => Ok(Sending::Sent(message_id)),
                    // Final: recorded as done, so that a redelivery does not send it again.
                    Err(MailError::Rejected(reason)) => Ok(Sending::Rejected(reason)),
                    Err(error) => Err(error),
                }
            },
        )
        .await;
        match sending {
            Ok(Once::Done(Sending::Sent(message_id))) => {
                stats.sent += 1;
                *stats.sent_by_template.entry(kind.template()).or_default() += 1;
                tracing::info!(event_id, template = kind.template(), message_id = %message_id, "email sent");
                Outcome::Done
            }
            Ok(Once::Done(Sending::Rejected(reason))) => {
                stats.rejected += 1;
                tracing::warn!(event_id, account_id = %account.account_id, reason = %redact_addresses(&reason), "the mail service rejected the email; not retried");
                Outcome::Done
            }
            Ok(Once::AlreadyDone) => {
                stats.duplicates += 1;
                tracing::info!(event_id, "email already sent; duplicate delivery skipped");
                Outcome::Done
            }
            Err(OnceError::InProgressElsewhere) => {
                stats.retried += 1;
                Outcome::retry("another delivery of this event is sending its email")
            }
            Err(OnceError::Store(error)) => {
                stats.retried += 1;
                tracing::warn!(event_id, error = %error, "idempotency store failed; to be retried");
                Outcome::retry(error.to_string())
            }
            Err(OnceError::Effect(error)) => {
                stats.retried += 1;
                stats.throttled += u64::from(matches!(error, MailError::Throttled(_)));
                let reason = redact_addresses(&error.to_string());
                if matches!(error, MailError::Blocked(_)) {
                    stats.blocked += 1;
                    tracing::error!(event_id, error = %reason, "the mail service refuses to send; the message stays queued, then in the DLQ");
                } else {
                    tracing::warn!(event_id, error = %reason, "sending failed; to be retried");
                }
                Outcome::retry(reason)
            }
        }
    }
}
