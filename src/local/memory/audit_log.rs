//! The audit trail in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::domain::audit::AuditRecord;
use crate::ports::{AuditLog, PortError, PutOutcome};

/// Audit records by event_id, with a conditional put as DynamoDB's.
#[derive(Default)]
pub struct MemoryAuditLog {
    records: Mutex<BTreeMap<String, AuditRecord>>,
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

    pub fn records(&self) -> Vec<AuditRecord> {
        self.records.lock().expect("audit lock").values().cloned().collect()
    }
}

impl AuditLog for MemoryAuditLog {
    async fn put_if_absent(&self, record: &AuditRecord) -> Result<PutOutcome, PortError> {
        {
            let mut failing = self.failing_writes.lock().expect("audit lock");
            if *failing > 0 {
                *failing -= 1;
                return Err(PortError::transient("ProvisionedThroughputExceededException: injected"));
            }
        }
        let mut records = self.records.lock().expect("audit lock");
        if records.contains_key(&record.event_id) {
            return Ok(PutOutcome::AlreadyPresent);
        }
        records.insert(record.event_id.clone(), record.clone());
        Ok(PutOutcome::Written)
    }
}
