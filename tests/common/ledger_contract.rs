//! What every `Ledger` must do, whatever holds the items: run against the in-memory ledger,
//! the embedded store and (in tests/emulators) DynamoDB Local, so the three cannot drift.

use chrono::{Duration, TimeZone, Utc};

use txn_notify::domain::AccountStatus;
use txn_notify::domain::Currency;
use txn_notify::ports::{AccountUpdate, AccountWrite, Ledger, TransactionQuery, TransactionWrite};

use super::{account, purchase};

pub async fn ledger_contract<L: Ledger>(ledger: &L) {
    let eur = Currency::from_code("EUR").unwrap();

    // Stored once, whatever a retry carries.
    let first = purchase("c-t1", "c-acc-1", 1250, eur);
    assert_eq!(
        ledger.put_transaction(&first, "fp-1").await.unwrap(),
        TransactionWrite::Stored
    );
    assert_eq!(
        ledger.put_transaction(&first, "fp-1").await.unwrap(),
        TransactionWrite::AlreadyStored {
            fingerprint: "fp-1".into()
        }
    );
    let mut later = first.clone();
    later.booked_at += Duration::seconds(3);
    assert_eq!(
        ledger.put_transaction(&later, "fp-2").await.unwrap(),
        TransactionWrite::AlreadyStored {
            fingerprint: "fp-1".into()
        }
    );

    // Accounts: created once; the existing one comes back.
    for id in ["c-acc-1", "c-acc-2", "c-acc-3", "c-acc-4", "c-acc-5"] {
        assert_eq!(
            ledger.put_account(&account(id, "FR", eur)).await.unwrap(),
            AccountWrite::Created
        );
    }
    match ledger.put_account(&account("c-acc-1", "BE", eur)).await.unwrap() {
        AccountWrite::AlreadyExists(existing) => assert_eq!(existing.country.as_str(), "FR"),
        other => panic!("{other:?}"),
    }

    // Profiles by batch; missing ones absent.
    let ids: Vec<String> = ["c-acc-2", "missing", "c-acc-4"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let batch = ledger.batch_get_accounts(&ids).await.unwrap();
    let mut found: Vec<&str> = batch.accounts.iter().map(|a| a.account_id.as_str()).collect();
    found.sort();
    assert_eq!(found, ["c-acc-2", "c-acc-4"]);

    // History: [from, to), newest first, in pages, never a marker.
    let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 10, d, h, 0, 0).unwrap();
    let times = [day(5, 23), day(6, 0), day(7, 12), day(10, 8), day(12, 23), day(13, 0)];
    for (i, at) in times.iter().enumerate() {
        let mut txn = purchase(&format!("c-q{i}"), "c-acc-5", 100, eur);
        txn.booked_at = *at;
        ledger.put_transaction(&txn, "fp").await.unwrap();
    }
    for newest_first in [true, false] {
        let mut listed = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let query = TransactionQuery {
                account_id: "c-acc-5",
                from: day(6, 0),
                to: day(13, 0),
                newest_first,
                limit: 2,
                after: after.as_deref(),
            };
            let page = ledger.query_transactions(&query).await.unwrap();
            assert!(page.transactions.len() <= 2);
            listed.extend(page.transactions.into_iter().map(|t| t.transaction_id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut expected = vec!["c-q1", "c-q2", "c-q3", "c-q4"];
        if newest_first {
            expected.reverse();
        }
        assert_eq!(listed, expected, "newest_first {newest_first}");
    }

    // Updates: only from the version stored; one of two racing updates wins.
    let profile = |ledger_id: &str| {
        let id = ledger_id.to_string();
        async move {
            let batch = ledger.batch_get_accounts(&[id]).await.unwrap();
            batch.accounts.into_iter().next().unwrap()
        }
    };
    let mut v2 = profile("c-acc-2").await;
    assert_eq!(v2.version, 1);
    v2.version = 2;
    v2.time_zone = Some("America/New_York".into());
    assert_eq!(ledger.update_account(&v2, 1).await.unwrap(), AccountUpdate::Updated);
    assert_eq!(profile("c-acc-2").await, v2);
    assert_eq!(
        ledger.get_account("c-acc-2").await.unwrap(),
        Some(v2.clone()),
        "read strongly"
    );
    assert_eq!(ledger.get_account("c-acc-none").await.unwrap(), None);
    let mut stale = v2.clone();
    stale.time_zone = Some("Asia/Tokyo".into());
    assert_eq!(
        ledger.update_account(&stale, 1).await.unwrap(),
        AccountUpdate::Stale { current: 2 }
    );
    assert_eq!(profile("c-acc-2").await, v2, "a stale update changes nothing");
    let mut unknown = v2.clone();
    unknown.account_id = "c-acc-none".into();
    assert_eq!(
        ledger.update_account(&unknown, 1).await.unwrap(),
        AccountUpdate::Missing
    );
    let (mut left, mut right) = (v2.clone(), v2.clone());
    left.version = 3;
    left.time_zone = Some("Europe/Lisbon".into());
    right.version = 3;
    right.time_zone = Some("Europe/Berlin".into());
    let (a, b) = tokio::join!(ledger.update_account(&left, 2), ledger.update_account(&right, 2));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(
        outcomes.iter().filter(|o| **o == AccountUpdate::Updated).count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&AccountUpdate::Stale { current: 3 }), "{outcomes:?}");
    let winner = if outcomes[0] == AccountUpdate::Updated {
        left
    } else {
        right
    };
    assert_eq!(profile("c-acc-2").await, winner);

    // The statement index: the accounts due in a zone, by Query, in pages, never a
    // transaction; an account without a zone (or with one that is not IANA's) is in Paris;
    // a change of zone moves it; a closed or unsubscribed account leaves it.
    let winner_zone = winner.time_zone.clone().unwrap();
    assert_eq!(
        zone_ids(ledger, "Europe/Paris").await,
        ["c-acc-1", "c-acc-3", "c-acc-4", "c-acc-5"]
    );
    assert_eq!(zone_ids(ledger, &winner_zone).await, ["c-acc-2"]);
    assert!(zone_ids(ledger, "America/New_York").await.is_empty(), "it moved on");
    assert!(zone_ids(ledger, "Pacific/Kiritimati").await.is_empty());
    let mut odd = account("c-acc-6", "FR", eur);
    odd.time_zone = Some("Mars/Olympus".into());
    ledger.put_account(&odd).await.unwrap();
    let mut closed = profile("c-acc-3").await;
    closed.status = AccountStatus::Closed;
    closed.version = 2;
    assert_eq!(ledger.update_account(&closed, 1).await.unwrap(), AccountUpdate::Updated);
    let mut unsubscribed = profile("c-acc-4").await;
    unsubscribed.preferences.statement_enabled = false;
    unsubscribed.version = 2;
    assert_eq!(
        ledger.update_account(&unsubscribed, 1).await.unwrap(),
        AccountUpdate::Updated
    );
    assert_eq!(
        zone_ids(ledger, "Europe/Paris").await,
        ["c-acc-1", "c-acc-5", "c-acc-6"]
    );
    let mut back = profile("c-acc-4").await;
    back.preferences.statement_enabled = true;
    back.version = 3;
    assert_eq!(ledger.update_account(&back, 2).await.unwrap(), AccountUpdate::Updated);
    assert_eq!(
        zone_ids(ledger, "Europe/Paris").await,
        ["c-acc-1", "c-acc-4", "c-acc-5", "c-acc-6"],
        "subscribed again, due again"
    );
}

/// Every id of a zone in the index, read two at a time.
async fn zone_ids<L: Ledger>(ledger: &L, zone: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ledger.accounts_in_zone(zone, after.as_deref(), 2).await.unwrap();
        assert!(page.account_ids.len() <= 2);
        ids.extend(page.account_ids);
        match page.next {
            Some(next) => after = Some(next),
            None => return ids,
        }
    }
}
