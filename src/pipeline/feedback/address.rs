//! Marking an account's address undeliverable after a permanent bounce or a complaint, only
//! while `email` is still the address SES reported.
//!
//! | the account now | result |
//! |---|---|
//! | no such account | `Missing`, nothing written |
//! | `email` is another address (the customer changed it in between) | `AddressChanged`, nothing written |
//! | already marked for that address | `AlreadyMarked`, nothing written (a redelivered or replayed report) |
//! | `email` is the address | `Marked`: `email_status` set, a new version (so that a PATCH made from the version before fails its If-Match and reads it) |
//!
//! The write is conditional on the version read, so a change of `email` that lands between
//! the read and the write makes it fail; the next round reads the new address and writes
//! nothing.

use chrono::{DateTime, Utc};

use crate::domain::account::same_address;
use crate::domain::{EmailStatus, UndeliverableReason};
use crate::ports::{AccountUpdate, Clock, Ledger, PortError};

use super::super::retry::{RetryPolicy, retry_transient};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressMark {
    Marked,
    AlreadyMarked,
    AddressChanged,
    Missing,
}

/// Rounds of read and conditional write before giving up for now (the report is retried).
const MAX_ROUNDS: u32 = 5;

pub async fn mark_undeliverable<L: Ledger, C: Clock>(
    ledger: &L,
    clock: &C,
    retry: &RetryPolicy,
    account_id: &str,
    address: &str,
    reason: UndeliverableReason,
    since: DateTime<Utc>,
) -> Result<AddressMark, PortError> {
    for _ in 0..MAX_ROUNDS {
        let Some(current) = retry_transient(clock, retry, || ledger.get_account(account_id)).await? else {
            return Ok(AddressMark::Missing);
        };
        if !same_address(current.email.expose(), address) {
            return Ok(AddressMark::AddressChanged);
        }
        if current
            .email_status
            .as_ref()
            .is_some_and(|status| status.marks(address))
        {
            return Ok(AddressMark::AlreadyMarked);
        }
        let mut next = current.clone();
        next.email_status = Some(EmailStatus::undeliverable(address, reason, since));
        next.version = current.version + 1;
        next.updated_at = Some(clock.now());
        match retry_transient(clock, retry, || ledger.update_account(&next, current.version)).await? {
            AccountUpdate::Updated => return Ok(AddressMark::Marked),
            AccountUpdate::Missing => return Ok(AddressMark::Missing),
            AccountUpdate::Stale { .. } => continue,
        }
    }
    Err(PortError::transient(
        "the account kept changing while its address was being marked",
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::clock::FrozenClock;
    use crate::domain::account::address_hash;
    use crate::domain::{Account, Pii};
    use crate::local::memory::MemoryLedger;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 18, 0, 0).unwrap()
    }

    fn account(email: &str) -> Account {
        let item = serde_json::json!({
            "pk": "ACCOUNT#acc-1", "sk": "PROFILE", "type": "ACCOUNT", "account_id": "acc-1",
            "holder": {"first_name": "Marie", "last_name": "Dupont"}, "email": email,
            "locale": "fr", "country": "FR", "currency": "EUR", "created_at": "2026-11-01T00:00:00Z",
            "preferences": {"email_enabled": true, "muted_categories": []}
        });
        let item: serde_dynamo::Item = serde_dynamo::to_item(item).unwrap();
        Account::decode(&item.into()).unwrap()
    }

    async fn mark(ledger: &MemoryLedger, address: &str) -> AddressMark {
        mark_undeliverable(
            ledger,
            &FrozenClock::at(at()),
            &RetryPolicy::default(),
            "acc-1",
            address,
            UndeliverableReason::Bounce,
            at(),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn only_the_address_that_bounced_is_marked_and_only_once() {
        let ledger = MemoryLedger::new();
        assert_eq!(mark(&ledger, "marie@example.com").await, AddressMark::Missing);
        ledger.put_account(&account("marie@example.com")).await.unwrap();
        assert_eq!(mark(&ledger, "other@example.com").await, AddressMark::AddressChanged);
        assert_eq!(
            mark(&ledger, "Marie@Example.com").await,
            AddressMark::Marked,
            "case is not a new address"
        );
        let marked = ledger.get_account("acc-1").await.unwrap().unwrap();
        assert_eq!(marked.version, 2);
        let status = marked.email_status.unwrap();
        assert_eq!(status.address_hash, address_hash("marie@example.com"));
        assert!(!status.address_hash.contains("marie"), "a digest, not the address");
        assert_eq!(mark(&ledger, "marie@example.com").await, AddressMark::AlreadyMarked);
        assert_eq!(ledger.get_account("acc-1").await.unwrap().unwrap().version, 2);
        // The customer moves to a new address: its own bounce marks it afresh.
        let mut moved = ledger.get_account("acc-1").await.unwrap().unwrap();
        moved.email = Pii("marie@new.example".into());
        moved.email_status = None;
        moved.version = 3;
        ledger.update_account(&moved, 2).await.unwrap();
        assert_eq!(mark(&ledger, "marie@example.com").await, AddressMark::AddressChanged);
        assert!(
            ledger
                .get_account("acc-1")
                .await
                .unwrap()
                .unwrap()
                .email_status
                .is_none()
        );
    }
}
