//! What every `Secrets` adapter must do: the current signing secret, and after a rotation
//! the one before it as well. Run against the in-memory secrets, the embedded runtime's fixed
//! secret (which is never rotated) and (in tests/emulators) moto's Secrets Manager; `rotate`
//! makes its argument the current secret.

use std::future::Future;

use txn_notify::ports::Secrets;

/// Before any rotation: the secret it was given, and no previous one.
pub async fn fresh_secret_contract<S: Secrets>(secrets: &S, first: &[u8]) {
    let fetched = secrets.signing_secrets().await.unwrap();
    assert_eq!(fetched.current, first);
    assert_eq!(fetched.previous, None, "never rotated: no previous secret");
    assert_eq!(
        secrets.signing_secrets().await.unwrap(),
        fetched,
        "the same until rotated"
    );
}

pub async fn secrets_contract<S, F, Fut>(secrets: &S, first: &[u8], rotate: F)
where
    S: Secrets,
    F: Fn(&'static [u8]) -> Fut,
    Fut: Future<Output = ()>,
{
    fresh_secret_contract(secrets, first).await;

    rotate(b"second-secret").await;
    let fetched = secrets.signing_secrets().await.unwrap();
    assert_eq!(fetched.current, b"second-secret");
    assert_eq!(fetched.previous.as_deref(), Some(first));

    rotate(b"third-secret").await;
    let fetched = secrets.signing_secrets().await.unwrap();
    assert_eq!(fetched.current, b"third-secret");
    assert_eq!(
        fetched.previous.as_deref(),
        Some(&b"second-secret"[..]),
        "one previous only"
    );
}
