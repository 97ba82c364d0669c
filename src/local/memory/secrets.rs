//! Signing secrets in memory.

use std::sync::Mutex;

use crate::local::LOCAL_SIGNING_SECRET;
use crate::ports::PortError;

/// Signing secrets held in memory; rotating moves the current one to previous, as Secrets
/// Manager's AWSCURRENT / AWSPREVIOUS do. Counts the fetches, for cache tests.
pub struct MemorySecrets {
    secrets: Mutex<crate::ports::SigningSecrets>,
    fetches: std::sync::atomic::AtomicU32,
    failing: std::sync::atomic::AtomicBool,
}

impl MemorySecrets {
    pub fn new(current: &[u8]) -> Self {
        MemorySecrets {
            secrets: Mutex::new(crate::ports::SigningSecrets {
                current: current.to_vec(),
                previous: None,
            }),
            fetches: std::sync::atomic::AtomicU32::new(0),
            failing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn local() -> Self {
        MemorySecrets::new(LOCAL_SIGNING_SECRET.as_bytes())
    }

    pub fn rotate(&self, new_current: &[u8]) {
        let mut secrets = self.secrets.lock().expect("secrets lock");
        let old = std::mem::replace(&mut secrets.current, new_current.to_vec());
        secrets.previous = Some(old);
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn fetches(&self) -> u32 {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl crate::ports::Secrets for MemorySecrets {
    async fn signing_secrets(&self) -> Result<crate::ports::SigningSecrets, PortError> {
        self.fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(PortError::transient("InternalServiceError: injected"));
        }
        Ok(self.secrets.lock().expect("secrets lock").clone())
    }
}
