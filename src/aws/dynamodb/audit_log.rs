//! The audit table on DynamoDB: one item per event_id, written by a PutItem on
//! `attribute_not_exists(event_id)`. A failed condition is a duplicate (a redelivery or a
//! replay), never an overwrite.
//!
//! Item: `event_id` (key), `account_id` and `occurred_at` (the `by-account` index; left out
//! when the event has none, so the index stays sparse), `detail_type`, `source`, `detail`
//! (a map, as the event carried it), `replay_name`, `received_at`, `expires_at` (TTL,
//! epoch seconds).
//!
//! The notifier's decision for an event is an item of its own (`domain::keys`):
//! `event_id = NOTIFICATION#<event_id>`, `account_id` and `occurred_at` (fixed-width, so the
//! index sorts it by time), `decision`, `notification` (the map of `domain::Notification`),
//! `expires_at`.
//!
//! | port call | DynamoDB |
//! |---|---|
//! | `put_if_absent` | PutItem on `attribute_not_exists(event_id)` |
//! | `record_notification` | PutItem on `attribute_not_exists(event_id) OR decision <> sent` |
//! | `record_delivery` | GetItem (consistent) of the notification, then UpdateItem of that email's `delivery_state` on condition that it is still the one read (a race reads again) |
//! | `notifications` | Query of `by-account` on `account_id`, newest first, filtered on `attribute_exists(notification)`, page after page until `limit` are found (at most `MAX_PAGES_READ` pages a call); the cursor is the key of the last item read |

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use serde::Serialize;

use super::item::{from_sdk, s, string, to_sdk};
use crate::aws::failure::classify;
use crate::domain::audit::AuditRecord;
use crate::domain::keys::notification_key;
use crate::domain::time::format_rfc3339;
use crate::domain::{Decision, HistoryPosition, Notification};
use crate::ports::{AuditLog, NotificationLog, NotificationPage, NotificationQuery, PortError, PutOutcome};

/// The index that lists an account's trail by time.
pub const BY_ACCOUNT_INDEX: &str = "by-account";
/// A history page reads at most this many Query pages: an account whose trail is mostly
/// alerts gets a short page with a cursor rather than a slow one.
pub const MAX_PAGES_READ: u32 = 8;
/// Rounds of read-then-conditional-write a delivery report takes before it is retried later.
const MAX_DELIVERY_ROUNDS: u32 = 5;

#[derive(Clone)]
pub struct DynamoAuditLog {
    client: Client,
    table: String,
}

impl DynamoAuditLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoAuditLog {
            client,
            table: table.into(),
        }
    }
}

#[derive(Serialize)]
struct AuditItem<'a> {
    event_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    occurred_at: Option<String>,
    detail_type: &'a str,
    source: &'a str,
    detail: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay_name: Option<&'a str>,
    received_at: String,
    expires_at: i64,
}

pub fn audit_item(record: &AuditRecord) -> Result<serde_dynamo::Item, PortError> {
    serde_dynamo::to_item(AuditItem {
        event_id: &record.event_id,
        account_id: record.account_id.as_deref(),
        occurred_at: record.occurred_at.as_ref().map(format_rfc3339),
        detail_type: &record.detail_type,
        source: &record.source,
        detail: &record.detail,
        replay_name: record.replay_name.as_deref(),
        received_at: format_rfc3339(&record.received_at),
        expires_at: record.expires_at,
    })
    .map_err(|e| PortError::permanent(format!("the audit record does not fit an item: {e}")))
}

impl AuditLog for DynamoAuditLog {
    async fn put_if_absent(&self, record: &AuditRecord) -> Result<PutOutcome, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_sdk(audit_item(record)?)))
            .condition_expression("attribute_not_exists(event_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOutcome::Written),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(PutOutcome::AlreadyPresent)
            }
            Err(error) => Err(classify("PutItem", &error)),
        }
    }
}

#[derive(serde::Deserialize)]
struct StoredNotification {
    notification: Notification,
}

#[derive(Serialize)]
struct NotificationItem<'a> {
    event_id: String,
    account_id: &'a str,
    occurred_at: String,
    decision: &'static str,
    notification: &'a Notification,
    expires_at: i64,
}

fn conditional_check_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    error: &aws_sdk_dynamodb::error::SdkError<E>,
) -> bool {
    error
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

impl NotificationLog for DynamoAuditLog {
    async fn record_delivery(
        &self,
        event_id: &str,
        message_id: &str,
        reported: crate::domain::DeliveryState,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::ports::DeliveryUpdate, PortError> {
        let key = notification_key(event_id);
        // Read, decide, write on condition that the email is still where and as it was read:
        // a racing report makes the condition fail, and the next round reads what it wrote.
        for _ in 0..MAX_DELIVERY_ROUNDS {
            let item = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("event_id", s(key.clone()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| classify("GetItem", &e))?
                .item;
            let Some(mut notification) = item
                .and_then(|item| serde_dynamo::from_item::<_, StoredNotification>(from_sdk(item)).ok())
                .map(|stored| stored.notification)
            else {
                return Ok(crate::ports::DeliveryUpdate::UnknownEmail);
            };
            let Some(index) = notification
                .emails
                .iter()
                .position(|e| e.message_id.as_deref() == Some(message_id))
            else {
                return Ok(crate::ports::DeliveryUpdate::UnknownEmail);
            };
            let from = notification.emails[index].delivery_state;
            let applied = notification.apply_delivery(message_id, reported, at);
            let Ok(_) = applied else {
                return Ok(crate::ports::DeliveryUpdate::from_applied(applied));
            };
            let email = format!("#notification.#emails[{index}]");
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("event_id", s(key.clone()))
                .update_expression(format!("SET {email}.#state = :next, {email}.#state_at = :at"))
                .condition_expression(format!("{email}.#message_id = :message_id AND {email}.#state = :from"))
                .expression_attribute_names("#notification", "notification")
                .expression_attribute_names("#emails", "emails")
                .expression_attribute_names("#state", "delivery_state")
                .expression_attribute_names("#state_at", "delivery_state_at")
                .expression_attribute_names("#message_id", "message_id")
                .expression_attribute_values(":next", s(reported.as_str()))
                .expression_attribute_values(":at", s(format_rfc3339(&at)))
                .expression_attribute_values(":message_id", s(message_id))
                .expression_attribute_values(":from", s(from.as_str()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(crate::ports::DeliveryUpdate::Moved { from }),
                Err(error) if conditional_check_failed(&error) => continue,
                Err(error) => return Err(classify("UpdateItem", &error)),
            }
        }
        Err(PortError::transient(
            "UpdateItem: the email's delivery state kept changing under the write",
        ))
    }

    async fn record_notification(&self, notification: &Notification) -> Result<PutOutcome, PortError> {
        let item = serde_dynamo::to_item(NotificationItem {
            event_id: notification_key(&notification.event_id),
            account_id: &notification.account_id,
            occurred_at: notification.sort_key(),
            decision: notification.decision.as_str(),
            notification,
            expires_at: notification.expires_at,
        })
        .map_err(|e| PortError::permanent(format!("the notification does not fit an item: {e}")))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_sdk(item)))
            .condition_expression("attribute_not_exists(event_id) OR #decision <> :sent")
            .expression_attribute_names("#decision", "decision")
            .expression_attribute_values(":sent", s(Decision::Sent.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOutcome::Written),
            Err(error) if conditional_check_failed(&error) => Ok(PutOutcome::AlreadyPresent),
            Err(error) => Err(classify("PutItem", &error)),
        }
    }

    async fn notifications(&self, query: &NotificationQuery<'_>) -> Result<NotificationPage, PortError> {
        let limit = query.limit.max(1) as usize;
        let mut page = NotificationPage::default();
        let position_key = |position: &HistoryPosition| {
            HashMap::from([
                ("event_id".to_string(), s(position.key.clone())),
                ("account_id".to_string(), s(query.account_id)),
                ("occurred_at".to_string(), s(position.occurred_at.clone())),
            ])
        };
        let mut start = query.after.map(position_key);
        for _ in 0..MAX_PAGES_READ {
            let wanted = limit - page.notifications.len();
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_ACCOUNT_INDEX)
                .key_condition_expression("account_id = :account")
                .filter_expression("attribute_exists(notification)")
                .expression_attribute_values(":account", s(query.account_id))
                .scan_index_forward(false)
                // Limit counts items read before the filter: read a little more than is left.
                .limit((wanted * 2 + 10).min(1000) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Query", &e))?;
            let items = output.items.unwrap_or_default();
            let read = items.len();
            for (index, item) in items.into_iter().enumerate() {
                let position = HistoryPosition {
                    occurred_at: string(&item, "occurred_at").unwrap_or_default().to_string(),
                    key: string(&item, "event_id").unwrap_or_default().to_string(),
                };
                match serde_dynamo::from_item::<_, StoredNotification>(from_sdk(item)) {
                    Ok(stored) => page.notifications.push(stored.notification),
                    Err(_) => page.undecodable += 1,
                }
                if page.notifications.len() == limit {
                    let more = index + 1 < read || output.last_evaluated_key.is_some();
                    page.next = more.then_some(position);
                    return Ok(page);
                }
            }
            match output.last_evaluated_key {
                Some(key) => {
                    let position = HistoryPosition {
                        occurred_at: string(&key, "occurred_at").unwrap_or_default().to_string(),
                        key: string(&key, "event_id").unwrap_or_default().to_string(),
                    };
                    start = Some(position_key(&position));
                    page.next = Some(position);
                }
                None => {
                    page.next = None;
                    return Ok(page);
                }
            }
        }
        Ok(page)
    }
}
