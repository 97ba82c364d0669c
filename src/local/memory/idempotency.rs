//! Idempotency records in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::domain::idempotency::KeyRecord;
use crate::ports::{Claim, Idempotency, PortError};

/// Idempotency records in memory, with the conditional semantics of the DynamoDB store.
#[derive(Default)]
pub struct MemoryIdempotency {
    keys: Mutex<BTreeMap<String, KeyRecord>>,
}

impl MemoryIdempotency {
    pub fn new() -> Self {
        MemoryIdempotency::default()
    }
}

impl Idempotency for MemoryIdempotency {
    async fn claim(
        &self,
        key: &str,
        now: chrono::DateTime<chrono::Utc>,
        in_progress_until: chrono::DateTime<chrono::Utc>,
    ) -> Result<Claim, PortError> {
        let mut keys = self.keys.lock().expect("idempotency lock");
        if let Some(found) = keys.get(key).and_then(|record| record.holds_at(now)) {
            return Ok(found);
        }
        keys.insert(key.to_string(), KeyRecord::in_progress(in_progress_until));
        Ok(Claim::Acquired)
    }

    async fn complete(
        &self,
        key: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
        result: Option<&str>,
    ) -> Result<(), PortError> {
        self.keys
            .lock()
            .expect("idempotency lock")
            .insert(key.to_string(), KeyRecord::completed(expires_at, result));
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), PortError> {
        let mut keys = self.keys.lock().expect("idempotency lock");
        if keys.get(key).is_some_and(KeyRecord::is_releasable) {
            keys.remove(key);
        }
        Ok(())
    }
}
