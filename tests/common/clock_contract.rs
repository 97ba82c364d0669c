//! What every `Clock` must do: time that never runs backwards and sleeps that return. A clock
//! whose sleeps let time pass (the wall clock, the skipping clock of the embedded runtime)
//! is at least that much later afterwards; the frozen clock of tests moves only when told,
//! and keeps the sleeps it was asked for instead.

use std::time::Duration;

use txn_notify::ports::Clock;

/// How a clock's sleeps relate to its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sleeps {
    /// After `sleep(d)`, `now()` is at least `d` later.
    LetTimePass,
    /// `now()` stays where it is.
    KeepTimeStill,
}

pub async fn clock_contract<C: Clock>(clock: &C, sleeps: Sleeps) {
    let mut previous = clock.now();
    for _ in 0..1000 {
        let now = clock.now();
        assert!(now >= previous, "time ran backwards: {previous} then {now}");
        previous = now;
    }
    let pause = Duration::from_millis(20);
    let before = clock.now();
    clock.sleep(pause).await;
    let after = clock.now();
    assert!(after >= before, "{before} then {after}");
    match sleeps {
        Sleeps::LetTimePass => assert!(
            (after - before).to_std().unwrap() >= pause,
            "slept {pause:?}, but only {:?} passed",
            (after - before).to_std().unwrap()
        ),
        Sleeps::KeepTimeStill => assert_eq!(after, before),
    }
    clock.sleep(Duration::ZERO).await;
}
