//! Capped exponential backoff with full jitter, for the retries a use case makes itself
//! (failed PutEvents entries, BatchGetItem's UnprocessedKeys, the digest's pages).

use std::future::Future;
use std::time::Duration;

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
    fn jittered_delays_stay_within_the_ceiling_and_vary() {
        let policy = RetryPolicy::default();
        let mut rng = fastrand::Rng::with_seed(7);
        let delays: Vec<Duration> = (0..200).map(|_| policy.delay(3, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(200)));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "jitter should spread the delays");
    }
}
