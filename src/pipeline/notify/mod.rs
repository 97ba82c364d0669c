//! The notifier: EventBridge events (in an SQS batch or bare) → their emails, per the email
//! policy of docs/consumers.md (see `policy`), each sent exactly once per event_id, and the
//! decision recorded in the audit trail (`NotificationLog`) for the history API.
//!
//! | what happens to a message | outcome | counted as |
//! |---|---|---|
//! | Transaction Recorded, Account Opened, Weekly Statement, email allowed | rendered and sent once; decision `sent` recorded with SES's message id | `sent` |
//! | Account Updated of `email` or `status` (to frozen or closed) | its emails (see `policy`), each sent once; one decision recorded | `sent` (per email) |
//! | Account Updated of anything else | acknowledged, nothing sent or recorded | `not_emailed` |
//! | the same event again (redelivery, replay), already sent | skipped, acknowledged; the decision recorded again from the message id the idempotency record kept (a no-op if it is there) | `duplicates` |
//! | the same event while another delivery is sending it | retried later (batchItemFailures) | `retried` |
//! | a preference or the account's status stops it | acknowledged, nothing sent; decision `suppressed` recorded with the reason | `suppressed` (by reason) |
//! | the decision cannot be recorded (audit table failing) | retried later; a redelivery sends nothing twice | `retried` |
//! | any other detail-type (alerts, Record Rejected) | acknowledged, nothing sent | `not_emailed` |
//! | no profile for the account | acknowledged, logged | `no_profile` |
//! | the profile could not be read (ledger failing) | retried later | `retried` |
//! | throttling, 5xx from the mail service | the key is released, retried later | `retried`, `throttled` |
//! | message rejected by SES at once (MessageRejected), or an address no email can go to | acknowledged, logged without the address, never retried; recorded as `rejected`; a Notification Undeliverable (reason `rejected`) | `rejected`, `undeliverable` |
//! | the account's address is marked undeliverable (SES feedback) | acknowledged, nothing sent to it; decision `suppressed` (`address_undeliverable`); a Notification Undeliverable when the event is of severity warning or above and nothing was sent for it before (a replay of an alert that went out finds its `sent` decision) | `suppressed`, `undeliverable` |
//! | a Notification Undeliverable cannot be published (bus failing) | retried later; it is published once (idempotent on its event id) | `retried` |
//! | a Weekly Statement while the signing secret cannot be read (its unsubscribe link) | retried later | `retried` |
//! | the mail service refuses every message (account suspended or paused, sender unverified, configuration set missing) | the key is released, the message fails: SQS keeps it, then its DLQ, for a redrive once fixed | `retried`, `blocked` |
//! | a detail that does not match its schema, a template error | listed as failed: SQS retries it, then its DLQ keeps it | `malformed` |

pub(crate) mod compose;
pub(crate) mod labels;
pub(crate) mod notice;
pub(crate) mod policy;
pub mod templates;

pub use notice::StatementNotice;

/// The built-in templates, for the pages the API shows (the unsubscribe page).
pub fn page_templates() -> &'static Templates {
    Templates::builtin()
}

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::email::Mailbox;
use crate::domain::events::{Severity, UndeliveredReason};
use crate::domain::pii::redact_addresses;
use crate::domain::unsubscribe::{STATEMENT_PURPOSE, TOKEN_LIFETIME, mint};
use crate::domain::{Account, Decision, DeliveryState, Notification, NotificationEmail};
use crate::ports::{Clock, EventBus, Idempotency, Ledger, MailError, Mailer, NotificationLog, PutOutcome, Secrets};

use super::consumer::{ConsumerPayload, MessageError, Outcome, PayloadError, Reply, reply};
use super::idempotency::{IdempotencyConfig, Once, OnceError, run_once};
use super::profiles::load_profiles;
use super::retry::{RetryPolicy, retry_transient};
use super::secret_cache::SecretCache;
use super::undeliverable::{Reported, Reporting, Undelivered, report_undeliverable};
use compose::{ComposeError, Content, compose};
use notice::Notice;
use policy::{EmailKind, Plan, Suppression, plan};
use templates::Templates;

#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// The sender of every email (an SES verified identity in production).
    pub from: Mailbox,
    pub idempotency: IdempotencyConfig,
    /// For profile lookups (UnprocessedKeys, throttling) and the audit trail's writes.
    pub retry: RetryPolicy,
    /// The HTTP API's base URL (`https://…execute-api…`, `http://127.0.0.1:<port>` in `dev`):
    /// statements link to `<base>/v1/unsubscribe/{token}`. None: no unsubscribe link.
    pub public_api_url: Option<String>,
    /// How long the signing secret is cached.
    pub secret_ttl: Duration,
    /// How long the audit trail keeps a notification (as the auditor its records).
    pub retention: chrono::Duration,
    /// Where Notification Undeliverable events go.
    pub event_bus_name: String,
}

impl NotifyConfig {
    pub fn new(from: Mailbox) -> Self {
        NotifyConfig {
            from,
            idempotency: IdempotencyConfig::default(),
            retry: RetryPolicy::default(),
            public_api_url: None,
            secret_ttl: Duration::from_secs(300),
            retention: crate::domain::audit::RETENTION,
            event_bus_name: "txn-notify".into(),
        }
    }

    pub fn with_public_api_url(mut self, url: impl Into<String>) -> Self {
        self.public_api_url = Some(url.into().trim_end_matches('/').to_string());
        self
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
    /// Notification Undeliverable events published (suppressed for an undeliverable
    /// address at warning or above, or refused by SES at once).
    pub undeliverable: u64,
}

/// The idempotency key of an event's email (the store may be shared with other effects).
pub fn email_key(event_id: &str) -> String {
    format!("email#{event_id}")
}

/// The key of one email of an event that sends several (an Account Updated).
fn key_of(event_id: &str, kind: EmailKind) -> String {
    match kind {
        EmailKind::Transaction(_) | EmailKind::Welcome | EmailKind::Statement => email_key(event_id),
        _ => format!("email#{event_id}#{}", kind.template()),
    }
}

/// What the mail service did with one email; kept in the idempotency record, so that a
/// redelivery records the same decision.
#[derive(Serialize, Deserialize)]
enum Sending {
    Sent(String),
    Rejected(String),
}

pub struct Notifier<L, M, B, I, N, S, C> {
    pub ledger: L,
    pub mailer: M,
    /// For Notification Undeliverable events.
    pub bus: B,
    pub idempotency: I,
    pub notifications: N,
    pub secrets: SecretCache<S>,
    pub clock: C,
    pub config: NotifyConfig,
    templates: &'static Templates,
}

impl<L: Ledger, M: Mailer, B: EventBus, I: Idempotency, N: NotificationLog, S: Secrets, C: Clock>
    Notifier<L, M, B, I, N, S, C>
{
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ledger: L,
        mailer: M,
        bus: B,
        idempotency: I,
        notifications: N,
        secrets: S,
        clock: C,
        config: NotifyConfig,
    ) -> Self {
        Notifier {
            ledger,
            mailer,
            bus,
            idempotency,
            notifications,
            secrets: SecretCache::new(secrets, config.secret_ttl),
            clock,
            config,
            templates: Templates::builtin(),
        }
    }

    /// Handles a Lambda payload (an SQS batch or a bare event). Err: neither shape.
    pub async fn handle(&self, payload: impl ConsumerPayload) -> Result<(Reply, NotifyStats), PayloadError> {
        let (shape, messages) = payload.messages()?;
        let mut stats = NotifyStats {
            received: messages.len() as u64,
            ..NotifyStats::default()
        };
        // Each message is read once, into its notice: a batch of statements is held as text
        // and as notices, never as JSON trees all at once.
        let notices: Vec<Result<Option<Notice>, MessageError>> = messages
            .iter()
            .map(|m| {
                let delivery = m.delivery()?;
                stats.replays += u64::from(delivery.replay_name.is_some());
                Notice::of(&delivery.detail_type, delivery.detail.get())
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

    async fn notify(&self, notice: &Notice, account: &Account, stats: &mut NotifyStats) -> Outcome {
        let event_id = notice.event_id();
        let kinds = match plan(notice, account) {
            Plan::NotEmailed => {
                stats.not_emailed += 1;
                return Outcome::Done;
            }
            Plan::Suppressed(reason) => {
                stats.suppressed += 1;
                *stats.suppressed_by_reason.entry(reason.as_str()).or_default() += 1;
                tracing::info!(
                    event_id,
                    reason = reason.as_str(),
                    "email suppressed by the holder's preferences or the account's status"
                );
                let recorded = self
                    .record(notice, Decision::Suppressed, Some(reason.as_str()), Vec::new(), stats)
                    .await;
                // Reported only when nothing was sent for the event before: a replay of an
                // alert that went out before the address bounced finds its `sent` decision
                // (AlreadyPresent) and reports nothing.
                if recorded == Ok(PutOutcome::Written)
                    && reason == Suppression::AddressUndeliverable
                    && notice.severity() >= Severity::Warning
                {
                    let undelivered = Undelivered {
                        template: None,
                        message_id: None,
                        ..self.undelivered(notice, UndeliveredReason::AddressUndeliverable)
                    };
                    if let Err(outcome) = self.report(&undelivered, stats).await {
                        return outcome;
                    }
                }
                return recorded.map_or_else(|outcome| outcome, |_| Outcome::Done);
            }
            Plan::Send(kinds) => kinds,
        };
        let mut emails = Vec::with_capacity(kinds.len());
        for kind in kinds {
            match self.send_one(notice, account, kind, stats).await {
                Ok(email) => emails.push(email),
                Err(outcome) => return outcome,
            }
        }
        match self.record(notice, Decision::Sent, None, emails, stats).await {
            Ok(_) => Outcome::Done,
            Err(outcome) => outcome,
        }
    }

    /// The decision, in the audit trail. Failing, the message is retried: every email it
    /// sent is in the idempotency store, so the redelivery only records.
    async fn record(
        &self,
        notice: &Notice,
        decision: Decision,
        reason: Option<&str>,
        emails: Vec<NotificationEmail>,
        stats: &mut NotifyStats,
    ) -> Result<PutOutcome, Outcome> {
        let now = self.clock.now();
        let notification = Notification {
            event_id: notice.event_id().to_string(),
            account_id: notice.account_id().to_string(),
            detail_type: notice.detail_type().as_str().to_string(),
            occurred_at: notice.occurred_at(),
            transaction_id: notice.transaction_id().map(str::to_string),
            decision,
            reason: reason.map(str::to_string),
            emails,
            decided_at: now,
            expires_at: (now + self.config.retention).timestamp(),
        };
        match retry_transient(&self.clock, &self.config.retry, || {
            self.notifications.record_notification(&notification)
        })
        .await
        {
            Ok(outcome) => Ok(outcome),
            Err(error) => {
                stats.retried += 1;
                tracing::warn!(event_id = %notification.event_id, error = %error, "the decision could not be recorded; to be retried");
                Err(Outcome::retry(error.to_string()))
            }
        }
    }

    /// A Notification Undeliverable about `notice` (the caller sets the email's fields).
    fn undelivered<'a>(&self, notice: &'a Notice, reason: UndeliveredReason) -> Undelivered<'a> {
        Undelivered {
            original_event_id: notice.event_id(),
            original_detail_type: notice.detail_type(),
            account_id: notice.account_id(),
            transaction_id: notice.transaction_id(),
            reason,
            template: None,
            message_id: None,
            severity: notice.severity(),
            findings: notice.serious_findings(),
            at: self.clock.now(),
        }
    }

    /// Publishes the report once. Err: the message's outcome (retried).
    async fn report(&self, undelivered: &Undelivered<'_>, stats: &mut NotifyStats) -> Result<(), Outcome> {
        let reporting = Reporting {
            bus: &self.bus,
            idempotency: &self.idempotency,
            clock: &self.clock,
            retry: &self.config.retry,
            idempotency_config: &self.config.idempotency,
            event_bus_name: &self.config.event_bus_name,
        };
        match report_undeliverable(&reporting, undelivered).await {
            Ok(Reported::Published) => {
                stats.undeliverable += 1;
                Ok(())
            }
            Ok(Reported::AlreadyPublished) => Ok(()),
            Err(error) => {
                stats.retried += 1;
                tracing::warn!(event_id = undelivered.original_event_id, error = %error, "Notification Undeliverable not published; to be retried");
                Err(Outcome::retry(error.to_string()))
            }
        }
    }

    /// The statement's one-click unsubscribe URL. Err: the signing secret is unavailable.
    async fn unsubscribe_url(&self, account: &Account) -> Result<Option<String>, Outcome> {
        let Some(base) = &self.config.public_api_url else {
            return Ok(None);
        };
        let secrets = self.secrets.get(&self.clock).await.map_err(|error| {
            tracing::warn!(error = %error, "the signing secret could not be read; the statement is retried");
            Outcome::retry(error.to_string())
        })?;
        let token = mint(
            &secrets.current,
            &account.account_id,
            STATEMENT_PURPOSE,
            self.clock.now() + TOKEN_LIFETIME,
        );
        Ok(Some(format!("{base}/v1/unsubscribe/{token}")))
    }

    /// The report of an email SES refused at once, or that no address could take.
    async fn report_rejected(&self, notice: &Notice, kind: EmailKind, stats: &mut NotifyStats) -> Result<(), Outcome> {
        let undelivered = Undelivered {
            template: Some(kind.template()),
            ..self.undelivered(notice, UndeliveredReason::Rejected)
        };
        self.report(&undelivered, stats).await
    }

    /// One email, sent once. Err: the message's outcome (retry, malformed).
    async fn send_one(
        &self,
        notice: &Notice,
        account: &Account,
        kind: EmailKind,
        stats: &mut NotifyStats,
    ) -> Result<NotificationEmail, Outcome> {
        let event_id = notice.event_id();
        let now = self.clock.now();
        let recorded = |message_id: Option<String>, state: DeliveryState| NotificationEmail {
            template: kind.template().to_string(),
            to: kind.recipient(),
            message_id,
            delivery_state: state,
            delivery_state_at: now,
        };
        let unsubscribe = match kind {
            EmailKind::Statement => self
                .unsubscribe_url(account)
                .await
                .inspect_err(|_| stats.retried += 1)?,
            _ => None,
        };
        let content = match (notice, kind) {
            (Notice::Transaction(recorded), EmailKind::Transaction(shape)) => Content::Transaction(recorded, shape),
            (Notice::Statement(statement), _) => Content::Statement(statement, unsubscribe.as_deref()),
            (Notice::AccountUpdated(updated), _) => Content::AccountUpdated(updated),
            _ => Content::Welcome,
        };
        let email = match compose(self.templates, &self.config.from, kind, content, account, event_id) {
            Ok(email) => email,
            Err(ComposeError::Address(error)) => {
                stats.rejected += 1;
                tracing::warn!(event_id, account_id = %account.account_id, template = kind.template(), error = %error, "the profile's email address is unusable; no email");
                self.report_rejected(notice, kind, stats).await?;
                return Ok(recorded(None, DeliveryState::Rejected));
            }
            Err(error) => {
                stats.malformed += 1;
                tracing::error!(event_id, error = %error, "the email could not be rendered");
                return Err(Outcome::malformed(MessageError::Unrenderable(error.to_string())));
            }
        };
        let sending = run_once(
            &self.idempotency,
            &self.clock,
            &self.config.idempotency,
            &key_of(event_id, kind),
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
                Ok(recorded(Some(message_id), DeliveryState::Sent))
            }
            Ok(Once::Done(Sending::Rejected(reason))) => {
                stats.rejected += 1;
                tracing::warn!(event_id, account_id = %account.account_id, reason = %redact_addresses(&reason), "the mail service rejected the email; not retried");
                self.report_rejected(notice, kind, stats).await?;
                Ok(recorded(None, DeliveryState::Rejected))
            }
            Ok(Once::AlreadyDone(kept)) => {
                stats.duplicates += 1;
                tracing::info!(
                    event_id,
                    template = kind.template(),
                    "email already sent; duplicate delivery skipped"
                );
                Ok(match kept {
                    Some(Sending::Rejected(_)) => {
                        // A delivery that stopped before the report publishes it now (once).
                        self.report_rejected(notice, kind, stats).await?;
                        recorded(None, DeliveryState::Rejected)
                    }
                    Some(Sending::Sent(message_id)) => recorded(Some(message_id), DeliveryState::Sent),
                    // Completed before results were kept.
                    None => recorded(None, DeliveryState::Sent),
                })
            }
            Err(OnceError::InProgressElsewhere) => {
                stats.retried += 1;
                Err(Outcome::retry("another delivery of this event is sending its email"))
            }
            Err(OnceError::Store(error)) => {
                stats.retried += 1;
                tracing::warn!(event_id, error = %error, "idempotency store failed; to be retried");
                Err(Outcome::retry(error.to_string()))
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
                Err(Outcome::retry(reason))
            }
        }
    }
}
