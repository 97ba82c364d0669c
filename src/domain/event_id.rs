//! Deterministic event ids: the same input gives the same id in any process, at any retry,
//! so that every consumer can use the id as its idempotency key.
//!
//! Ids are UUIDv5 (RFC 9562) over a name built from what identifies the fact, not from the
//! stream position: a transaction stored twice (a restore, a second writer) still yields one
//! "Transaction Recorded", hence one email.

use sha1::{Digest, Sha1};
use uuid::Uuid;

use super::events::DetailType;

/// The namespace of txn-notify event ids (a UUIDv5 of the DNS name "txn-notify.events").
const NAMESPACE: Uuid = Uuid::from_u128(0xbb4e516e_c6c1_5cf3_8e25_0e8ce6a345a7);

/// UUIDv5 of the parts joined by the unit separator (it cannot appear in ids that come from
/// JSON-safe text by accident): SHA-1 of the namespace and the name, version and variant set.
fn derive(parts: &[&str]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(NAMESPACE.as_bytes());
    for (at, part) in parts.iter().enumerate() {
        if at > 0 {
            hasher.update(b"\x1f");
        }
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let id = uuid::Builder::from_sha1_bytes(bytes).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut text).to_string()
}

/// An event about one transaction: its record, or one of its alerts.
pub fn for_transaction(detail_type: DetailType, account_id: &str, transaction_id: &str, change: &str) -> String {
    derive(&[detail_type.as_str(), account_id, transaction_id, change])
}

pub fn for_account_opened(account_id: &str) -> String {
    derive(&[DetailType::AccountOpened.as_str(), account_id])
}

/// A change of an account: the version it made and digests of the item before and after,
/// so that a replayed record gives the same id and two changes never share one.
pub fn for_account_updated(account_id: &str, version: u64, before: &str, after: &str) -> String {
    derive(&[
        DetailType::AccountUpdated.as_str(),
        account_id,
        &version.to_string(),
        before,
        after,
    ])
}

/// A rejected stream record, named by the stream's own record id and sequence number.
pub fn for_rejected_record(stream_event_id: &str, sequence_number: &str) -> String {
    derive(&[DetailType::RecordRejected.as_str(), stream_event_id, sequence_number])
}

/// One statement per account and week (the week's first day, as YYYY-MM-DD).
pub fn for_weekly_statement(account_id: &str, week_start: &str) -> String {
    derive(&[DetailType::WeeklyStatement.as_str(), account_id, week_start])
}

/// One Notification Undeliverable per email that did not arrive: the original event and
/// what names the email (SES's message id, or the reason and template when nothing was sent).
pub fn for_notification_undeliverable(original_event_id: &str, cause: &str) -> String {
    derive(&[DetailType::NotificationUndeliverable.as_str(), original_event_id, cause])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_across_processes_and_versions() {
        // Computed independently with Python's uuid.uuid5. If these change, every
        // consumer's idempotency keys change with them and replays send emails again.
        assert_eq!(for_account_opened("acc-1"), "417b996d-2120-5b01-a959-cfc587d3142d");
        assert_eq!(
            for_transaction(DetailType::TransactionRecorded, "acc-1", "t-1", "inserted"),
            "001ce108-53a6-54cc-a23b-d042c2d57e49"
        );
        // A name longer than one SHA-1 block, and one in several scripts.
        let long_account = format!("acc-{}", "x".repeat(80));
        assert_eq!(
            for_account_updated(&long_account, 7, "before-digest", "after-digest"),
            "f73b7dbc-3b18-5228-80ff-e0b418046ca8"
        );
        assert_eq!(for_rejected_record("é€😀", "1"), "3afb4809-6d07-59e9-8748-8d54b943ee86");
    }

    #[test]
    fn ids_differ_by_every_part() {
        let base = for_transaction(DetailType::TransactionRecorded, "a", "t", "inserted");
        assert_ne!(
            base,
            for_transaction(DetailType::LargeTransaction, "a", "t", "inserted")
        );
        assert_ne!(
            base,
            for_transaction(DetailType::TransactionRecorded, "b", "t", "inserted")
        );
        assert_ne!(
            base,
            for_transaction(DetailType::TransactionRecorded, "a", "u", "inserted")
        );
        assert_ne!(
            base,
            for_transaction(DetailType::TransactionRecorded, "a", "t", "reversed")
        );
        // No ambiguity from joining: ("ab","c") and ("a","bc") differ.
        assert_ne!(
            for_transaction(DetailType::TransactionRecorded, "ab", "c", "x"),
            for_transaction(DetailType::TransactionRecorded, "a", "bc", "x")
        );
    }
}
