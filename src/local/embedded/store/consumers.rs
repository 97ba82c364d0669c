//! The `AuditLog`, `NotificationLog` and `Idempotency` ports on the embedded store, with the conditions of the
//! DynamoDB adapters; what a claim finds is `domain::idempotency`'s rule.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{EmbeddedStore, codec};
use crate::domain::audit::AuditRecord;
use crate::domain::idempotency::{KeyRecord, KeyStatus};
use crate::domain::keys::notification_key;
use crate::domain::notification::{NotificationEmail, apply_delivery};
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
        let row: Option<(String, Option<String>)> = self.with(|connection| {
            connection
                .prepare_cached("SELECT record, emails FROM notifications WHERE key = ?1")?
                .query_row([&key], |row| Ok((codec::text_column(row, 0)?, emails_column(row, 1)?)))
                .optional()
        })?;
        Ok(row.and_then(|(record, emails)| notification_of(&record, emails.as_deref())))
    }

    /// The emails of an event's notification, read alone when they are kept apart (no record
    /// decompressed); None when there is no notification, or it does not read back.
    pub fn notification_emails(&self, event_id: &str) -> Result<Option<Vec<NotificationEmail>>, PortError> {
        let key = notification_key(event_id);
        self.with(|connection| {
            connection
                .prepare_cached("SELECT emails, record FROM notifications WHERE key = ?1")?
                .query_row([&key], |row| Ok(emails_of_row(row)))
                .optional()
                .map(Option::flatten)
        })
    }

    /// How many emails of the notifications are in each delivery state.
    pub fn delivery_state_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, PortError> {
        // A row at a time: a million notifications are half a gigabyte of text.
        let mut counts = std::collections::BTreeMap::new();
        self.with(|connection| {
            let mut statement = connection.prepare_cached("SELECT emails, record FROM notifications")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                // A row that does not read back is skipped, whichever part fails.
                for email in emails_of_row(row).into_iter().flatten() {
                    *counts.entry(email.delivery_state.as_str().to_string()).or_default() += 1;
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
            // One statement writes: as in `claim`, no savepoint. Only the emails are read and written
            // again when they are kept apart; a record written before keeps its own until its
            // first delivery report.
            let row: Option<(Option<String>, Option<String>)> = connection
                .prepare_cached("SELECT emails, record FROM notifications WHERE key = ?1")?
                .query_row([&key], |row| {
                    Ok(match emails_column(row, 0)? {
                        Some(emails) => (Some(emails), None),
                        None => (None, Some(codec::text_column(row, 1)?)),
                    })
                })
                .optional()?;
            let emails = match row {
                Some((Some(emails), _)) => serde_json::from_str::<Vec<NotificationEmail>>(&emails).ok(),
                Some((None, Some(record))) => serde_json::from_str::<Notification>(&record).ok().map(|n| n.emails),
                _ => None,
            };
            let Some(mut emails) = emails else {
                return Ok(crate::ports::DeliveryUpdate::UnknownEmail);
            };
            let applied = apply_delivery(&mut emails, message_id, reported, at);
            if applied.is_ok() {
                connection
                    .prepare_cached("UPDATE notifications SET emails = ?2 WHERE key = ?1")?
                    .execute(params![key, emails_text(&emails)])?;
            }
            Ok(crate::ports::DeliveryUpdate::from_applied(applied))
        })
    }

    async fn record_notification(&self, notification: &Notification) -> Result<PutOutcome, PortError> {
        // The emails apart from the rest (kept once): a delivery report rewrites them alone,
        // not the whole record with its decompression and compression.
        let text = serde_json::to_string(&RecordWithoutEmails(notification))
            .map_err(|e| PortError::permanent(e.to_string()))?;
        let written = self.with(|connection| {
            connection
                .prepare_cached(
                    "INSERT INTO notifications (key, account_id, occurred_at, decision, record, emails)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?7)
                     ON CONFLICT (key) DO UPDATE SET account_id = excluded.account_id,
                         occurred_at = excluded.occurred_at, decision = excluded.decision, record = excluded.record,
                         emails = excluded.emails
                     WHERE notifications.decision <> ?6",
                )?
                .execute(params![
                    notification_key(&notification.event_id),
                    notification.account_id,
                    notification.sort_key(),
                    notification.decision.as_str(),
                    codec::pack(codec::Kind::Notification, &text),
                    Decision::Sent.as_str(),
                    emails_text(&notification.emails),
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
        type Row = (String, String, Option<String>, Option<String>);
        let rows: Vec<Row> = self.with(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT occurred_at, key, record, emails FROM notifications
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
                        // Emails that do not read back make the notification undecodable
                        // (empty text is no JSON), not one without emails.
                        emails_column(row, 3).unwrap_or_else(|_| Some(String::new())),
                    ))
                },
            )?;
            rows.collect()
        })?;
        let more = rows.len() > limit as usize;
        let mut page = NotificationPage::default();
        for (occurred_at, key, record, emails) in rows.into_iter().take(limit as usize) {
            match record.and_then(|record| notification_of(&record, emails.as_deref())) {
                Some(notification) => page.notifications.push(notification),
                None => page.undecodable += 1,
            }
            if more {
                page.next = Some(HistoryPosition { occurred_at, key });
            }
        }
        Ok(page)
    }
}

/// A notification as stored: its record, and its emails when they are kept apart (a record
/// written before has them inside). None when either does not read.
fn notification_of(record: &str, emails: Option<&str>) -> Option<Notification> {
    let mut notification: Notification = serde_json::from_str(record).ok()?;
    if let Some(emails) = emails {
        notification.emails = serde_json::from_str(emails).ok()?;
    }
    Some(notification)
}

/// A notification's emails as the store keeps them: their JSON as TEXT. SES's reports
/// rewrite them twice per email, and a couple of hundred bytes cost more to compress each
/// time than they save (a frame, packed ones written before, still reads).
fn emails_text(emails: &[NotificationEmail]) -> String {
    serde_json::to_string(emails).expect("emails always serialize")
}

/// The emails of a row selected as `emails, record`: the column alone when they are kept
/// apart (no record to decompress), else the record's. None when the part read does not
/// read back.
fn emails_of_row(row: &rusqlite::Row<'_>) -> Option<Vec<NotificationEmail>> {
    match emails_column(row, 0) {
        Ok(Some(emails)) => serde_json::from_str(&emails).ok(),
        Err(_) => None,
        Ok(None) => codec::text_column(row, 1)
            .ok()
            .and_then(|record| notification_of(&record, None))
            .map(|notification| notification.emails),
    }
}

/// The emails column's text: None for a record written before they were kept apart.
fn emails_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Option<String>> {
    match row.get_ref(index)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => codec::text_column(row, index).map(Some),
    }
}

/// A notification's record without its emails (they have a column of their own).
struct RecordWithoutEmails<'a>(&'a Notification);

impl serde::Serialize for RecordWithoutEmails<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Notification {
            emails: Vec::new(),
            ..self.0.clone()
        }
        .serialize(serializer)
    }
}

impl<C: Clock> Idempotency for EmbeddedStore<C> {
    async fn claim(&self, key: &str, now: DateTime<Utc>, in_progress_until: DateTime<Utc>) -> Result<Claim, PortError> {
        // One statement writes, all or nothing on its own, and the session's lock keeps the
        // read and the write together: no savepoint, whose journal would copy the key's page.
        self.with(|connection| {
            if let Some(found) = read_key(connection, key)?.and_then(|record| record.holds_at(now)) {
                return Ok(found);
            }
            write_key(connection, key, &KeyRecord::in_progress(in_progress_until))?;
            Ok(Claim::Acquired)
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::{EmbeddedStore, codec};
    use crate::domain::notification::{NotificationEmail, Recipient};
    use crate::domain::{Decision, DeliveryState, Notification};
    use crate::ports::NotificationLog;

    #[tokio::test]
    async fn a_notification_keeps_its_emails_once_beside_its_record() {
        let dir = std::env::temp_dir().join(format!("txn-notify-emails-once-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = EmbeddedStore::open(&dir, crate::clock::SystemClock).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 18, 0, 0).unwrap();
        let notification = Notification {
            event_id: "ev-1".into(),
            account_id: "acc-1".into(),
            detail_type: "Transaction Recorded".into(),
            occurred_at: at,
            transaction_id: Some("t-1".into()),
            decision: Decision::Sent,
            reason: None,
            emails: vec![NotificationEmail {
                template: "transaction".into(),
                to: Recipient::Account,
                message_id: Some("ses-message-1".into()),
                delivery_state: DeliveryState::Sent,
                delivery_state_at: at,
            }],
            decided_at: at,
            expires_at: at.timestamp() + 3600,
        };
        store.record_notification(&notification).await.unwrap();
        let (record, emails) = store
            .with(|connection| {
                connection.query_row("SELECT record, emails FROM notifications", [], |row| {
                    Ok((codec::text_column(row, 0)?, codec::text_column(row, 1)?))
                })
            })
            .unwrap();
        assert!(
            record.contains("\"event_id\":\"ev-1\"") && !record.contains("ses-message-1"),
            "{record}"
        );
        assert!(!record.contains("\"emails\""), "{record}");
        assert!(emails.contains("ses-message-1"), "{emails}");
        assert_eq!(store.notification("ev-1").unwrap(), Some(notification.clone()));

        // Kept as text; a column an earlier build packed into a frame still reads.
        let packed = codec::pack(codec::Kind::Notification, &emails);
        let kept_as = store
            .with(|connection| {
                let kept_as: String =
                    connection.query_row("SELECT typeof(emails) FROM notifications", [], |row| row.get(0))?;
                connection.execute("UPDATE notifications SET emails = ?1", [&packed])?;
                Ok(kept_as)
            })
            .unwrap();
        assert_eq!(kept_as, "text");
        assert_eq!(store.notification("ev-1").unwrap(), Some(notification.clone()));
        assert_eq!(
            store.notification_emails("ev-1").unwrap(),
            Some(notification.emails.clone())
        );
        assert_eq!(store.delivery_state_counts().unwrap().get("sent"), Some(&1));
    }
}
