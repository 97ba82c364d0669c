//! Capped exponential backoff with full jitter, for the retries a use case makes itself
//! (failed PutEvents entries, BatchGetItem's UnprocessedKeys, the digest's pages).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ports::{Clock, PortError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Sends of one entry (or one key) in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Six sends over about 1.5 s on average: long enough to ride out a throttling burst,
    /// short enough that the Lambda invocation (and the shard behind it) is not held up.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the wait after the `failures`-th consecutive failure (1-based):
    /// base × 2^(failures−1), capped.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(30);
        self.base_delay.saturating_mul(1u32 << exponent).min(self.max_delay)
    }

    /// Full jitter: uniform in [0, ceiling], so that many retrying callers spread out.
    pub fn delay(&self, failures: u32, rng: &mut fastrand::Rng) -> Duration {
        let ceiling = self.ceiling(failures).as_micros() as u64;
        Duration::from_micros(rng.u64(0..=ceiling))
    }
}

/// When the invocation must have answered (Lambda's deadline), and how long before it the
/// last call may start: a call started later could still be running when Lambda kills the
/// invocation, and a killed invocation reports nothing, so its whole batch comes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deadline {
    pub at: Option<DateTime<Utc>>,
    /// The longest one call may take (the SDK's operation timeout) plus the time to answer.
    pub reserve: Duration,
}

impl Deadline {
    /// No deadline: local runs, tests, ingest.
    pub fn none() -> Deadline {
        Deadline::default()
    }

    pub fn at(at: DateTime<Utc>, reserve: Duration) -> Deadline {
        Deadline { at: Some(at), reserve }
    }

    /// Whether a call may start after waiting `wait` from `now`.
    pub fn allows_call(&self, now: DateTime<Utc>, wait: Duration) -> bool {
        let Some(at) = self.at else { return true };
        let needed = chrono::Duration::from_std(wait.saturating_add(self.reserve)).unwrap_or(chrono::Duration::MAX);
        now.checked_add_signed(needed).is_some_and(|end| end <= at)
    }
}

/// Calls `call` until it succeeds, fails permanently, or has been tried `max_attempts` times,
/// sleeping a jittered backoff between tries. For calls that are safe to repeat (reads,
/// conditional writes).
pub async fn retry_transient<T, C, F, Fut>(clock: &C, policy: &RetryPolicy, mut call: F) -> Result<T, PortError>
where
    C: Clock,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PortError>>,
{
    let mut rng = fastrand::Rng::new();
    let mut failures = 0;
    loop {
        match call().await {
            Err(error) if error.is_transient() && failures + 1 < policy.max_attempts => {
                failures += 1;
                clock.sleep(policy.delay(failures, &mut rng)).await;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_then_cap() {
        let policy = RetryPolicy::default();
        let ceilings: Vec<u64> = (1..=8).map(|n| policy.ceiling(n).as_millis() as u64).collect();
        assert_eq!(ceilings, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn a_deadline_allows_a_call_only_with_its_reserve_left() {
        let now = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let deadline = Deadline::at(now + chrono::Duration::seconds(30), Duration::from_secs(21));
        assert!(deadline.allows_call(now, Duration::ZERO));
        assert!(deadline.allows_call(now, Duration::from_secs(9)));
        assert!(!deadline.allows_call(now, Duration::from_millis(9_001)));
        assert!(!deadline.allows_call(now + chrono::Duration::seconds(40), Duration::ZERO));
        assert!(Deadline::none().allows_call(now, Duration::MAX));
    }

    #[test]
    fn jittered_delays_stay_within_the_ceiling_and_vary() {
        let policy = RetryPolicy::default();
        let mut rng = fastrand::Rng::with_seed(7);
        let delays: Vec<Duration> = (0..200).map(|_| policy.delay(3, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(200)));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "jitter should spread the delays");
    }
}
