//! What every `Secrets` adapter must do: the current signing secret, and after a rotation
//! the one before it as well. Run against the in-memory secrets and (in tests/emulators)
//! moto's Secrets Manager; `rotate` makes its argument the current secret.

use std::future::Future;

use txn_notify::ports::Secrets;

pub async fn secrets_contract<S, F, Fut>(secrets: &S, first: &[u8], rotate: F)
where
    S: Secrets,
    F: Fn(&'static [u8]) -> Fut,
    Fut: Future<Output = ()>,
{
    let fetched = secrets.signing_secrets().await.unwrap();
    assert_eq!(fetched.current, first);
    assert_eq!(fetched.previous, None, "never rotated: no previous secret");

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
