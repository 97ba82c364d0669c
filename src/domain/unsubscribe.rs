//! One-click unsubscribe tokens (RFC 8058): `POST /v1/unsubscribe/{token}` carries no
//! signature, so the token is the credential. It names the account, the purpose and an
//! expiry, and an HMAC-SHA256 over the three, keyed by a key derived from the ingest signing
//! secret (so a token never doubles as a request signature).
//!
//! Token: `<base64url(account_id)>.<purpose>.<expires_at, epoch seconds>.<base64url(mac)>`,
//! URL-safe as it stands.
//!
//! | token | `verify` |
//! |---|---|
//! | not four parts, bad base64url, bad number | `Malformed` |
//! | MAC matches neither the current nor the previous secret's key | `Forged` |
//! | genuine, another purpose than the one asked | `WrongPurpose` |
//! | genuine, `expires_at` before now | `Expired` |
//! | genuine, right purpose, not expired | the account id |
//!
//! The MAC is checked before anything it covers is believed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::hmac;

/// What a statement email's unsubscribe link turns off.
pub const STATEMENT_PURPOSE: &str = "statement";

/// How long a statement's link works: people unsubscribe from old mail. A rotation of the
/// signing secret keeps it valid until the secret after next.
pub const TOKEN_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(180);

const KEY_LABEL: &[u8] = b"txn-notify unsubscribe token v1";

fn key_of(signing_secret: &[u8]) -> hmac::Key {
    let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, signing_secret), KEY_LABEL);
    hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref())
}

fn message(account_id: &str, purpose: &str, expires_at: i64) -> String {
    format!("{account_id}\n{purpose}\n{expires_at}")
}

/// A token for `account_id` and `purpose`, valid until `expires_at`.
pub fn mint(signing_secret: &[u8], account_id: &str, purpose: &str, expires_at: DateTime<Utc>) -> String {
    let expires = expires_at.timestamp();
    let mac = hmac::sign(
        &key_of(signing_secret),
        message(account_id, purpose, expires).as_bytes(),
    );
    format!(
        "{}.{purpose}.{expires}.{}",
        URL_SAFE_NO_PAD.encode(account_id),
        URL_SAFE_NO_PAD.encode(mac.as_ref())
    )
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not one this service hands out")]
    Malformed,
    #[error("the token's signature does not match")]
    Forged,
    #[error("the token is for something else ({0})")]
    WrongPurpose(String),
    #[error("the token expired on {0}")]
    Expired(DateTime<Utc>),
}

/// The longest token taken (an account id is at most 64 characters).
const MAX_TOKEN_CHARS: usize = 512;

/// The account a genuine, unexpired token for `purpose` names. `secrets`: the current
/// signing secret, then the previous one during a rotation.
pub fn verify(secrets: &[&[u8]], token: &str, purpose: &str, now: DateTime<Utc>) -> Result<String, TokenError> {
    if token.len() > MAX_TOKEN_CHARS {
        return Err(TokenError::Malformed);
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [account, token_purpose, expires, mac] = parts.as_slice() else {
        return Err(TokenError::Malformed);
    };
    let account_id = URL_SAFE_NO_PAD
        .decode(account)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(TokenError::Malformed)?;
    let expires_at: i64 = expires
        .parse()
        .ok()
        .filter(|_| expires.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(TokenError::Malformed)?;
    let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| TokenError::Malformed)?;
    let signed = message(&account_id, token_purpose, expires_at);
    if !secrets
        .iter()
        .any(|secret| hmac::verify(&key_of(secret), signed.as_bytes(), &mac).is_ok())
    {
        return Err(TokenError::Forged);
    }
    if *token_purpose != purpose {
        return Err(TokenError::WrongPurpose(token_purpose.to_string()));
    }
    let expiry = DateTime::from_timestamp(expires_at, 0).ok_or(TokenError::Malformed)?;
    if expiry < now {
        return Err(TokenError::Expired(expiry));
    }
    Ok(account_id)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 6, 0, 0).unwrap()
    }

    #[test]
    fn a_minted_token_verifies_until_it_expires() {
        let token = mint(b"current", "acc-1", STATEMENT_PURPOSE, now() + TOKEN_LIFETIME);
        assert!(
            token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{token}"
        );
        assert_eq!(
            verify(&[b"current"], &token, STATEMENT_PURPOSE, now()),
            Ok("acc-1".to_string())
        );
        assert_eq!(
            verify(&[b"current"], &token, STATEMENT_PURPOSE, now() + TOKEN_LIFETIME),
            Ok("acc-1".to_string()),
            "valid to its last second"
        );
        assert!(matches!(
            verify(
                &[b"current"],
                &token,
                STATEMENT_PURPOSE,
                now() + TOKEN_LIFETIME + Duration::seconds(1)
            ),
            Err(TokenError::Expired(_))
        ));
    }

    #[test]
    fn rotation_keeps_the_previous_secrets_tokens_and_no_other() {
        let old = mint(b"previous", "acc-1", STATEMENT_PURPOSE, now() + Duration::days(1));
        assert_eq!(
            verify(&[b"current", b"previous"], &old, STATEMENT_PURPOSE, now()),
            Ok("acc-1".to_string())
        );
        assert_eq!(
            verify(&[b"current"], &old, STATEMENT_PURPOSE, now()),
            Err(TokenError::Forged)
        );
    }

    #[test]
    fn every_altered_part_is_refused() {
        let token = mint(b"current", "acc-1", STATEMENT_PURPOSE, now() + Duration::days(1));
        let parts: Vec<&str> = token.split('.').collect();
        let with = |index: usize, value: &str| {
            let mut altered = parts.clone();
            altered[index] = value;
            altered.join(".")
        };
        let other_account = URL_SAFE_NO_PAD.encode("acc-2");
        let later = (now() + Duration::days(400)).timestamp().to_string();
        for forged in [
            with(0, &other_account),
            with(1, "alerts"),
            with(2, &later),
            with(3, &URL_SAFE_NO_PAD.encode([0u8; 32])),
        ] {
            assert_eq!(
                verify(&[b"current"], &forged, STATEMENT_PURPOSE, now()),
                Err(TokenError::Forged),
                "{forged}"
            );
        }
        for malformed in [
            "",
            "a.b.c",
            "a.b.c.d.e",
            &with(0, "!!"),
            &with(2, "-5"),
            &with(2, "12x"),
            &with(3, "%%"),
            &"x".repeat(600),
        ] {
            assert_eq!(
                verify(&[b"current"], malformed, STATEMENT_PURPOSE, now()),
                Err(TokenError::Malformed),
                "{malformed}"
            );
        }
        assert_eq!(
            verify(&[b"wrong"], &token, STATEMENT_PURPOSE, now()),
            Err(TokenError::Forged)
        );
    }

    #[test]
    fn a_genuine_token_for_another_purpose_is_refused() {
        let token = mint(b"current", "acc-1", "alerts", now() + Duration::days(1));
        assert_eq!(
            verify(&[b"current"], &token, STATEMENT_PURPOSE, now()),
            Err(TokenError::WrongPurpose("alerts".into()))
        );
    }
}
