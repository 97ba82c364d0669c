//! The idempotency record of one effect, as every `Idempotency` adapter keeps it: the shape
//! of Powertools' idempotency utility, and the rule that says what a claim finds.
//!
//! | record for the key at `now` | a claim finds |
//! |---|---|
//! | none | `Acquired` |
//! | COMPLETED, `expires_at` not before `now` (to the second) | `Completed` |
//! | COMPLETED, `expires_at` before `now` | `Acquired` (expired: absent) |
//! | INPROGRESS, its claim's end not before `now` (to the millisecond) | `InProgress` |
//! | INPROGRESS, its claim's end before `now` (a crashed delivery) | `Acquired` (taken over) |
//!
//! `release` deletes an INPROGRESS record only: a completed effect is never forgotten
//! before it expires. `complete` writes COMPLETED whatever was there, with the effect's
//! result (Powertools' `data`: the notifier keeps the SES message id), which a claim that
//! finds it completed hands back. The units are those DynamoDB stores: epoch milliseconds
//! for the claim, epoch seconds for the TTL attribute.

use chrono::{DateTime, Utc};

/// The state of an idempotency key, as `Idempotency::claim` found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key was free (or its record had expired): the caller now holds it, in progress.
    Acquired,
    /// Another delivery holds it and has not timed out: try again later.
    InProgress,
    /// The effect was done: skip it. `result`: what `complete` kept of it.
    Completed { result: Option<String> },
}

string_enum! {
    /// The `status` attribute, spelled as Powertools spells it.
    KeyStatus {
        InProgress = "INPROGRESS",
        Completed = "COMPLETED",
    }
}

/// An in-progress record outlives its claim by this much before TTL may remove it, so that
/// a crashed delivery's claim is still seen (and taken over) rather than silently gone.
pub const IN_PROGRESS_RECORD_TTL_SECONDS: i64 = 24 * 3600;

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub status: KeyStatus,
    /// When the claim ends, epoch milliseconds (in progress only).
    pub in_progress_until_ms: Option<i64>,
    /// When the record may be deleted, epoch seconds (the table's TTL attribute).
    pub expires_at_s: i64,
    /// What the effect returned (completed only).
    pub result: Option<String>,
}

impl KeyRecord {
    /// The record a claim writes.
    pub fn in_progress(until: DateTime<Utc>) -> Self {
        KeyRecord {
            status: KeyStatus::InProgress,
            in_progress_until_ms: Some(until.timestamp_millis()),
            expires_at_s: until.timestamp() + IN_PROGRESS_RECORD_TTL_SECONDS,
            result: None,
        }
    }

    /// The record `complete` writes.
    pub fn completed(expires_at: DateTime<Utc>, result: Option<&str>) -> Self {
        KeyRecord {
            status: KeyStatus::Completed,
            in_progress_until_ms: None,
            expires_at_s: expires_at.timestamp(),
            result: result.map(str::to_string),
        }
    }

    /// What a claim at `now` finds in this record: `None` when it has expired and counts as
    /// absent (the claim then takes the key).
    pub fn holds_at(&self, now: DateTime<Utc>) -> Option<Claim> {
        match self.status {
            KeyStatus::Completed if self.expires_at_s >= now.timestamp() => Some(Claim::Completed {
                result: self.result.clone(),
            }),
            KeyStatus::InProgress
                if self
                    .in_progress_until_ms
                    .is_some_and(|until| until >= now.timestamp_millis()) =>
            {
                Some(Claim::InProgress)
            }
            _ => None,
        }
    }

    /// Whether `release` deletes it.
    pub fn is_releasable(&self) -> bool {
        self.status == KeyStatus::InProgress
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    #[test]
    fn a_record_holds_until_the_end_of_its_unit_and_not_after() {
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 18, 0, 0).unwrap();
        let claim = KeyRecord::in_progress(t);
        assert_eq!(claim.holds_at(t - Duration::seconds(1)), Some(Claim::InProgress));
        assert_eq!(claim.holds_at(t + Duration::microseconds(999)), Some(Claim::InProgress));
        assert_eq!(claim.holds_at(t + Duration::milliseconds(1)), None);
        let done = KeyRecord::completed(t + Duration::milliseconds(500), Some("ses-1"));
        assert_eq!(
            done.holds_at(t + Duration::milliseconds(999)),
            Some(Claim::Completed {
                result: Some("ses-1".into())
            })
        );
        assert_eq!(done.holds_at(t + Duration::seconds(1)), None);
        assert!(claim.is_releasable() && !done.is_releasable());
        assert_eq!(claim.expires_at_s, t.timestamp() + IN_PROGRESS_RECORD_TTL_SECONDS);
    }
}
