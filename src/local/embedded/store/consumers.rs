//! The `AuditLog`, `NotificationLog` and `Idempotency` ports on the embedded store, with the conditions of the
//! DynamoDB adapters; what a claim finds is `domain::idempotency`'s rule.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{EmbeddedStore, atomic, codec};
use crate::domain::audit::AuditRecord;
use crate::domain::idempotency::{KeyRecord, KeyStatus};
use crate::domain::keys::notification_key;
use crate::domain::{Decision, HistoryPosition, Notification};
use crate::ports::{
    AuditLog, Claim, Clock, Idempotency, NotificationLog, NotificationPage, NotificationQuery, PortError, PutOutcome,
};

impl<C: Clock> EmbeddedStore<C> {
    /// Every audit record, in event_id order.
    pub fn audit_records(&self) -> Result<Vec<serde_json::Value>, PortError> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached("SELECT record FROM audit ORDER BY event_id")?;
            let rows = statement.query_map([], |row| codec::text_column(row, 0))?;
            rows.map(|row| row.map(|text| serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)))
                .collect()
        })
    }
}

impl<C: Clock> EmbeddedStore<C> {
    /// The notification of an event, as the notifier recorded it and feedback moved it.
    pub fn notification(&self, event_id: &str) -> Result<Option<Notification>, PortError> {
        let key = notification_key(event_id);
        let record: Option<String> = self.with(|connection| {
            connection
                .prepare_cached("SELECT record FROM notifications WHERE key = ?1")?
                .query_row([&key], |row| codec::text_column(row, 0))
                .optional()
        })?;
        Ok(record.and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// How many emails of the notifications are in each delivery state.
    pub fn delivery_state_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, PortError> {
        // A row at a time: a million notifications are half a gigabyte of text.
        let mut counts = std::collections::BTreeMap::new();
        self.with(|connection| {
            let mut statement = connection.prepare_cached("SELECT record FROM notifications")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let Ok(text) = codec::unpack(row.get_ref(0)?) else {
                    continue;
                };
                if let Ok(notification) = serde_json::from_str::<Notification>(&text) {
                    for email in notification.emails {
                        *counts.entry(email.delivery_state.as_str().to_string()).or_default() += 1;
                    }
                }
            }
            Ok(())
        })?;
        Ok(counts)
    }

    pub fn audit_count(&self) -> Result<u64, PortError> {
        self.with(|connection| {
            connection
                .prepare_cached("SELECT COUNT(*) FROM audit")?
                .query_row([], |row| row.get::<_, i64>(0))
        })
        .map(|n| n as u64)
    }

    /// Hands `visit` the (event_id, detail_type) of every audit record, one at a time.
    pub fn visit_audited(&self, mut visit: impl FnMut(&str, &str)) -> Result<(), PortError> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached("SELECT event_id, detail_type FROM audit")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let event_id = row.get_ref(0)?.as_str()?;
                let detail_type = row.get_ref(1)?.as_str_or_null()?.unwrap_or_default();
                visit(event_id, detail_type);
            }
            Ok(())
        })
    }

    /// (event_id, detail_type) of every audit record, in event_id order.
    pub fn audited_events(&self) -> Result<Vec<(String, String)>, PortError> {
        self.with(|connection| {
            let mut statement =
                connection.prepare_cached("SELECT event_id, detail_type FROM audit ORDER BY event_id")?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            })?;
            rows.collect()
        })
    }
}

impl<C: Clock> AuditLog for EmbeddedStore<C> {
    async fn put_if_absent(&self, record: &AuditRecord) -> Result<PutOutcome, PortError> {
        let text = serde_json::to_string(record).map_err(|e| PortError::permanent(e.to_string()))?;
        let inserted = self.with(|connection| {
            connection
                .prepare_cached(
                    "INSERT OR IGNORE INTO audit (event_id, account_id, detail_type, record) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    record.event_id,
                    record.account_id,
                    record.detail_type,
                    codec::pack(codec::Kind::AuditRecord, &text)
                ])
        })?;
        Ok(if inserted == 1 {
            PutOutcome::Written
        } else {
            PutOutcome::AlreadyPresent
        })
    }
}

impl<C: Clock> NotificationLog for EmbeddedStore<C> {
    async fn record_delivery(
        &self,
        event_id: &str,
        message_id: &str,
        reported: crate::domain::DeliveryState,
        at: DateTime<Utc>,
    ) -> Result<crate::ports::DeliveryUpdate, PortError> {
        let key = notification_key(event_id);
        self.with(|connection| {
            atomic(connection, |tx| {
                let record: Option<String> = tx
                    .prepare_cached("SELECT record FROM notifications WHERE key = ?1")?
                    .query_row([&key], |row| codec::text_column(row, 0))
                    .optional()?;
                let Some(mut notification) = record.and_then(|text| serde_json::from_str::<Notification>(&text).ok())
                else {
                    return Ok(crate::ports::DeliveryUpdate::UnknownEmail);
                };
                let applied = notification.apply_delivery(message_id, reported, at);
                if applied.is_ok() {
                    let text = serde_json::to_string(&notification).expect("a notification always serializes");
                    tx.prepare_cached("UPDATE notifications SET record = ?2 WHERE key = ?1")?
                        .execute(params![key, codec::pack(codec::Kind::Notification, &text)])?;
                }
                Ok(crate::ports::DeliveryUpdate::from_applied(applied))
            })
        })
    }

    async fn record_notification(&self, notification: &Notification) -> Result<PutOutcome, PortError> {
        let text = serde_json::to_string(notification).map_err(|e| PortError::permanent(e.to_string()))?;
        let written = self.with(|connection| {
            connection
                .prepare_cached(
                    "INSERT INTO notifications (key, account_id, occurred_at, decision, record) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (key) DO UPDATE SET account_id = excluded.account_id,
                         occurred_at = excluded.occurred_at, decision = excluded.decision, record = excluded.record
                     WHERE notifications.decision <> ?6",
                )?
                .execute(params![
                    notification_key(&notification.event_id),
                    notification.account_id,
                    notification.sort_key(),
                    notification.decision.as_str(),
                    codec::pack(codec::Kind::Notification, &text),
                    Decision::Sent.as_str(),
                ])
        })?;
        Ok(if written == 1 {
            PutOutcome::Written
        } else {
            PutOutcome::AlreadyPresent
        })
    }

    async fn notifications(&self, query: &NotificationQuery<'_>) -> Result<NotificationPage, PortError> {
        let limit = query.limit.max(1);
        let (after_time, after_key) = match query.after {
            Some(after) => (after.occurred_at.as_str(), after.key.as_str()),
            // Sorts after every RFC 3339 text.
            None => ("\u{10FFFF}", ""),
        };
        // A record that does not read back counts as undecodable, as one that is not JSON.
        let rows: Vec<(String, String, Option<String>)> = self.with(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT occurred_at, key, record FROM notifications
                 WHERE account_id = ?1 AND (occurred_at, key) < (?2, ?3)
                 ORDER BY occurred_at DESC, key DESC LIMIT ?4",
            )?;
            let rows = statement.query_map(
                params![query.account_id, after_time, after_key, i64::from(limit) + 1],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        codec::unpack(row.get_ref(2)?).ok().map(String::from),
                    ))
                },
            )?;
            rows.collect()
        })?;
        let more = rows.len() > limit as usize;
        let mut page = NotificationPage::default();
        for (occurred_at, key, record) in rows.into_iter().take(limit as usize) {
            match record.as_deref().map(serde_json::from_str) {
                Some(Ok(notification)) => page.notifications.push(notification),
                _ => page.undecodable += 1,
            }
            if more {
                page.next = Some(HistoryPosition { occurred_at, key });
            }
        }
        Ok(page)
    }
}

impl<C: Clock> Idempotency for EmbeddedStore<C> {
    async fn claim(&self, key: &str, now: DateTime<Utc>, in_progress_until: DateTime<Utc>) -> Result<Claim, PortError> {
        self.with(|connection| {
            atomic(connection, |tx| {
                if let Some(found) = read_key(tx, key)?.and_then(|record| record.holds_at(now)) {
                    return Ok(found);
                }
                write_key(tx, key, &KeyRecord::in_progress(in_progress_until))?;
                Ok(Claim::Acquired)
            })
        })
    }

    async fn complete(&self, key: &str, expires_at: DateTime<Utc>, result: Option<&str>) -> Result<(), PortError> {
        self.with(|connection| write_key(connection, key, &KeyRecord::completed(expires_at, result)))
    }

    async fn release(&self, key: &str) -> Result<(), PortError> {
        self.with(|connection| {
            connection
                .prepare_cached("DELETE FROM idempotency WHERE id = ?1 AND status = ?2")?
                .execute(params![key, KeyStatus::InProgress.as_str()])?;
            Ok(())
        })
    }
}

/// A row whose status is neither of ours (written by hand) reads as absent.
fn read_key(connection: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<KeyRecord>> {
    let row: Option<(String, Option<i64>, i64, Option<String>)> = connection
        .prepare_cached("SELECT status, in_progress_until_ms, expires_at_s, result FROM idempotency WHERE id = ?1")?
        .query_row([key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
        .optional()?;
    Ok(row.and_then(|(status, in_progress_until_ms, expires_at_s, result)| {
        Some(KeyRecord {
            status: KeyStatus::parse(&status)?,
            in_progress_until_ms,
            expires_at_s,
            result,
        })
    }))
}

fn write_key(connection: &rusqlite::Connection, key: &str, record: &KeyRecord) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "INSERT INTO idempotency (id, status, in_progress_until_ms, expires_at_s, result) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status,
             in_progress_until_ms = excluded.in_progress_until_ms, expires_at_s = excluded.expires_at_s,
             result = excluded.result",
        )?
        .execute(params![
            key,
            record.status.as_str(),
            record.in_progress_until_ms,
            record.expires_at_s,
            record.result
        ])?;
    Ok(())
}
