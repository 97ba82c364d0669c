//! What the audit trail keeps of each event: the record the auditor writes and the
//! `AuditLog` port stores.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// One audit record. Its key is the event_id: the same event, however often delivered, is
/// one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub event_id: String,
    pub account_id: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub detail_type: String,
    pub source: String,
    pub detail: Value,
    pub replay_name: Option<String>,
    pub received_at: DateTime<Utc>,
    /// Epoch seconds after which DynamoDB's TTL may delete it.
    pub expires_at: i64,
}

/// How long the audit trail keeps a record: thirteen months, a full year of history plus a
/// month to look at it. Notifications are kept as long.
pub const RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(396);
