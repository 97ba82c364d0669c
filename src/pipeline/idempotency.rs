//! Exactly-once effects over at-least-once deliveries, with Powertools' idempotency states.
//!
//! | record for the key | what `run_once` does |
//! |---|---|
//! | none, or expired | claims it (in progress), runs the effect, marks it completed |
//! | in progress, not timed out | does not run the effect: `InProgressElsewhere` (retry later) |
//! | in progress, timed out (a crashed delivery) | claims it again and runs the effect |
//! | completed, not expired | skips the effect: `AlreadyDone` with the result the first run kept (counted by the caller) |
//! | — the effect fails | releases the key, so that the redelivery runs it again |
//!
//! A replayed event carries the same event_id, so it follows the same rules.

use std::future::Future;

use chrono::Duration;

use crate::ports::{Claim, Clock, Idempotency, PortError};

#[derive(Debug, Clone)]
pub struct IdempotencyConfig {
    /// How long a claim holds before another delivery may take over (longer than the effect
    /// can take, shorter than the queue's visibility timeout).
    pub in_progress_timeout: Duration,
    /// How long a completed key is remembered: beyond the archive's retention, so that a
    /// replay never repeats an effect.
    pub completed_ttl: Duration,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        IdempotencyConfig {
            in_progress_timeout: Duration::minutes(2),
            completed_ttl: Duration::days(35),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Once<T> {
    Done(T),
    /// The effect had been done; its result as the first run kept it (None: a record written
    /// without one, or one that no longer decodes).
    AlreadyDone(Option<T>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnceError<E> {
    /// Another delivery is doing it now: retry later.
    InProgressElsewhere,
    /// The idempotency store failed.
    Store(PortError),
    /// The effect failed; the key was released.
    Effect(E),
}

pub async fn run_once<S, C, T, E, F, Fut>(
    store: &S,
    clock: &C,
    config: &IdempotencyConfig,
    key: &str,
    effect: F,
) -> Result<Once<T>, OnceError<E>>
where
    S: Idempotency,
    C: Clock,
    T: serde::Serialize + serde::de::DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let now = clock.now();
    match store.claim(key, now, now + config.in_progress_timeout).await {
        Err(error) => return Err(OnceError::Store(error)),
        Ok(Claim::Completed { result }) => {
            return Ok(Once::AlreadyDone(
                result.and_then(|text| serde_json::from_str(&text).ok()),
            ));
        }
        Ok(Claim::InProgress) => return Err(OnceError::InProgressElsewhere),
        Ok(Claim::Acquired) => {}
    }
    match effect().await {
        Ok(value) => {
            // The effect happened: recording it is retried with backoff, since a redelivery
            // after the claim times out would repeat it. If the store still fails, the error is
            // reported and that window remains.
            let expires_at = clock.now() + config.completed_ttl;
            let kept = serde_json::to_string(&value).ok();
            super::retry::retry_transient(clock, &super::retry::RetryPolicy::default(), || {
                store.complete(key, expires_at, kept.as_deref())
            })
            .await
            .map_err(OnceError::Store)?;
            Ok(Once::Done(value))
        }
        Err(error) => {
            if let Err(release_error) = store.release(key).await {
                tracing::warn!(key, error = %release_error, "could not release an idempotency key; it frees itself when its claim times out");
            }
            Err(OnceError::Effect(error))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::clock::FrozenClock;

    /// Claims always succeed; `complete` fails transiently this many times first.
    struct FlakyCompletion(Mutex<u32>);

    impl Idempotency for FlakyCompletion {
        async fn claim(&self, _: &str, _: DateTime<Utc>, _: DateTime<Utc>) -> Result<Claim, PortError> {
            Ok(Claim::Acquired)
        }
        async fn complete(&self, _: &str, _: DateTime<Utc>, _: Option<&str>) -> Result<(), PortError> {
            let mut failures = self.0.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(PortError::transient("ThrottlingException"));
            }
            Ok(())
        }
        async fn release(&self, _: &str) -> Result<(), PortError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_failing_completion_is_retried_and_the_effect_runs_once() {
        let clock = FrozenClock::at(Utc.with_ymd_and_hms(2026, 11, 20, 18, 0, 0).unwrap());
        let store = FlakyCompletion(Mutex::new(2));
        let runs = Mutex::new(0);
        let result = run_once(&store, &clock, &IdempotencyConfig::default(), "k", || async {
            *runs.lock().unwrap() += 1;
            Ok::<_, ()>(())
        })
        .await;
        assert_eq!(result, Ok(Once::Done(())));
        assert_eq!(*runs.lock().unwrap(), 1);
        assert_eq!(clock.sleeps().len(), 2, "two backoffs before the third try took");

        let store = FlakyCompletion(Mutex::new(100));
        let result = run_once(&store, &clock, &IdempotencyConfig::default(), "k", || async {
            Ok::<_, ()>(())
        })
        .await;
        assert!(matches!(result, Err(OnceError::Store(_))), "{result:?}");
    }
}
