//! The audit trail in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::domain::audit::AuditRecord;
use crate::domain::keys::notification_key;
use crate::domain::{Decision, HistoryPosition, Notification};
use crate::ports::{AuditLog, NotificationLog, NotificationPage, NotificationQuery, PortError, PutOutcome};

/// Audit records by event_id, with a conditional put as DynamoDB's.
#[derive(Default)]
pub struct MemoryAuditLog {
    records: Mutex<BTreeMap<String, AuditRecord>>,
    /// By their key in the audit table.
    notifications: Mutex<BTreeMap<String, Notification>>,
    /// This many next writes fail with a transient error.
    failing_writes: Mutex<u32>,
}

impl MemoryAuditLog {
    pub fn new() -> Self {
        MemoryAuditLog::default()
    }

    pub fn fail_next_writes(&self, count: u32) {
        *self.failing_writes.lock().expect("audit lock") = count;
    }

    fn injected_failure(&self) -> Result<(), PortError> {
        let mut failing = self.failing_writes.lock().expect("audit lock");
        if *failing > 0 {
            *failing -= 1;
            return Err(PortError::transient("ProvisionedThroughputExceededException: injected"));
        }
        Ok(())
    }

    pub fn notification_records(&self) -> Vec<Notification> {
        self.notifications
            .lock()
            .expect("audit lock")
            .values()
            .cloned()
            .collect()
    }

    pub fn records(&self) -> Vec<AuditRecord> {
        self.records.lock().expect("audit lock").values().cloned().collect()
    }
}

impl AuditLog for MemoryAuditLog {
    async fn put_if_absent(&self, record: &AuditRecord) -> Result<PutOutcome, PortError> {
        self.injected_failure()?;
        let mut records = self.records.lock().expect("audit lock");
        if records.contains_key(&record.event_id) {
            return Ok(PutOutcome::AlreadyPresent);
        }
        records.insert(record.event_id.clone(), record.clone());
        Ok(PutOutcome::Written)
    }
}

impl NotificationLog for MemoryAuditLog {
    async fn record_delivery(
        &self,
        event_id: &str,
        message_id: &str,
        reported: crate::domain::DeliveryState,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::ports::DeliveryUpdate, PortError> {
        self.injected_failure()?;
        let mut notifications = self.notifications.lock().expect("audit lock");
        let Some(notification) = notifications.get_mut(&notification_key(event_id)) else {
            return Ok(crate::ports::DeliveryUpdate::UnknownEmail);
        };
        Ok(crate::ports::DeliveryUpdate::from_applied(
            notification.apply_delivery(message_id, reported, at),
        ))
    }

    async fn record_notification(&self, notification: &Notification) -> Result<PutOutcome, PortError> {
        self.injected_failure()?;
        let mut notifications = self.notifications.lock().expect("audit lock");
        let key = notification_key(&notification.event_id);
        if notifications.get(&key).is_some_and(|n| n.decision == Decision::Sent) {
            return Ok(PutOutcome::AlreadyPresent);
        }
        notifications.insert(key, notification.clone());
        Ok(PutOutcome::Written)
    }

    async fn notifications(&self, query: &NotificationQuery<'_>) -> Result<NotificationPage, PortError> {
        let notifications = self.notifications.lock().expect("audit lock");
        let mut history: Vec<(String, &String, &Notification)> = notifications
            .iter()
            .filter(|(_, n)| n.account_id == query.account_id)
            .map(|(key, n)| (n.sort_key(), key, n))
            .filter(|(sort_key, key, _)| {
                query.after.is_none_or(|after| {
                    (sort_key.as_str(), key.as_str()) < (after.occurred_at.as_str(), after.key.as_str())
                })
            })
            .collect();
        history.sort_by(|a, b| (&b.0, b.1).cmp(&(&a.0, a.1)));
        let limit = query.limit.max(1) as usize;
        let more = history.len() > limit;
        history.truncate(limit);
        Ok(NotificationPage {
            next: more.then(|| {
                let (sort_key, key, _) = history.last().expect("a page that has more is not empty");
                HistoryPosition {
                    occurred_at: sort_key.clone(),
                    key: (*key).clone(),
                }
            }),
            notifications: history.into_iter().map(|(_, _, n)| n.clone()).collect(),
            undecodable: 0,
        })
    }
}
