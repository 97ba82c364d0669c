//! The signing secrets, cached: ingest verifies request signatures and unsubscribe tokens
//! with them, the notifier mints unsubscribe tokens.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ports::{Clock, PortError, Secrets, SigningSecrets};

/// The secrets, fetched at most once per TTL (Secrets Manager is slow and billed per call).
/// A rotation shows up within one TTL; until then the previous secret still verifies.
pub struct SecretCache<S> {
    source: S,
    ttl: Duration,
    cached: Mutex<Option<(DateTime<Utc>, SigningSecrets)>>,
}

impl<S: Secrets> SecretCache<S> {
    pub fn new(source: S, ttl: Duration) -> Self {
        SecretCache {
            source,
            ttl,
            cached: Mutex::new(None),
        }
    }

    pub async fn get(&self, clock: &impl Clock) -> Result<SigningSecrets, PortError> {
        let now = clock.now();
        if let Some((fetched_at, secrets)) = &*self.cached.lock().expect("secret cache lock")
            && now
                .signed_duration_since(*fetched_at)
                .to_std()
                .is_ok_and(|age| age < self.ttl)
        {
            return Ok(secrets.clone());
        }
        let secrets = self.source.signing_secrets().await?;
        *self.cached.lock().expect("secret cache lock") = Some((now, secrets.clone()));
        Ok(secrets)
    }

    pub fn source(&self) -> &S {
        &self.source
    }
}
