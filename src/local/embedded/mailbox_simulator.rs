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
use std::collections::BTreeMap;

use serde::Serialize;

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

/// One SES event: its EventBridge detail-type and detail (JSON text).
#[derive(Debug, Clone, PartialEq)]
pub struct SesEvent {
    pub detail_type: &'static str,
    pub detail: String,
}

// The records as SES documents them, each object's keys in sorted order: the text is the one
// a JSON tree of the same record writes (`events_for_as_trees`, tests).

#[derive(Serialize)]
struct Detail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    bounce: Option<&'a Bounce<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    complaint: Option<&'a Complaint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery: Option<&'a Delivery<'a>>,
    #[serde(rename = "eventType")]
    event_type: &'a str,
    mail: &'a Mail<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Mail<'a> {
    common_headers: CommonHeaders<'a>,
    destination: [&'a str; 1],
    headers_truncated: bool,
    message_id: &'a str,
    sending_account_id: &'a str,
    source: &'a str,
    tags: BTreeMap<String, [String; 1]>,
    timestamp: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CommonHeaders<'a> {
    from: [&'a str; 1],
    message_id: &'a str,
    subject: &'a str,
    to: [&'a str; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Delivery<'a> {
    processing_time_millis: u64,
    recipients: [&'a str; 1],
    #[serde(rename = "reportingMTA")]
    reporting_mta: &'a str,
    smtp_response: &'a str,
    timestamp: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bounce<'a> {
    bounce_sub_type: &'a str,
    bounce_type: &'a str,
    bounced_recipients: [BouncedRecipient<'a>; 1],
    feedback_id: String,
    #[serde(rename = "reportingMTA")]
    reporting_mta: &'a str,
    timestamp: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BouncedRecipient<'a> {
    action: &'a str,
    diagnostic_code: &'a str,
    email_address: &'a str,
    status: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Complaint<'a> {
    arrival_date: String,
    complained_recipients: [ComplainedRecipient<'a>; 1],
    complaint_feedback_type: &'a str,
    complaint_sub_type: Option<&'a str>,
    feedback_id: String,
    timestamp: String,
    user_agent: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ComplainedRecipient<'a> {
    email_address: &'a str,
}

/// The events SES would publish for `email`, accepted as `message_id` at `sent_at` with the
/// configuration set `configuration_set`, in the order SES sends them (Email Sent aside).
pub fn events_for(email: &Email, message_id: &str, sent_at: DateTime<Utc>, configuration_set: &str) -> Vec<SesEvent> {
    let to = email.to.address.expose().as_str();
    let from = email.from.address.expose().as_str();
    let mut tags = BTreeMap::new();
    tags.insert("ses:configuration-set".to_string(), [configuration_set.to_string()]);
    tags.insert("ses:source-ip".to_string(), ["127.0.0.1".to_string()]);
    tags.insert(
        "ses:from-domain".to_string(),
        [from.rsplit('@').next().unwrap_or_default().to_string()],
    );
    for tag in &email.tags {
        if let Some(value) = ses_tag_value(&tag.value) {
            tags.insert(tag.name.clone(), [value]);
        }
    }
    let mail = Mail {
        common_headers: CommonHeaders {
            from: [from],
            message_id,
            subject: email.subject.as_str(),
            to: [to],
        },
        destination: [to],
        headers_truncated: false,
        message_id,
        sending_account_id: crate::local::embedded::bus::LOCAL_ACCOUNT,
        source: from,
        tags,
        timestamp: format_rfc3339(&sent_at),
    };
    let at = |seconds: i64| format_rfc3339(&(sent_at + Duration::seconds(seconds)));
    let event = |detail_type: &'static str, detail: Detail| SesEvent {
        detail_type,
        detail: serde_json::to_string(&detail).expect("an SES record serializes"),
    };
    let delivered = || {
        let delivery = Delivery {
            processing_time_millis: 1000,
            recipients: [to],
            reporting_mta: "a8-70.smtp-out.amazonses.com",
            smtp_response: "250 2.6.0 Message received",
            timestamp: at(1),
        };
        event(
            "Email Delivered",
            Detail {
                bounce: None,
                complaint: None,
                delivery: Some(&delivery),
                event_type: "Delivery",
                mail: &mail,
            },
        )
    };
    let bounced = |sub_type: &str, status: &str, diagnostic: &str| {
        let bounce = Bounce {
            bounce_sub_type: sub_type,
            bounce_type: "Permanent",
            bounced_recipients: [BouncedRecipient {
                action: "failed",
                diagnostic_code: diagnostic,
                email_address: to,
                status,
            }],
            feedback_id: format!("{message_id}-bounce"),
            reporting_mta: "dsn; e226-55.smtp-out.amazonses.com",
            timestamp: at(1),
        };
        event(
            "Email Bounced",
            Detail {
                bounce: Some(&bounce),
                complaint: None,
                delivery: None,
                event_type: "Bounce",
                mail: &mail,
            },
        )
    };
    let mut events = Vec::with_capacity(2);
    match Fate::of(to) {
        Fate::Delivered => events.push(delivered()),
        Fate::Bounced => events.push(bounced("General", "5.1.1", "smtp; 550 5.1.1 user unknown")),
        Fate::OnSuppressionList => events.push(bounced(
            "OnAccountSuppressionList",
            "5.1.1",
            "Amazon SES did not send the message to this address because it is on the suppression list for your account.",
        )),
        Fate::Complained => {
            events.push(delivered());
            let complaint = Complaint {
                arrival_date: at(1),
                complained_recipients: [ComplainedRecipient { email_address: to }],
                complaint_feedback_type: "abuse",
                complaint_sub_type: None,
                feedback_id: format!("{message_id}-complaint"),
                timestamp: at(2),
                user_agent: "Amazon SES Mailbox Simulator",
            };
            events.push(event(
                "Email Complaint Received",
                Detail {
                    bounce: None,
                    complaint: Some(&complaint),
                    delivery: None,
                    event_type: "Complaint",
                    mail: &mail,
                },
            ));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

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

    /// The events as JSON trees: how `events_for` wrote them before its records were typed.
    fn events_for_as_trees(
        email: &Email,
        message_id: &str,
        sent_at: DateTime<Utc>,
        configuration_set: &str,
    ) -> Vec<(&'static str, Value)> {
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
            (detail_type, detail)
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

    #[test]
    fn every_fate_is_written_as_its_tree_writes_it() {
        use crate::domain::email::{HeaderText, Mailbox, Tag};
        let sent_at = "2026-12-07T10:15:30.250Z".parse().unwrap();
        for to in [
            "success@simulator.amazonses.com",
            "bounce+acc-1@simulator.amazonses.com",
            "complaint@simulator.amazonses.com",
            "suppressionlist@simulator.amazonses.com",
            "someone@example.com",
        ] {
            let email = Email {
                from: Mailbox::new(Some("txn-notify"), "alerts@txn-notify.example").unwrap(),
                to: Mailbox::new(None, to).unwrap(),
                subject: HeaderText::new("Subject \"quoted\" é").unwrap(),
                html: String::new(),
                text: String::new(),
                headers: Vec::new(),
                tags: vec![
                    Tag {
                        name: "kind".into(),
                        value: "alert".into(),
                    },
                    Tag {
                        name: "ses:configuration-set".into(),
                        value: "overridden".into(),
                    },
                    Tag {
                        name: "odd".into(),
                        value: "needs encoding!".into(),
                    },
                ],
            };
            let typed = events_for(&email, "m-1", sent_at, "txn-notify-emails");
            let trees = events_for_as_trees(&email, "m-1", sent_at, "txn-notify-emails");
            assert_eq!(typed.len(), trees.len(), "{to}");
            for (event, (detail_type, tree)) in typed.iter().zip(&trees) {
                assert_eq!(
                    (event.detail_type, event.detail.as_str()),
                    (*detail_type, tree.to_string().as_str()),
                    "{to}"
                );
            }
        }
    }
}
