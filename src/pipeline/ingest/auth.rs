//! Request signatures: `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//! `t + "." + method + "." + path + "." + body`, within 300 s of now, compared in constant
//! time, with the current or (during a rotation) the previous secret.
//!
//! | request | result |
//! |---|---|
//! | no header, or not `t=…,v1=…` | 401 |
//! | `t` more than 300 s from now (either way) | 401 (replays of old requests) |
//! | no `v1` matches the current or the previous secret | 401 |
//! | the secret store fails | 503, nothing is accepted unsigned |

use chrono::{DateTime, Utc};
use ring::hmac;

use crate::ports::SigningSecrets;

pub const SIGNATURE_HEADER: &str = "x-signature";
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the X-Signature header is missing")]
    Missing,
    #[error("the X-Signature header must read t=<unix seconds>,v1=<hex HMAC-SHA256>")]
    Malformed,
    #[error("the signature timestamp is more than 300 s away from now")]
    Expired,
    #[error("the signature does not match")]
    Mismatch,
}

/// The header's parts: one timestamp, one or more v1 signatures.
fn parse_header(header: &str) -> Result<(i64, Vec<Vec<u8>>), AuthError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(AuthError::Malformed)?;
        match key {
            "t" if timestamp.is_none() => timestamp = Some(value.parse::<i64>().map_err(|_| AuthError::Malformed)?),
            "v1" => signatures.push(hex::decode(value).map_err(|_| AuthError::Malformed)?),
            // Other schemes may be added later; they are ignored, not refused.
            _ if key != "t" => {}
            _ => return Err(AuthError::Malformed),
        }
    }
    match timestamp {
        Some(t) if !signatures.is_empty() => Ok((t, signatures)),
        _ => Err(AuthError::Malformed),
    }
}

pub fn signed_payload(timestamp: i64, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("{timestamp}.{method}.{path}.").into_bytes();
    payload.extend_from_slice(body);
    payload
}

/// The header value a client sends (used by the samples, the tests and `txn-notify dev`).
pub fn sign(secret: &[u8], timestamp: i64, method: &str, path: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, &signed_payload(timestamp, method, path, body));
    format!("t={timestamp},v1={}", hex::encode(tag.as_ref()))
}

pub fn verify(
    header: Option<&str>,
    secrets: &SigningSecrets,
    now: DateTime<Utc>,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<(), AuthError> {
    let (timestamp, signatures) = parse_header(header.ok_or(AuthError::Missing)?)?;
    if (now.timestamp() - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(AuthError::Expired);
    }
    let payload = signed_payload(timestamp, method, path, body);
    let keys = std::iter::once(&secrets.current).chain(secrets.previous.as_ref());
    for secret in keys {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        // ring compares in constant time.
        if signatures.iter().any(|s| hmac::verify(&key, &payload, s).is_ok()) {
            return Ok(());
        }
    }
    Err(AuthError::Mismatch)
}

pub use crate::pipeline::secret_cache::SecretCache;

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> SigningSecrets {
        SigningSecrets {
            current: b"new-secret".to_vec(),
            previous: Some(b"old-secret".to_vec()),
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn a_signature_by_the_current_or_previous_secret_verifies() {
        let now = 1_790_000_000;
        for secret in [&b"new-secret"[..], b"old-secret"] {
            let header = sign(secret, now, "POST", "/v1/transactions", b"{}");
            assert_eq!(
                verify(Some(&header), &secrets(), at(now), "POST", "/v1/transactions", b"{}"),
                Ok(())
            );
        }
        let header = sign(b"other", now, "POST", "/v1/transactions", b"{}");
        assert_eq!(
            verify(Some(&header), &secrets(), at(now), "POST", "/v1/transactions", b"{}"),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn every_signed_part_matters() {
        let now = 1_790_000_000;
        let header = sign(b"new-secret", now, "POST", "/v1/transactions", b"{\"a\":1}");
        let check =
            |method: &str, path: &str, body: &[u8]| verify(Some(&header), &secrets(), at(now), method, path, body);
        assert_eq!(check("POST", "/v1/transactions", b"{\"a\":1}"), Ok(()));
        assert_eq!(check("PUT", "/v1/transactions", b"{\"a\":1}"), Err(AuthError::Mismatch));
        assert_eq!(check("POST", "/v1/accounts", b"{\"a\":1}"), Err(AuthError::Mismatch));
        assert_eq!(
            check("POST", "/v1/transactions", b"{\"a\":2}"),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn the_timestamp_must_be_within_300_seconds_either_way() {
        let t = 1_790_000_000;
        let header = sign(b"new-secret", t, "GET", "/v1/accounts/a/transactions", b"");
        let check = |now: i64| {
            verify(
                Some(&header),
                &secrets(),
                at(now),
                "GET",
                "/v1/accounts/a/transactions",
                b"",
            )
        };
        assert_eq!(check(t + 300), Ok(()));
        assert_eq!(check(t - 300), Ok(()));
        assert_eq!(check(t + 301), Err(AuthError::Expired));
        assert_eq!(check(t - 301), Err(AuthError::Expired));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let now = at(1_790_000_000);
        for header in [
            "",
            "t=1790000000",
            "v1=00",
            "t=abc,v1=00",
            "t=1790000000,v1=zz",
            "t=1,t=2,v1=00",
            "garbage",
        ] {
            assert_eq!(
                verify(Some(header), &secrets(), now, "GET", "/", b""),
                Err(AuthError::Malformed),
                "{header}"
            );
        }
        assert_eq!(verify(None, &secrets(), now, "GET", "/", b""), Err(AuthError::Missing));
    }
}
