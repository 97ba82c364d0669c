//! SES's email sending events as EventBridge delivers them from a configuration set (source
//! `aws.ses`, detail-types `Email Sent`, `Email Delivered`, …; the detail is SES's event
//! record: `eventType`, `mail`, and the object of its type). Only what the feedback use case
//! needs is read; unknown fields are ignored. The record holds addresses: they are kept as
//! `Pii` and never logged.
//!
//! | detail-type | eventType | kind |
//! |---|---|---|
//! | Email Sent | Send | `Sent` |
//! | Email Delivered | Delivery | `Delivered` |
//! | Email Delivery Delayed | DeliveryDelay | `DeliveryDelayed` |
//! | Email Bounced | Bounce | `Bounce(Permanent \| Transient \| Undetermined)` |
//! | Email Complaint Received | Complaint | `Complaint` |
//! | Email Rejected | Reject | `Rejected` |
//! | Email Rendering Failed | Rendering Failure | `RenderingFailed` |

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::email::decode_ses_tag_value;
use crate::domain::{DeliveryState, DetailType, Pii, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceType {
    Permanent,
    Transient,
    Undetermined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackKind {
    Sent,
    Delivered,
    DeliveryDelayed,
    Bounce(BounceType),
    Complaint,
    Rejected,
    RenderingFailed,
}

impl FeedbackKind {
    /// The delivery state the feedback reports (a transient or undetermined bounce
    /// is a delay: SES already retried).
    pub fn reported_state(self) -> DeliveryState {
        match self {
            FeedbackKind::Sent => DeliveryState::Sent,
            FeedbackKind::Delivered => DeliveryState::Delivered,
            FeedbackKind::DeliveryDelayed | FeedbackKind::Bounce(BounceType::Transient | BounceType::Undetermined) => {
                DeliveryState::Delayed
            }
            FeedbackKind::Bounce(BounceType::Permanent) => DeliveryState::Bounced,
            FeedbackKind::Complaint => DeliveryState::Complained,
            FeedbackKind::Rejected | FeedbackKind::RenderingFailed => DeliveryState::Rejected,
        }
    }

    /// The name used in metrics and logs (SES's own `eventType`).
    pub fn event_type(self) -> &'static str {
        match self {
            FeedbackKind::Sent => "Send",
            FeedbackKind::Delivered => "Delivery",
            FeedbackKind::DeliveryDelayed => "DeliveryDelay",
            FeedbackKind::Bounce(_) => "Bounce",
            FeedbackKind::Complaint => "Complaint",
            FeedbackKind::Rejected => "Reject",
            FeedbackKind::RenderingFailed => "Rendering Failure",
        }
    }
}

/// One SES event, as the feedback use case reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesFeedback {
    pub kind: FeedbackKind,
    /// SES's message id: the email the feedback is about.
    pub message_id: String,
    /// The configuration set it was sent with (SES's `ses:configuration-set` tag).
    pub configuration_set: Option<String>,
    /// Our message tags: the event, the account and the template of the email.
    pub event_id: Option<String>,
    pub account_id: Option<String>,
    pub template: Option<String>,
    /// The severity of what the email carried (None: an email sent without the tag).
    pub severity: Option<Severity>,
    /// The detail-type of the event the email was about, and its transaction.
    pub detail_type: Option<DetailType>,
    pub transaction_id: Option<String>,
    /// When SES saw it happen (the type's own timestamp, else the mail's).
    pub timestamp: DateTime<Utc>,
    /// SES's id of a bounce or complaint notice, when it has one.
    pub feedback_id: Option<String>,
    /// The addresses that bounced or complained.
    pub recipients: Vec<Pii<String>>,
    pub bounce_sub_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SesEventError {
    #[error("not an SES email event: detail-type {0:?}")]
    NotAnEmailEvent(String),
    #[error("eventType {event_type:?} does not go with detail-type {detail_type:?}")]
    Mismatch { detail_type: String, event_type: String },
    #[error("{path}: {reason}")]
    BadDetail { path: String, reason: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_type: String,
    mail: Mail,
    #[serde(default)]
    bounce: Option<Bounce>,
    #[serde(default)]
    complaint: Option<Complaint>,
    #[serde(default)]
    delivery: Option<Timed>,
    #[serde(default)]
    delivery_delay: Option<Timed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    timestamp: DateTime<Utc>,
    message_id: String,
    #[serde(default)]
    tags: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: Option<String>,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    feedback_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    feedback_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

#[derive(Deserialize)]
struct Timed {
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
}

/// The detail-type SES gives each event type.
const DETAIL_TYPES: [(&str, &str); 7] = [
    ("Email Sent", "Send"),
    ("Email Delivered", "Delivery"),
    ("Email Delivery Delayed", "DeliveryDelay"),
    ("Email Bounced", "Bounce"),
    ("Email Complaint Received", "Complaint"),
    ("Email Rejected", "Reject"),
    ("Email Rendering Failed", "Rendering Failure"),
];

/// The first value of a message tag.
fn tag(tags: &BTreeMap<String, Vec<String>>, name: &str) -> Option<String> {
    tags.get(name).and_then(|values| values.first()).cloned()
}

/// The first value of one of our tags, as the notifier gave it (`email::ses_tag_value`).
fn our_tag(tags: &BTreeMap<String, Vec<String>>, name: &str) -> Option<String> {
    tag(tags, name).and_then(|value| decode_ses_tag_value(&value))
}

impl SesFeedback {
    /// Reads an EventBridge event of SES (its `detail-type` and `detail`).
    pub fn from_event(detail_type: &str, detail: &str) -> Result<SesFeedback, SesEventError> {
        let Some((_, expected)) = DETAIL_TYPES.iter().find(|(name, _)| *name == detail_type) else {
            return Err(SesEventError::NotAnEmailEvent(detail_type.to_string()));
        };
        let record: Record =
            crate::pipeline::consumer::read_detail(detail).map_err(|mismatch| SesEventError::BadDetail {
                path: mismatch.path,
                reason: mismatch.reason,
            })?;
        if record.event_type != *expected {
            return Err(SesEventError::Mismatch {
                detail_type: detail_type.to_string(),
                event_type: record.event_type,
            });
        }
        let missing = |path: &str| SesEventError::BadDetail {
            path: path.to_string(),
            reason: format!("missing for eventType {}", record.event_type),
        };
        let mut feedback = SesFeedback {
            kind: FeedbackKind::Sent,
            configuration_set: tag(&record.mail.tags, "ses:configuration-set"),
            event_id: our_tag(&record.mail.tags, "event_id"),
            account_id: our_tag(&record.mail.tags, "account_id"),
            template: our_tag(&record.mail.tags, "template"),
            severity: our_tag(&record.mail.tags, "severity").and_then(|s| Severity::parse(&s)),
            // The notifier writes it with `_` for the space (kept for older emails' sake).
            detail_type: our_tag(&record.mail.tags, "detail_type")
                .and_then(|s| DetailType::parse(&s.replace('_', " "))),
            transaction_id: our_tag(&record.mail.tags, "transaction_id"),
            message_id: record.mail.message_id.clone(),
            timestamp: record.mail.timestamp,
            feedback_id: None,
            recipients: Vec::new(),
            bounce_sub_type: None,
        };
        match *expected {
            "Send" => {}
            "Delivery" => {
                feedback.kind = FeedbackKind::Delivered;
                feedback.timestamp = record.delivery.and_then(|d| d.timestamp).unwrap_or(feedback.timestamp);
            }
            "DeliveryDelay" => {
                feedback.kind = FeedbackKind::DeliveryDelayed;
                feedback.timestamp = record
                    .delivery_delay
                    .and_then(|d| d.timestamp)
                    .unwrap_or(feedback.timestamp);
            }
            "Bounce" => {
                let bounce = record.bounce.ok_or_else(|| missing("bounce"))?;
                let bounce_type = match bounce.bounce_type.as_str() {
                    "Permanent" => BounceType::Permanent,
                    "Transient" => BounceType::Transient,
                    "Undetermined" => BounceType::Undetermined,
                    other => {
                        return Err(SesEventError::BadDetail {
                            path: "bounce.bounceType".into(),
                            reason: format!("unknown bounce type {other:?}"),
                        });
                    }
                };
                feedback.kind = FeedbackKind::Bounce(bounce_type);
                feedback.timestamp = bounce.timestamp.unwrap_or(feedback.timestamp);
                feedback.feedback_id = bounce.feedback_id;
                feedback.bounce_sub_type = bounce.bounce_sub_type;
                feedback.recipients = bounce
                    .bounced_recipients
                    .into_iter()
                    .map(|r| Pii(r.email_address))
                    .collect();
            }
            "Complaint" => {
                let complaint = record.complaint.ok_or_else(|| missing("complaint"))?;
                feedback.kind = FeedbackKind::Complaint;
                feedback.timestamp = complaint.timestamp.unwrap_or(feedback.timestamp);
                feedback.feedback_id = complaint.feedback_id;
                feedback.recipients = complaint
                    .complained_recipients
                    .into_iter()
                    .map(|r| Pii(r.email_address))
                    .collect();
            }
            "Reject" => feedback.kind = FeedbackKind::Rejected,
            _ => feedback.kind = FeedbackKind::RenderingFailed,
        }
        Ok(feedback)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn mail() -> Value {
        json!({
            "timestamp": "2026-11-20T18:00:00.000Z",
            "source": "txn-notify <alerts@bank.example>",
            "messageId": "0100019a-ses-1",
            "destination": ["marie@example.com"],
            "tags": {
                "ses:configuration-set": ["txn-notify"],
                "event_id": ["ev-1"],
                "account_id": ["bank@3Aacc-fr-001"],
                "template": ["transaction"],
                "detail_type": ["Transaction_Recorded"],
                "transaction_id": ["t-1"],
                "severity": ["warning"]
            }
        })
    }

    #[test]
    fn every_event_type_reads_with_its_tags_and_time() {
        let cases = [
            (
                "Email Sent",
                json!({"eventType": "Send", "mail": mail(), "send": {}}),
                FeedbackKind::Sent,
            ),
            (
                "Email Delivered",
                json!({"eventType": "Delivery", "mail": mail(), "delivery": {"timestamp": "2026-11-20T18:00:02Z", "recipients": ["marie@example.com"]}}),
                FeedbackKind::Delivered,
            ),
            (
                "Email Delivery Delayed",
                json!({"eventType": "DeliveryDelay", "mail": mail(), "deliveryDelay": {"timestamp": "2026-11-20T18:10:00Z", "delayType": "MailboxFull"}}),
                FeedbackKind::DeliveryDelayed,
            ),
            (
                "Email Bounced",
                json!({"eventType": "Bounce", "mail": mail(), "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "bouncedRecipients": [{"emailAddress": "marie@example.com"}], "timestamp": "2026-11-20T18:00:05Z", "feedbackId": "fb-1"}}),
                FeedbackKind::Bounce(BounceType::Permanent),
            ),
            (
                "Email Bounced",
                json!({"eventType": "Bounce", "mail": mail(), "bounce": {"bounceType": "Transient", "bouncedRecipients": []}}),
                FeedbackKind::Bounce(BounceType::Transient),
            ),
            (
                "Email Complaint Received",
                json!({"eventType": "Complaint", "mail": mail(), "complaint": {"complainedRecipients": [{"emailAddress": "marie@example.com"}], "feedbackId": "fb-2"}}),
                FeedbackKind::Complaint,
            ),
            (
                "Email Rejected",
                json!({"eventType": "Reject", "mail": mail(), "reject": {"reason": "Bad content"}}),
                FeedbackKind::Rejected,
            ),
            (
                "Email Rendering Failed",
                json!({"eventType": "Rendering Failure", "mail": mail(), "failure": {"errorMessage": "x"}}),
                FeedbackKind::RenderingFailed,
            ),
        ];
        for (detail_type, detail, kind) in cases {
            let feedback = SesFeedback::from_event(detail_type, &detail.to_string()).unwrap();
            assert_eq!(feedback.kind, kind, "{detail_type}");
            assert_eq!(feedback.message_id, "0100019a-ses-1");
            assert_eq!(feedback.configuration_set.as_deref(), Some("txn-notify"));
            assert_eq!(
                (
                    feedback.event_id.as_deref(),
                    feedback.account_id.as_deref(),
                    feedback.template.as_deref()
                ),
                (Some("ev-1"), Some("bank:acc-fr-001"), Some("transaction"))
            );
            assert_eq!(feedback.detail_type, Some(DetailType::TransactionRecorded));
            assert_eq!(feedback.transaction_id.as_deref(), Some("t-1"));
            assert_eq!(feedback.severity, Some(Severity::Warning));
        }
        let bounce = SesFeedback::from_event("Email Bounced", &cases_bounce().to_string()).unwrap();
        assert_eq!(bounce.timestamp.to_rfc3339(), "2026-11-20T18:00:05+00:00");
        assert_eq!(bounce.feedback_id.as_deref(), Some("fb-1"));
        assert_eq!(bounce.recipients, vec![Pii("marie@example.com".to_string())]);
        assert_eq!(bounce.kind.reported_state(), DeliveryState::Bounced);
        assert_eq!(
            FeedbackKind::Bounce(BounceType::Undetermined).reported_state(),
            DeliveryState::Delayed
        );
        assert_eq!(FeedbackKind::RenderingFailed.reported_state(), DeliveryState::Rejected);
    }

    fn cases_bounce() -> Value {
        json!({"eventType": "Bounce", "mail": mail(), "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "marie@example.com"}], "timestamp": "2026-11-20T18:00:05Z", "feedbackId": "fb-1"}})
    }

    #[test]
    fn what_is_not_an_ses_email_event_is_refused_with_where() {
        assert!(matches!(
            SesFeedback::from_event("Sending Status Disabled", &json!({}).to_string()),
            Err(SesEventError::NotAnEmailEvent(_))
        ));
        assert!(matches!(
            SesFeedback::from_event(
                "Email Bounced",
                &json!({"eventType": "Delivery", "mail": mail()}).to_string()
            ),
            Err(SesEventError::Mismatch { .. })
        ));
        let no_bounce = SesFeedback::from_event(
            "Email Bounced",
            &json!({"eventType": "Bounce", "mail": mail()}).to_string(),
        );
        assert!(matches!(no_bounce, Err(SesEventError::BadDetail { ref path, .. }) if path == "bounce"));
        let odd = SesFeedback::from_event(
            "Email Bounced",
            &json!({"eventType": "Bounce", "mail": mail(), "bounce": {"bounceType": "Soft"}}).to_string(),
        );
        assert!(matches!(odd, Err(SesEventError::BadDetail { ref path, .. }) if path == "bounce.bounceType"));
        let no_id = SesFeedback::from_event(
            "Email Sent",
            &json!({"eventType": "Send", "mail": {"timestamp": "2026-11-20T18:00:00Z"}}).to_string(),
        );
        assert!(
            matches!(no_id, Err(SesEventError::BadDetail { ref path, .. }) if path.starts_with("mail")),
            "{no_id:?}"
        );
        let untagged = SesFeedback::from_event(
            "Email Sent",
            &json!({"eventType": "Send", "mail": {"timestamp": "2026-11-20T18:00:00Z", "messageId": "m"}}).to_string(),
        )
        .unwrap();
        assert_eq!((untagged.event_id, untagged.configuration_set), (None, None));
    }
}
