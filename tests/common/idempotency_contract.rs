//! What every `Idempotency` adapter must do (the table of `domain::idempotency`): run
//! against the in-memory store, the embedded store and (in tests/emulators) DynamoDB Local.
//! Keys are prefixed so that one table can hold several runs.

use chrono::{DateTime, Duration, TimeZone, Utc};

use txn_notify::ports::{Claim, Idempotency};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 18, 0, 0).unwrap()
}

pub async fn idempotency_contract<S: Idempotency>(store: &S, prefix: &str) {
    let key = |name: &str| format!("{prefix}-{name}");
    let now = at();
    let until = now + Duration::minutes(2);
    let claim = |name: String, now: DateTime<Utc>, until: DateTime<Utc>| async move {
        store.claim(&name, now, until).await.unwrap()
    };

    // A claim holds to the millisecond its claim ends, and is taken over after it.
    assert_eq!(claim(key("a"), now, until).await, Claim::Acquired);
    assert_eq!(
        claim(key("a"), now + Duration::seconds(1), until).await,
        Claim::InProgress
    );
    assert_eq!(
        claim(key("a"), until, until + Duration::minutes(2)).await,
        Claim::InProgress,
        "the claim's last millisecond is still its own"
    );
    assert_eq!(
        claim(
            key("a"),
            until + Duration::milliseconds(1),
            until + Duration::minutes(2)
        )
        .await,
        Claim::Acquired,
        "a claim that timed out (a crashed delivery) is taken over"
    );
    assert_eq!(
        claim(key("a"), until + Duration::seconds(1), until + Duration::minutes(3)).await,
        Claim::InProgress,
        "the takeover holds the key in its turn"
    );

    // Completed: skipped to the second it expires, absent after.
    let expires = now + Duration::days(35) + Duration::milliseconds(500);
    // Completed: the effect's result comes back with the claim that finds it.
    let done = || Claim::Completed {
        result: Some("0100019a-ses-message-id".into()),
    };
    store
        .complete(&key("a"), expires, Some("0100019a-ses-message-id"))
        .await
        .unwrap();
    assert_eq!(claim(key("a"), now + Duration::days(1), until).await, done());
    assert_eq!(
        claim(
            key("a"),
            expires + Duration::milliseconds(499),
            expires + Duration::minutes(2)
        )
        .await,
        done(),
        "expiry is kept to the second, as the TTL attribute"
    );
    store.release(&key("a")).await.unwrap();
    assert_eq!(
        claim(key("a"), now + Duration::days(2), until).await,
        done(),
        "release never frees a completed key"
    );
    let after = expires + Duration::seconds(1);
    assert_eq!(
        claim(key("a"), after, after + Duration::minutes(2)).await,
        Claim::Acquired,
        "an expired completed record counts as absent, TTL or not"
    );

    // A failed effect frees its key for the redelivery.
    assert_eq!(claim(key("b"), now, until).await, Claim::Acquired);
    store.release(&key("b")).await.unwrap();
    assert_eq!(claim(key("b"), now, until).await, Claim::Acquired);

    // Completing without a claim records it; releasing a key never claimed does nothing.
    store.complete(&key("c"), now + Duration::days(1), None).await.unwrap();
    assert_eq!(claim(key("c"), now, until).await, Claim::Completed { result: None });
    store.release(&key("never")).await.unwrap();
    assert_eq!(claim(key("never"), now, until).await, Claim::Acquired);

    // Keys are independent.
    assert_eq!(claim(key("d"), now, until).await, Claim::Acquired);
    assert_eq!(claim(key("e"), now, until).await, Claim::Acquired);

    // Deliveries racing for one key: exactly one takes it.
    let racers = tokio::join!(
        claim(key("race"), now, until),
        claim(key("race"), now, until),
        claim(key("race"), now, until),
        claim(key("race"), now, until),
        claim(key("race"), now, until),
        claim(key("race"), now, until),
    );
    let racers = [racers.0, racers.1, racers.2, racers.3, racers.4, racers.5];
    assert_eq!(
        racers.iter().filter(|c| **c == Claim::Acquired).count(),
        1,
        "{racers:?}"
    );
    assert!(racers.iter().all(|c| matches!(c, Claim::Acquired | Claim::InProgress)));
}
