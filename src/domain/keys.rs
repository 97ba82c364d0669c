//! The ledger table's key layout, written once. Every adapter, the stream decoder, ingest
//! and the workload build and read keys through this module (docs/data-contract.md).
//!
//! | item | `pk` | `sk` | `type` |
//! |---|---|---|---|
//! | account profile | `ACCOUNT#<account_id>` | `PROFILE` | `ACCOUNT` |
//! | transaction | `ACCOUNT#<account_id>` | `TXN#<booked_at>#<transaction_id>` | `TXN` |
//! | uniqueness marker | `ACCOUNT#<account_id>` | `TXNID#<transaction_id>` | `TXN_ID` |
//!
//! Account items alone also carry `statement_zone` (S), the key of the sparse global
//! secondary index `accounts-by-zone` (partition `statement_zone`, sort `account_id`, keys
//! only): the IANA zone their weekly statement is cut in, present only while a statement is
//! due (not closed, `statement_enabled` not false). The digest planner Queries it by zone;
//! no transaction is ever in it.
//!
//! In the audit table, keyed by `event_id`, the notifier's decision for an event is an item
//! of its own, `NOTIFICATION#<event_id>`, beside the auditor's record of the event.
//!
//! `booked_at` in a sort key is written by `time::format_rfc3339`, so that the transactions
//! of an account sort by the time they were booked.

use chrono::{DateTime, Utc};

use super::time::format_rfc3339;

pub const ACCOUNT_PREFIX: &str = "ACCOUNT#";
pub const PROFILE_SK: &str = "PROFILE";
pub const TRANSACTION_PREFIX: &str = "TXN#";
/// Sorts outside the `TXN#` range, so that history queries never see a marker.
pub const MARKER_PREFIX: &str = "TXNID#";

pub const ACCOUNT_TYPE: &str = "ACCOUNT";
pub const TRANSACTION_TYPE: &str = "TXN";
/// The processor ignores items of this type.
pub const MARKER_TYPE: &str = "TXN_ID";

/// The attribute that puts an account item into `accounts-by-zone`; nothing else carries it.
pub const STATEMENT_ZONE: &str = "statement_zone";
/// The sparse index of account items by statement zone (template.yaml's LedgerTable).
pub const ACCOUNTS_BY_ZONE_INDEX: &str = "accounts-by-zone";
/// The index's sort key: every account item has it.
pub const ACCOUNTS_BY_ZONE_SORT_KEY: &str = "account_id";

/// The audit table's key of an event's notification.
pub const NOTIFICATION_PREFIX: &str = "NOTIFICATION#";

pub fn notification_key(event_id: &str) -> String {
    format!("{NOTIFICATION_PREFIX}{event_id}")
}

/// The partition of an account: its profile, its transactions and their markers.
pub fn account_pk(account_id: &str) -> String {
    format!("{ACCOUNT_PREFIX}{account_id}")
}

/// The account_id a partition key names, if it is an account's.
pub fn account_id_of(pk: &str) -> Option<&str> {
    pk.strip_prefix(ACCOUNT_PREFIX)
}

pub fn transaction_sk(booked_at: &DateTime<Utc>, transaction_id: &str) -> String {
    format!("{TRANSACTION_PREFIX}{}#{transaction_id}", format_rfc3339(booked_at))
}

pub fn marker_sk(transaction_id: &str) -> String {
    format!("{MARKER_PREFIX}{transaction_id}")
}

/// Sort keys of the transactions booked in [from, to), as a Query's key condition:
/// `sk >= TXN#<from, to the second>` and `sk < TXN#<to, to the second>`. Truncating to the
/// second keeps every spelling of the fraction inside the range; the caller filters exactly.
pub fn transaction_range(from: DateTime<Utc>, to: DateTime<Utc>) -> (String, String) {
    let second = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let to_second = if to.timestamp_subsec_nanos() > 0 {
        to + chrono::Duration::seconds(1)
    } else {
        to
    };
    (
        format!("{TRANSACTION_PREFIX}{}", second(from)),
        format!("{TRANSACTION_PREFIX}{}", second(to_second)),
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn an_accounts_items_share_its_partition_and_sort_apart() {
        let booked = Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 0).unwrap();
        assert_eq!(account_pk("acc-1"), "ACCOUNT#acc-1");
        assert_eq!(account_id_of("ACCOUNT#acc-1"), Some("acc-1"));
        assert_eq!(account_id_of("TXNID#t-1"), None);
        assert_eq!(transaction_sk(&booked, "t-1"), "TXN#2026-11-20T10:15:00Z#t-1");
        assert_eq!(marker_sk("t-1"), "TXNID#t-1");
        let (from, to) = transaction_range(booked, booked + chrono::Duration::days(7));
        let txn = transaction_sk(&(booked + chrono::Duration::milliseconds(1)), "t-1");
        assert!(from.as_str() <= txn.as_str() && txn.as_str() < to.as_str());
        for outside in [marker_sk("t-1"), PROFILE_SK.to_string()] {
            assert!(
                !(from.as_str() <= outside.as_str() && outside.as_str() < to.as_str()),
                "{outside}"
            );
        }
    }
}
