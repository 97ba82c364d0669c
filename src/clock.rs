//! Clock adapters: the real one, and a frozen one whose sleeps return at once (tests,
//! benches, and reproducible `invoke` runs).

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ports::Clock;

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Time that moves only when told to; remembers the sleeps it was asked for instead of
/// sleeping.
#[derive(Debug)]
pub struct FrozenClock {
    now: Mutex<DateTime<Utc>>,
    sleeps: Mutex<Vec<Duration>>,
}

impl FrozenClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        FrozenClock {
            now: Mutex::new(now),
            sleeps: Mutex::new(Vec::new()),
        }
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.now.lock().expect("clock lock") += by;
    }

    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().expect("clock lock").clone()
    }
}

impl Clock for FrozenClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }

    async fn sleep(&self, duration: Duration) {
        self.sleeps.lock().expect("clock lock").push(duration);
    }
}

impl<T: Clock> Clock for &T {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }

    fn sleep(&self, duration: Duration) -> impl std::future::Future<Output = ()> + Send {
        (**self).sleep(duration)
    }
}

impl<T: Clock> Clock for std::sync::Arc<T> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }

    fn sleep(&self, duration: Duration) -> impl std::future::Future<Output = ()> + Send {
        (**self).sleep(duration)
    }
}

/// The wall clock plus a jump forward that waits add instead of sleeping: the embedded
/// runtime runs retries, backoffs and visibility timeouts at full speed while every
/// timestamp stays consistent (insert → email latencies include the waits).
#[derive(Debug, Default)]
pub struct SkippingClock {
    skipped_ms: std::sync::atomic::AtomicI64,
}

impl SkippingClock {
    pub fn new() -> Self {
        SkippingClock::default()
    }

    /// A clock that reads `instant` now and runs on from there.
    pub fn starting_at(instant: DateTime<Utc>) -> Self {
        let clock = SkippingClock::default();
        clock.skipped_ms.store(
            (instant - Utc::now()).num_milliseconds(),
            std::sync::atomic::Ordering::SeqCst,
        );
        clock
    }

    pub fn advance(&self, by: Duration) {
        self.skipped_ms
            .fetch_add(by.as_millis() as i64, std::sync::atomic::Ordering::SeqCst);
    }

    /// How far ahead of the wall clock it runs.
    pub fn skipped(&self) -> Duration {
        Duration::from_millis(self.skipped_ms.load(std::sync::atomic::Ordering::SeqCst).max(0) as u64)
    }
}

impl Clock for SkippingClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.skipped_ms.load(std::sync::atomic::Ordering::SeqCst))
    }

    async fn sleep(&self, duration: Duration) {
        self.advance(duration);
    }
}
