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

impl DeliveryState {
    /// How far an email got: feedback only ever moves it further.
    fn rank(self) -> u8 {
        match self {
            DeliveryState::Sent => 0,
            DeliveryState::Delayed => 1,
            DeliveryState::Delivered => 2,
            DeliveryState::Bounced | DeliveryState::Complained | DeliveryState::Rejected => 3,
        }
    }

    /// Bounced, complained, rejected: nothing comes after them.
    pub fn is_final(self) -> bool {
        self.rank() == 3
    }

    /// The state after feedback that says `reported`, or None when it changes nothing: the
    /// state only moves forward (a Delivery that arrives after its Bounce, SES delivering
    /// events in any order, is dropped), and a final state never moves.
    ///
    /// | now \ reported | sent | delayed | delivered | bounced, complained, rejected |
    /// |---|---|---|---|---|
    /// | sent | — | delayed | delivered | it |
    /// | delayed | — | — | delivered | it |
    /// | delivered | — | — | — | it (a complaint comes after delivery) |
    /// | bounced, complained, rejected | — | — | — | — |
    pub fn advanced_by(self, reported: DeliveryState) -> Option<DeliveryState> {
        (!self.is_final() && reported.rank() > self.rank()).then_some(reported)
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
    /// Applies a delivery report to the email `message_id`: the state it moved from, or
    /// why nothing changed. The one rule every adapter of `NotificationLog` applies.
    pub fn apply_delivery(
        &mut self,
        message_id: &str,
        reported: DeliveryState,
        at: DateTime<Utc>,
    ) -> Result<DeliveryState, Option<DeliveryState>> {
        apply_delivery(&mut self.emails, message_id, reported, at)
    }

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

/// [`Notification::apply_delivery`] on a notification's emails alone (a store that keeps
/// them apart from the rest of the record).
pub fn apply_delivery(
    emails: &mut [NotificationEmail],
    message_id: &str,
    reported: DeliveryState,
    at: DateTime<Utc>,
) -> Result<DeliveryState, Option<DeliveryState>> {
    let email = emails
        .iter_mut()
        .find(|e| e.message_id.as_deref() == Some(message_id))
        .ok_or(None)?;
    let from = email.delivery_state;
    let next = from.advanced_by(reported).ok_or(Some(from))?;
    email.delivery_state = next;
    email.delivery_state_at = at;
    Ok(from)
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
    fn delivery_states_only_move_forward_and_final_ones_never_move() {
        use DeliveryState::*;
        let expected = |now: DeliveryState, reported: DeliveryState| -> Option<DeliveryState> {
            match (now, reported) {
                (Sent, Delayed | Delivered | Bounced | Complained | Rejected) => Some(reported),
                (Delayed, Delivered | Bounced | Complained | Rejected) => Some(reported),
                (Delivered, Bounced | Complained | Rejected) => Some(reported),
                _ => None,
            }
        };
        for now in DeliveryState::ALL {
            for reported in DeliveryState::ALL {
                assert_eq!(
                    now.advanced_by(*reported),
                    expected(*now, *reported),
                    "{now} then {reported}"
                );
            }
        }
        // Out of order: whichever way two reports arrive, the furthest one stays.
        for a in DeliveryState::ALL {
            for b in DeliveryState::ALL {
                let one_way = Sent.advanced_by(*a).unwrap_or(Sent);
                let one_way = one_way.advanced_by(*b).unwrap_or(one_way);
                let other = Sent.advanced_by(*b).unwrap_or(Sent);
                let other = other.advanced_by(*a).unwrap_or(other);
                if !(a.is_final() && b.is_final()) {
                    assert_eq!(one_way, other, "{a} and {b}");
                }
            }
        }
    }

    #[test]
    fn the_sort_key_orders_by_time_whatever_the_fraction() {
        let whole = Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 0).unwrap();
        let later = whole + chrono::Duration::milliseconds(500);
        assert!(history_sort_key(&whole) < history_sort_key(&later));
        assert_eq!(history_sort_key(&whole), "2026-11-20T10:15:00.000000000Z");
    }
}
