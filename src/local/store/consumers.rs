//! The `AuditLog` and `Idempotency` ports on the embedded store, with the conditions of the
//! DynamoDB adapters (see `aws::dynamodb::idempotency` for the table of states).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::EmbeddedStore;
use crate::domain::audit::AuditRecord;
use crate::ports::{AuditLog, Claim, Clock, Idempotency, PortError, PutOutcome};

const IN_PROGRESS: &str = "INPROGRESS";
const COMPLETED: &str = "COMPLETED";

impl<C: Clock> EmbeddedStore<C> {
    /// Every audit record, in event_id order.
    pub fn audit_records(&self) -> Result<Vec<serde_json::Value>, PortError> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached("SELECT record FROM audit ORDER BY event_id")?;
            let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
            rows.map(|row| row.map(|text| serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)))
                .collect()
        })
    }
}

impl<C: Clock> EmbeddedStore<C> {
    pub fn audit_count(&self) -> Result<u64, PortError> {
        self.with(|connection| {
            connection
                .prepare_cached("SELECT COUNT(*) FROM audit")?
                .query_row([], |row| row.get::<_, i64>(0))
        })
        .map(|n| n as u64)
    }

    /// (event_id, detail_type) of every audit record, in event_id order.
    pub fn audited_events(&self) -> Result<Vec<(String, String)>, PortError> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT event_id, json_extract(record, '$.detail_type') FROM audit ORDER BY event_id",
            )?;
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
                .prepare_cached("INSERT OR IGNORE INTO audit (event_id, account_id, record) VALUES (?1, ?2, ?3)")?
                .execute(params![record.event_id, record.account_id, text])
        })?;
        Ok(if inserted == 1 {
            PutOutcome::Written
        } else {
            PutOutcome::AlreadyPresent
        })
    }
}

impl<C: Clock> Idempotency for EmbeddedStore<C> {
    async fn claim(&self, key: &str, now: DateTime<Utc>, in_progress_until: DateTime<Utc>) -> Result<Claim, PortError> {
        self.with(|connection| {
            let tx = connection.transaction()?;
            let current: Option<(String, Option<i64>, i64)> = tx
                .query_row(
                    "SELECT status, in_progress_until_ms, expires_at_s FROM idempotency WHERE id = ?1",
                    [key],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()?;
            match current {
                Some((status, _, expires)) if status == COMPLETED && expires >= now.timestamp() => {
                    return Ok(Claim::Completed);
                }
                Some((status, Some(until), _)) if status == IN_PROGRESS && until >= now.timestamp_millis() => {
                    return Ok(Claim::InProgress);
                }
                _ => {}
            }
            tx.execute(
                "INSERT INTO idempotency (id, status, in_progress_until_ms, expires_at_s) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                     in_progress_until_ms = excluded.in_progress_until_ms, expires_at_s = excluded.expires_at_s",
                params![
                    key,
                    IN_PROGRESS,
                    in_progress_until.timestamp_millis(),
                    in_progress_until.timestamp() + 24 * 3600
                ],
            )?;
            tx.commit()?;
            Ok(Claim::Acquired)
        })
    }

    async fn complete(&self, key: &str, expires_at: DateTime<Utc>) -> Result<(), PortError> {
        self.with(|connection| {
            connection.execute(
                "INSERT INTO idempotency (id, status, in_progress_until_ms, expires_at_s) VALUES (?1, ?2, NULL, ?3)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, in_progress_until_ms = NULL,
                     expires_at_s = excluded.expires_at_s",
                params![key, COMPLETED, expires_at.timestamp()],
            )?;
            Ok(())
        })
    }

    async fn release(&self, key: &str) -> Result<(), PortError> {
        self.with(|connection| {
            connection.execute(
                "DELETE FROM idempotency WHERE id = ?1 AND status = ?2",
                params![key, IN_PROGRESS],
            )?;
            Ok(())
        })
    }
}
