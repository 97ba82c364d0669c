//! SES's mailbox simulator, for the outbox: what SES would report about an email it
//! accepted, as the `detail` of its EventBridge events ("Email Sent", "Email Delivered", ...),
//! shaped as SES documents its event records. The outbox puts them on the embedded default
//! bus, where template.yaml's FeedbackRule takes them to FeedbackQueue.
//!
//! SES also publishes an Email Sent for every message it takes; it moves no state (the
//! notifier recorded `sent`), so the simulator leaves it out and spares the local run one
//! queue message per email. The samples in `events/feedback/` carry one.
//!
//! | recipient (`local[+label]@simulator.amazonses.com`) | events |
//! |---|---|
//! | `success@`, `ooto@` | Email Delivered (SES reports an out-of-office as delivered) |
//! | `bounce@` | Email Bounced, Permanent, General |
//! | `complaint@` | Email Delivered, then Email Complaint Received |
//! | `suppressionlist@` | Email Bounced, Permanent, OnAccountSuppressionList |
//! | any other address | Email Delivered |

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::domain::email::{Email, ses_tag_value};
use crate::domain::time::format_rfc3339;

pub const SIMULATOR_DOMAIN: &str = "simulator.amazonses.com";

/// What the simulator does with mail to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Delivered,
    Bounced,
    Complained,
    OnSuppressionList,
}

impl Fate {
    pub fn of(address: &str) -> Fate {
        let Some((local, domain)) = address.trim().rsplit_once('@') else {
            return Fate::Delivered;
        };
        if !domain.eq_ignore_ascii_case(SIMULATOR_DOMAIN) {
            return Fate::Delivered;
        }
        let mailbox = local.split('+').next().unwrap_or(local).to_ascii_lowercase();
        match mailbox.as_str() {
            "bounce" => Fate::Bounced,
            "complaint" => Fate::Complained,
            "suppressionlist" => Fate::OnSuppressionList,
            _ => Fate::Delivered,
        }
    }
}

/// One SES event: its EventBridge detail-type and detail.
#[derive(Debug, Clone, PartialEq)]
pub struct SesEvent {
    pub detail_type: &'static str,
    pub detail: Value,
}

/// The events SES would publish for `email`, accepted as `message_id` at `sent_at` with the
/// configuration set `configuration_set`, in the order SES sends them (Email Sent aside).
pub fn events_for(email: &Email, message_id: &str, sent_at: DateTime<Utc>, configuration_set: &str) -> Vec<SesEvent> {
    let to = email.to.address.expose().clone();
    let mut tags = serde_json::Map::new();
    tags.insert("ses:configuration-set".into(), json!([configuration_set]));
    tags.insert("ses:source-ip".into(), json!(["127.0.0.1"]));
    tags.insert(
        "ses:from-domain".into(),
        json!([email.from.address.expose().rsplit('@').next().unwrap_or_default()]),
    );
    for tag in &email.tags {
        if let Some(value) = ses_tag_value(&tag.value) {
            tags.insert(tag.name.clone(), json!([value]));
        }
    }
    let mail = json!({
        "timestamp": format_rfc3339(&sent_at),
        "source": email.from.address.expose(),
        "sendingAccountId": crate::local::embedded::bus::LOCAL_ACCOUNT,
        "messageId": message_id,
        "destination": [to],
        "headersTruncated": false,
        "commonHeaders": {"from": [email.from.address.expose()], "to": [to], "messageId": message_id, "subject": email.subject.as_str()},
        "tags": Value::Object(tags),
    });
    let at = |seconds: i64| format_rfc3339(&(sent_at + Duration::seconds(seconds)));
    let feedback_id = |kind: &str| format!("{message_id}-{kind}");
    let event = |detail_type: &'static str, event_type: &str, key: &str, body: Value| {
        let mut detail = json!({"eventType": event_type, "mail": mail.clone()});
        detail[key] = body;
        SesEvent { detail_type, detail }
    };
    let delivered = event(
        "Email Delivered",
        "Delivery",
        "delivery",
        json!({
            "timestamp": at(1),
            "processingTimeMillis": 1000,
            "recipients": [to],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        }),
    );
    let bounce = |sub_type: &str, status: &str, diagnostic: &str| {
        event(
            "Email Bounced",
            "Bounce",
            "bounce",
            json!({
                "feedbackId": feedback_id("bounce"),
                "bounceType": "Permanent",
                "bounceSubType": sub_type,
                "bouncedRecipients": [{"emailAddress": to, "action": "failed", "status": status, "diagnosticCode": diagnostic}],
                "timestamp": at(1),
                "reportingMTA": "dsn; e226-55.smtp-out.amazonses.com",
            }),
        )
    };
    let mut events = Vec::with_capacity(2);
    match Fate::of(&to) {
        Fate::Delivered => events.push(delivered),
        Fate::Bounced => events.push(bounce(
            "General",
            "5.1.1",
            "smtp; 550 5.1.1 user unknown",
        )),
        Fate::OnSuppressionList => events.push(bounce(
            "OnAccountSuppressionList",
            "5.1.1",
            "Amazon SES did not send the message to this address because it is on the suppression list for your account.",
        )),
        Fate::Complained => {
            events.push(delivered);
            events.push(event(
                "Email Complaint Received",
                "Complaint",
                "complaint",
                json!({
                    "feedbackId": feedback_id("complaint"),
                    "complaintSubType": null,
                    "complainedRecipients": [{"emailAddress": to}],
                    "timestamp": at(2),
                    "userAgent": "Amazon SES Mailbox Simulator",
                    "complaintFeedbackType": "abuse",
                    "arrivalDate": at(1),
                }),
            ));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulator_addresses_and_their_labels() {
        assert_eq!(Fate::of("success@simulator.amazonses.com"), Fate::Delivered);
        assert_eq!(Fate::of("ooto@simulator.amazonses.com"), Fate::Delivered);
        assert_eq!(Fate::of("bounce@simulator.amazonses.com"), Fate::Bounced);
        assert_eq!(Fate::of("Bounce+acc-7@Simulator.AmazonSES.com"), Fate::Bounced);
        assert_eq!(Fate::of("complaint+x@simulator.amazonses.com"), Fate::Complained);
        assert_eq!(
            Fate::of("suppressionlist@simulator.amazonses.com"),
            Fate::OnSuppressionList
        );
        assert_eq!(
            Fate::of("bounce@example.com"),
            Fate::Delivered,
            "only the simulator's domain"
        );
        assert_eq!(Fate::of("not an address"), Fate::Delivered);
    }
}
