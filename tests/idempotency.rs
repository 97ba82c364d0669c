//! Exactly-once effects: the idempotency states, through `run_once` and the in-memory store.

mod common;

use std::cell::Cell;

use chrono::Duration;
use txn_notify::clock::FrozenClock;
use txn_notify::local::memory::MemoryIdempotency;
use txn_notify::pipeline::{IdempotencyConfig, Once, OnceError, run_once};
use txn_notify::ports::{Claim, Idempotency};

async fn send(
    store: &MemoryIdempotency,
    clock: &FrozenClock,
    effects: &Cell<u32>,
    fail: bool,
) -> Result<Once<u32>, OnceError<&'static str>> {
    run_once(store, clock, &IdempotencyConfig::default(), "event-1", || async {
        if fail {
            return Err("SES throttled");
        }
        effects.set(effects.get() + 1);
        Ok(effects.get())
    })
    .await
}

#[tokio::test]
async fn a_second_delivery_is_skipped() {
    let (store, clock, effects) = (MemoryIdempotency::new(), FrozenClock::at(common::now()), Cell::new(0));
    assert_eq!(send(&store, &clock, &effects, false).await, Ok(Once::Done(1)));
    assert_eq!(
        send(&store, &clock, &effects, false).await,
        Ok(Once::AlreadyDone(Some(1)))
    );
    assert_eq!(effects.get(), 1);
}

#[tokio::test]
async fn a_delivery_while_another_is_in_progress_is_retried_later() {
    let store = MemoryIdempotency::new();
    let now = common::now();
    assert_eq!(
        store.claim("event-1", now, now + Duration::minutes(2)).await,
        Ok(Claim::Acquired)
    );
    let (clock, effects) = (FrozenClock::at(now + Duration::seconds(30)), Cell::new(0));
    assert_eq!(
        send(&store, &clock, &effects, false).await,
        Err(OnceError::InProgressElsewhere)
    );
    assert_eq!(effects.get(), 0);
    // The first delivery crashed: once its claim times out, a redelivery does the work.
    let later = FrozenClock::at(now + Duration::minutes(3));
    assert_eq!(send(&store, &later, &effects, false).await, Ok(Once::Done(1)));
}

#[tokio::test]
async fn a_failure_releases_the_key() {
    let (store, clock, effects) = (MemoryIdempotency::new(), FrozenClock::at(common::now()), Cell::new(0));
    assert_eq!(
        send(&store, &clock, &effects, true).await,
        Err(OnceError::Effect("SES throttled"))
    );
    assert_eq!(
        send(&store, &clock, &effects, false).await,
        Ok(Once::Done(1)),
        "retried at once, not after a timeout"
    );
}

#[tokio::test]
async fn a_completed_key_is_remembered_beyond_the_archive_retention_then_expires() {
    let store = MemoryIdempotency::new();
    let effects = Cell::new(0);
    send(&store, &FrozenClock::at(common::now()), &effects, false)
        .await
        .unwrap();
    let replay_after_a_month = FrozenClock::at(common::now() + Duration::days(31));
    assert_eq!(
        send(&store, &replay_after_a_month, &effects, false).await,
        Ok(Once::AlreadyDone(Some(1)))
    );
    let much_later = FrozenClock::at(common::now() + Duration::days(36));
    assert_eq!(send(&store, &much_later, &effects, false).await, Ok(Once::Done(2)));
}
