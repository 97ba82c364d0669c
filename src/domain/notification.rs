//! What the notifier decided for one notification-worthy event, as the audit trail keeps it
//! and `GET /v1/accounts/{account_id}/notifications` shows it (docs/consumers.md).
//!
//! | field | meaning |
//! |---|---|
//! | `decision` | `sent` (an email went to SES) or `suppressed` (`reason` says why) |
//! | `emails` | what was sent: the template, to whom (`account`: the current address; `previous_address`: the one before a change), SES's message id, the delivery state and since when |
//! | delivery state | `sent` when SES took it; the feedback of SES moves it to `delivered`, `delayed`, `bounced`, `complained` or `rejected` (a message SES refused at once is `rejected` from the start) |
//!
//! A `sent` decision is never replaced: a redelivery or a replay finds it and changes
//! nothing. A `suppressed` one is replaced by a later decision (a replay after the holder
//! changed a preference decides again).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

string_enum! {
    /// Whether an email went out.
    Decision {
        Sent = "sent",
        Suppressed = "suppressed",
    }
}

string_enum! {
    /// Where an email got to, as SES's feedback tells it.
    DeliveryState {
        Sent = "sent",
        Delivered = "delivered",
        Delayed = "delayed",
        Bounced = "bounced",
        Complained = "complained",
        Rejected = "rejected",
    }
}

string_enum! {
    /// Which address of the account an email went to.
    Recipient {
        Account = "account",
        PreviousAddress = "previous_address",
    }
}

/// One email of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationEmail {
    /// The template family (`transaction`, `welcome`, `statement`, `address_changed`, ...).
    pub template: String,
    pub to: Recipient,
    /// SES's message id; none when SES refused the message at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub delivery_state: DeliveryState,
    #[serde(serialize_with = "super::time::rfc3339_utc")]
    pub delivery_state_at: DateTime<Utc>,
}

/// The notifier's decision for one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub event_id: String,
    pub account_id: String,
    pub detail_type: String,
    #[serde(serialize_with = "super::time::rfc3339_utc")]
    pub occurred_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    pub decision: Decision,
    /// Why nothing was sent (`suppressed` only): the notifier's suppression reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<NotificationEmail>,
    #[serde(serialize_with = "super::time::rfc3339_utc")]
    pub decided_at: DateTime<Utc>,
    /// Epoch seconds after which TTL may delete it (the audit trail's retention).
    pub expires_at: i64,
}

impl Notification {
    /// The email to the account's current address (the one the API shows first), else the
    /// first one.
    pub fn primary_email(&self) -> Option<&NotificationEmail> {
        self.emails
            .iter()
            .find(|email| email.to == Recipient::Account)
            .or_else(|| self.emails.first())
    }

    /// The sort key of the history: fixed-width, so that text order is time order.
    pub fn sort_key(&self) -> String {
        history_sort_key(&self.occurred_at)
    }
}

/// `occurred_at` as the history sorts it (nanoseconds always written).
pub fn history_sort_key(occurred_at: &DateTime<Utc>) -> String {
    occurred_at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A place in an account's history, newest first: the next page holds what sorts before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPosition {
    /// The sort key of the last item seen (`history_sort_key`).
    pub occurred_at: String,
    /// Its key in the audit trail.
    pub key: String,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_sort_key_orders_by_time_whatever_the_fraction() {
        let whole = Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 0).unwrap();
        let later = whole + chrono::Duration::milliseconds(500);
        assert!(history_sort_key(&whole) < history_sort_key(&later));
        assert_eq!(history_sort_key(&whole), "2026-11-20T10:15:00.000000000Z");
    }
}
