//! The embedded store: a durable ledger whose change stream has the shape of DynamoDB
//! Streams, and the same port semantics as the in-memory and DynamoDB ledgers.

mod common;

use std::sync::Arc;

use chrono::Duration;
use serde_json::Value;

use txn_notify::clock::FrozenClock;
use txn_notify::domain::Currency;
use txn_notify::domain::TransactionStatus;
use txn_notify::domain::keys::account_pk;
use txn_notify::local::embedded::store::EmbeddedStore;
use txn_notify::local::memory::MemoryBus;
use txn_notify::pipeline::{Processor, ProcessorConfig, StreamBatch};
use txn_notify::ports::{Clock, Ledger};
use txn_notify::rules::Rules;

use common::{account, now, purchase};

fn records(store: &EmbeddedStore<FrozenClock>) -> Vec<Value> {
    store
        .read_stream(0, 1000)
        .unwrap()
        .into_iter()
        .map(|e| e.record())
        .collect()
}

#[tokio::test]
async fn every_change_has_a_stream_record_shaped_like_dynamodb_streams() {
    let store = common::frozen_store("stream");
    let eur = Currency::from_code("EUR").unwrap();
    store.put_account(&account("acc-s", "FR", eur)).await.unwrap();
    let txn = purchase("t-s1", "acc-s", 1250, eur);
    store.put_transaction(&txn, "fp").await.unwrap();
    store.put_transaction(&txn, "fp").await.unwrap();
    assert!(!store.put_item(txn.to_item()).unwrap(), "a write that changes nothing");

    let mut reversed = txn.clone();
    reversed.status = TransactionStatus::Reversed;
    store.clock().advance(Duration::seconds(30));
    assert!(store.put_item(reversed.to_item()).unwrap());
    assert!(store.write_item(&account_pk("acc-s"), &txn.sort_key(), None).unwrap());

    let records = records(&store);
    let names: Vec<&str> = records.iter().map(|r| r["eventName"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["INSERT", "INSERT", "INSERT", "MODIFY", "REMOVE"],
        "profile, marker, transaction, reversal, delete"
    );
    let sequences: Vec<String> = records
        .iter()
        .map(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap().to_string())
        .collect();
    assert!(
        sequences.windows(2).all(|w| w[0].len() == w[1].len() && w[0] < w[1]),
        "{sequences:?}"
    );
    for record in &records {
        assert_eq!(record["eventSource"], "aws:dynamodb");
        assert_eq!(record["eventVersion"], "1.1");
        assert_eq!(record["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
        assert!(record["dynamodb"]["SizeBytes"].as_u64().unwrap() > 0);
        assert_eq!(record["dynamodb"]["Keys"]["pk"]["S"], "ACCOUNT#acc-s");
        assert!(record["eventSourceARN"].as_str().unwrap().contains("/stream/"));
    }
    assert!(records[0]["dynamodb"].get("OldImage").is_none());
    assert_eq!(records[3]["dynamodb"]["OldImage"]["status"]["S"], "approved");
    assert_eq!(records[3]["dynamodb"]["NewImage"]["status"]["S"], "reversed");
    assert_eq!(
        records[3]["dynamodb"]["ApproximateCreationDateTime"],
        (now() + Duration::seconds(30)).timestamp()
    );
    assert!(records[4]["dynamodb"].get("NewImage").is_none());

    // The processor reads them as it reads DynamoDB's.
    let event = serde_json::json!({ "Records": records[..4] });
    let processor = Processor::new(
        store,
        MemoryBus::new(),
        FrozenClock::at(now()),
        Arc::new(Rules::builtin()),
        ProcessorConfig::new("txn-notify"),
    );
    let outcome = processor
        .process_batch(StreamBatch::from_json(&event.to_string()).unwrap())
        .await;
    assert!(outcome.response.batch_item_failures.is_empty());
    assert_eq!(outcome.stats.records_rejected, 0);
    let types: Vec<&str> = outcome.stats.events_by_detail_type.keys().copied().collect();
    assert!(
        types.contains(&"Account Opened") && types.contains(&"Transaction Recorded"),
        "{types:?}"
    );
}

#[tokio::test]
async fn the_stream_keeps_a_record_24_hours_and_its_sequence_goes_on_after_a_trim() {
    let store = common::frozen_store("trim");
    let eur = Currency::from_code("EUR").unwrap();
    store.put_account(&account("acc-t", "FR", eur)).await.unwrap();
    store.clock().advance(Duration::hours(12));
    store
        .put_transaction(&purchase("t-t1", "acc-t", 100, eur), "fp")
        .await
        .unwrap();
    let sequences = |store: &EmbeddedStore<FrozenClock>| -> Vec<i64> {
        store.read_stream(0, 1000).unwrap().iter().map(|e| e.sequence).collect()
    };
    assert_eq!(sequences(&store), [1, 2, 3]);

    // 24 hours after the profile's record, less a second: nothing goes.
    store.clock().advance(Duration::hours(12) - Duration::seconds(1));
    assert_eq!(store.trim_stream(store.clock().now()).unwrap(), 0);
    // Past its 24 hours: the profile's record goes, the transaction's two stay.
    store.clock().advance(Duration::seconds(2));
    assert_eq!(store.trim_stream(store.clock().now()).unwrap(), 1);
    assert_eq!(sequences(&store), [2, 3]);

    // Days later every record is past its time, yet the newest stays: the next write's
    // record follows it, so a reader's position still points before new records.
    store.clock().advance(Duration::days(3));
    assert_eq!(store.trim_stream(store.clock().now()).unwrap(), 1);
    assert_eq!(sequences(&store), [3]);
    store
        .put_transaction(&purchase("t-t2", "acc-t", 200, eur), "fp")
        .await
        .unwrap();
    assert_eq!(sequences(&store), [3, 4, 5]);
    assert_eq!(store.stream_head().unwrap(), 5);
}

#[tokio::test]
async fn a_day_of_records_is_trimmed_whole_however_many_there_are() {
    let store = common::frozen_store("trim-many");
    let eur = Currency::from_code("EUR").unwrap();
    store.put_account(&account("acc-m", "FR", eur)).await.unwrap();
    // More records than one statement of the trim removes (10,000), and then some.
    let group = store.group();
    for n in 0..23_456 {
        store
            .put_transaction(&purchase(&format!("t-m{n}"), "acc-m", 100, eur), "fp")
            .await
            .unwrap();
    }
    group.commit().unwrap();
    let head = store.stream_head().unwrap();
    assert_eq!(head, 1 + 2 * 23_456);
    store.clock().advance(Duration::hours(25));
    // Every record but the newest, which keeps the sequence going.
    assert_eq!(store.trim_stream(store.clock().now()).unwrap(), head as usize - 1);
    let left: Vec<i64> = store.read_stream(0, 10).unwrap().iter().map(|e| e.sequence).collect();
    assert_eq!(left, [head]);
    assert_eq!(store.trim_stream(store.clock().now()).unwrap(), 0);
}

#[tokio::test]
async fn a_store_whose_texts_were_written_uncompressed_reads_and_takes_writes() {
    use txn_notify::ports::AuditLog;
    let dir = common::temp_dir("uncompressed");
    std::fs::create_dir_all(&dir).unwrap();
    let eur = Currency::from_code("EUR").unwrap();
    let profile = account("acc-old", "FR", eur);
    let txn = purchase("t-old", "acc-old", 900, eur);
    {
        // The tables as the store wrote them before compression: JSON text, the detail type
        // and the zone only inside it, and the zone index reading the item.
        let db = rusqlite::Connection::open(dir.join("txn-notify.db")).unwrap();
        db.execute_batch(
            "CREATE TABLE ledger (pk TEXT NOT NULL, sk TEXT NOT NULL, item TEXT NOT NULL, PRIMARY KEY (pk, sk)) WITHOUT ROWID;
             CREATE INDEX ledger_by_statement_zone ON ledger (json_extract(item, '$.statement_zone.S'), pk) WHERE sk = 'PROFILE';
             CREATE TABLE audit (event_id TEXT PRIMARY KEY, account_id TEXT, record TEXT NOT NULL);
             CREATE TABLE archive (sequence INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, event TEXT NOT NULL);",
        )
        .unwrap();
        for item in [profile.to_item(), txn.to_item()] {
            let text = serde_json::to_string(&item).unwrap();
            let key = |name: &str| match item.get(name) {
                Some(serde_dynamo::AttributeValue::S(value)) => value.clone(),
                _ => panic!("{name} is a string"),
            };
            db.execute(
                "INSERT INTO ledger (pk, sk, item) VALUES (?1, ?2, ?3)",
                rusqlite::params![key("pk"), key("sk"), text],
            )
            .unwrap();
        }
        db.execute(
            "INSERT INTO audit VALUES ('e-old', 'acc-old', '{\"event_id\":\"e-old\",\"detail_type\":\"Transaction Recorded\"}')",
            [],
        )
        .unwrap();
        db.execute(
            "INSERT INTO archive VALUES (1, 0, '{\"detail-type\":\"Transaction Recorded\"}')",
            [],
        )
        .unwrap();
    }

    let store = EmbeddedStore::open(&dir, txn_notify::clock::FrozenClock::at(now())).unwrap();
    assert_eq!(store.get_account("acc-old").await.unwrap(), Some(profile.clone()));
    let zone = profile.statement_zone().unwrap().name();
    let page = store.accounts_in_zone(zone, None, 10).await.unwrap();
    assert_eq!(page.account_ids, ["acc-old"]);
    assert_eq!(
        store.audited_events().unwrap(),
        [("e-old".to_string(), "Transaction Recorded".to_string())]
    );
    assert_eq!(
        store.archived_events(now() - Duration::days(1), now()).unwrap().len(),
        0
    );
    let query = txn_notify::ports::TransactionQuery {
        account_id: "acc-old",
        from: txn.booked_at - Duration::days(1),
        to: txn.booked_at + Duration::days(1),
        newest_first: false,
        limit: 10,
        after: None,
    };
    let page = store.query_transactions(&query).await.unwrap();
    assert_eq!((page.transactions.len(), page.undecodable), (1, 0));

    // New writes beside the old rows: a change of the profile (the zone index follows it),
    // a second transaction, an audit record, a notification.
    let mut moved = profile.clone();
    moved.time_zone = Some("America/New_York".into());
    moved.version = 2;
    store.put_item(moved.to_item()).unwrap();
    assert!(
        store
            .accounts_in_zone(zone, None, 10)
            .await
            .unwrap()
            .account_ids
            .is_empty()
    );
    assert_eq!(
        store
            .accounts_in_zone("America/New_York", None, 10)
            .await
            .unwrap()
            .account_ids,
        ["acc-old"]
    );
    store
        .put_transaction(&purchase("t-new", "acc-old", 100, eur), "fp")
        .await
        .unwrap();
    let page = store.query_transactions(&query).await.unwrap();
    assert_eq!((page.transactions.len(), page.undecodable), (2, 0));
    let record = txn_notify::domain::AuditRecord {
        event_id: "e-new".into(),
        account_id: Some("acc-old".into()),
        occurred_at: Some(now()),
        detail_type: "Low Balance".into(),
        source: "txn-notify".into(),
        detail: serde_json::json!({"account_id": "acc-old"}),
        replay_name: None,
        received_at: now(),
        expires_at: 0,
    };
    store.put_if_absent(&record).await.unwrap();
    assert_eq!(store.audited_events().unwrap().len(), 2);
    assert_eq!(store.audit_records().unwrap()[0]["detail_type"], "Low Balance");
}

#[tokio::test]
async fn what_was_written_is_there_after_a_reopen() {
    let dir = common::temp_dir("reopen");
    let eur = Currency::from_code("EUR").unwrap();
    {
        let store = EmbeddedStore::open(&dir, FrozenClock::at(now())).unwrap();
        store.put_account(&account("acc-r", "FR", eur)).await.unwrap();
        store.set_checkpoint("processor", "2").unwrap();
        store.set_checkpoint("processor", "3").unwrap();
    }
    let store = EmbeddedStore::open(&dir, FrozenClock::at(now())).unwrap();
    assert_eq!(store.item_count().unwrap(), 1);
    assert_eq!(store.stream_head().unwrap(), 1);
    assert_eq!(store.checkpoint("processor").unwrap().as_deref(), Some("3"));
    assert_eq!(store.checkpoint("notifier").unwrap(), None);
    let batch = store.batch_get_accounts(&["acc-r".to_string()]).await.unwrap();
    assert_eq!(batch.accounts.len(), 1);
    store.put_account(&account("acc-r2", "FR", eur)).await.unwrap();
    assert_eq!(
        store.read_stream(1, 10).unwrap().len(),
        1,
        "the stream goes on after a reopen"
    );
}

/// A group commit holds its writes until it ends: a process that dies first (the group
/// forgotten, the store closed without a commit) leaves none of them; what `commit_pending`
/// committed, as the API does before it answers, stays.
#[tokio::test]
async fn a_group_commits_its_writes_together_and_a_crash_before_takes_them_all_back() {
    let dir = common::temp_dir("group");
    let eur = Currency::from_code("EUR").unwrap();
    {
        let store = EmbeddedStore::open(&dir, FrozenClock::at(now())).unwrap();
        let group = store.group();
        store.put_account(&account("acc-g1", "FR", eur)).await.unwrap();
        store.set_checkpoint("processor", "1").unwrap();
        assert_eq!(store.item_count().unwrap(), 1, "the group reads its own writes");
        group.commit().unwrap();

        let group = store.group();
        store.put_account(&account("acc-g2", "FR", eur)).await.unwrap();
        store.commit_pending().unwrap();
        store.put_account(&account("acc-g3", "FR", eur)).await.unwrap();
        store.set_checkpoint("processor", "3").unwrap();
        // The process dies here: the group never ends.
        std::mem::forget(group);
    }
    let store = EmbeddedStore::open(&dir, FrozenClock::at(now())).unwrap();
    let ids = ["acc-g1", "acc-g2", "acc-g3"].map(String::from);
    let kept: Vec<String> = store
        .batch_get_accounts(&ids)
        .await
        .unwrap()
        .accounts
        .into_iter()
        .map(|a| a.account_id)
        .collect();
    assert_eq!(kept, ["acc-g1", "acc-g2"]);
    assert_eq!(store.checkpoint("processor").unwrap().as_deref(), Some("1"));
    assert_eq!(store.stream_head().unwrap(), 2, "no stream record without its item");
}

/// Outside a group every write commits on its own; groups nest, and the outermost commits.
#[tokio::test]
async fn writes_outside_a_group_commit_at_once_and_nested_groups_commit_with_the_outermost() {
    let dir = common::temp_dir("nested");
    {
        let store = EmbeddedStore::open(&dir, FrozenClock::at(now())).unwrap();
        store.set_checkpoint("alone", "1").unwrap();
        let outer = store.group();
        let inner = store.group();
        store.set_checkpoint("inner", "1").unwrap();
        inner.commit().unwrap();
        store.set_checkpoint("outer", "1").unwrap();
        std::mem::forget(outer);
    }
    let store = EmbeddedStore::open(&dir, FrozenClock::at(now())).unwrap();
    assert_eq!(store.checkpoint("alone").unwrap().as_deref(), Some("1"));
    assert_eq!(
        store.checkpoint("inner").unwrap(),
        None,
        "the inner group waits for the outer"
    );
    assert_eq!(store.checkpoint("outer").unwrap(), None);
}

/// Profiles are kept decoded between reads; whatever writes a profile (the port, a raw
/// put, a delete, a write of older bytes back), the next read gives what is stored now.
#[tokio::test]
async fn a_profile_read_again_is_the_one_stored_now_whatever_wrote_it() {
    let store = common::frozen_store("profiles");
    let eur = Currency::from_code("EUR").unwrap();
    let ids = ["acc-p".to_string()];
    let emails = |batch: txn_notify::ports::AccountBatch| -> Vec<String> {
        batch.accounts.iter().map(|a| a.email.expose().to_string()).collect()
    };
    let first = account("acc-p", "FR", eur);
    store.put_account(&first).await.unwrap();
    assert_eq!(
        emails(store.batch_get_accounts(&ids).await.unwrap()),
        ["acc-p@example.com"]
    );
    let first_item = store.get_item(&account_pk("acc-p"), "PROFILE").unwrap().unwrap();

    let mut second = first.clone();
    second.email = txn_notify::domain::Pii("second@example.com".into());
    second.version = first.version + 1;
    store.update_account(&second, first.version).await.unwrap();
    assert_eq!(
        emails(store.batch_get_accounts(&ids).await.unwrap()),
        ["second@example.com"]
    );

    let mut third = second.to_item();
    third.insert(
        "email".into(),
        serde_dynamo::AttributeValue::S("third@example.com".into()),
    );
    store.put_item(third.clone()).unwrap();
    assert_eq!(
        emails(store.batch_get_accounts(&ids).await.unwrap()),
        ["third@example.com"]
    );

    store.put_item(first_item).unwrap();
    assert_eq!(
        emails(store.batch_get_accounts(&ids).await.unwrap()),
        ["acc-p@example.com"]
    );

    let mut not_an_account = third;
    not_an_account.insert("type".into(), serde_dynamo::AttributeValue::S("OTHER".into()));
    store.put_item(not_an_account).unwrap();
    assert!(store.batch_get_accounts(&ids).await.unwrap().accounts.is_empty());

    store.write_item(&account_pk("acc-p"), "PROFILE", None).unwrap();
    assert!(store.batch_get_accounts(&ids).await.unwrap().accounts.is_empty());
    store.put_account(&second).await.unwrap();
    assert_eq!(
        emails(store.batch_get_accounts(&ids).await.unwrap()),
        ["second@example.com"]
    );
}

/// A store written before kept its notifications keyed by their key (`WITHOUT ROWID`),
/// some without the emails column: opened now, its rows move to the table in written order,
/// and they read, page, take delivery reports and new writes as before.
#[tokio::test]
async fn notifications_a_store_kept_by_key_move_to_the_written_order_table_and_read_as_before() {
    use txn_notify::domain::DeliveryState;
    use txn_notify::ports::{DeliveryUpdate, NotificationLog};

    let store = common::frozen_store("notifications-by-key");
    let first = common::notification_contract::sent("ev-1", "acc-k", now(), "ses-1");
    let second = common::notification_contract::sent("ev-2", "acc-k", now() + Duration::seconds(1), "ses-2");
    store.record_notification(&first).await.unwrap();
    store.record_notification(&second).await.unwrap();
    let path = store.path().to_path_buf();
    drop(store);
    // The layout of the stores written before: keyed by the key, the emails in the record.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "CREATE TABLE keyed (key TEXT PRIMARY KEY, account_id TEXT NOT NULL, occurred_at TEXT NOT NULL,
             decision TEXT NOT NULL, record BLOB NOT NULL) WITHOUT ROWID;
         INSERT INTO keyed SELECT key, account_id, occurred_at, decision, record FROM notifications;
         DROP TABLE notifications;
         ALTER TABLE keyed RENAME TO notifications;
         CREATE INDEX notifications_by_account ON notifications (account_id, occurred_at, key);",
    )
    .unwrap();
    for notification in [&first, &second] {
        db.execute(
            "UPDATE notifications SET record = ?2 WHERE key LIKE '%' || ?1",
            rusqlite::params![notification.event_id, serde_json::to_string(notification).unwrap()],
        )
        .unwrap();
    }
    drop(db);

    let store = EmbeddedStore::open(path.parent().unwrap(), FrozenClock::at(now())).unwrap();
    drop(store);
    let db = rusqlite::Connection::open(&path).unwrap();
    let layout: Vec<String> = db
        .prepare(
            "SELECT sql FROM sqlite_schema WHERE tbl_name = 'notifications' AND sql IS NOT NULL ORDER BY type DESC",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    drop(db);
    assert_eq!(layout.len(), 2, "{layout:?}");
    assert!(
        !layout[0].contains("WITHOUT ROWID") && layout[0].contains("emails"),
        "{layout:?}"
    );
    assert!(layout[1].contains("notifications_by_account"), "{layout:?}");

    // Opened again: nothing left to move, and every row as it was.
    let store = EmbeddedStore::open(path.parent().unwrap(), FrozenClock::at(now())).unwrap();
    for notification in [&first, &second] {
        assert_eq!(
            store.notification(&notification.event_id).unwrap().as_ref(),
            Some(notification)
        );
    }
    let history = common::notification_contract::history(&store, "acc-k", 1).await;
    assert_eq!(
        history.iter().map(|n| n.event_id.as_str()).collect::<Vec<_>>(),
        ["ev-2", "ev-1"]
    );
    let later = now() + Duration::seconds(30);
    assert_eq!(
        store
            .record_delivery("ev-2", "ses-2", DeliveryState::Delivered, later)
            .await
            .unwrap(),
        DeliveryUpdate::Moved {
            from: DeliveryState::Sent
        }
    );
    // A notification written again is the same row (the key stays unique).
    let third = common::notification_contract::sent("ev-3", "acc-k", now() + Duration::seconds(2), "ses-3");
    store.record_notification(&third).await.unwrap();
    store.record_notification(&first).await.unwrap();
    let history = common::notification_contract::history(&store, "acc-k", 2).await;
    assert_eq!(
        history.iter().map(|n| n.event_id.as_str()).collect::<Vec<_>>(),
        ["ev-3", "ev-2", "ev-1"]
    );
    assert_eq!(history[1].emails[0].delivery_state, DeliveryState::Delivered);
}

#[tokio::test]
async fn a_notification_keeps_its_emails_once_and_a_record_written_before_still_moves() {
    use txn_notify::domain::DeliveryState;
    use txn_notify::ports::{DeliveryUpdate, NotificationLog};

    let store = common::frozen_store("emails-apart");
    let fresh = common::notification_contract::sent("ev-new", "acc-e", now(), "ses-new");
    let old = common::notification_contract::sent("ev-old", "acc-e", now(), "ses-old");
    store.record_notification(&fresh).await.unwrap();
    store.record_notification(&old).await.unwrap();
    let path = store.path().to_path_buf();
    drop(store);
    // `ev-old` as a store written before kept it: the whole record as JSON text, emails
    // inside, no emails column of its own.
    let db = rusqlite::Connection::open(&path).unwrap();
    let old_key: String = db
        .query_row("SELECT key FROM notifications WHERE key LIKE '%ev-old%'", [], |r| {
            r.get(0)
        })
        .unwrap();
    db.execute(
        "UPDATE notifications SET record = ?2, emails = NULL WHERE key = ?1",
        rusqlite::params![old_key, serde_json::to_string(&old).unwrap()],
    )
    .unwrap();
    // The new one keeps its emails in a column of their own (what it holds: the store's
    // unit tests read it).
    let apart: bool = db
        .query_row(
            "SELECT emails IS NOT NULL FROM notifications WHERE key NOT LIKE '%ev-old%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(db);
    assert!(apart);
    let store = EmbeddedStore::open(path.parent().unwrap(), FrozenClock::at(now())).unwrap();

    for notification in [&fresh, &old] {
        assert_eq!(
            store.notification(&notification.event_id).unwrap().as_ref(),
            Some(notification)
        );
    }
    let later = now() + Duration::seconds(30);
    for (event, message) in [("ev-new", "ses-new"), ("ev-old", "ses-old")] {
        assert_eq!(
            store
                .record_delivery(event, message, DeliveryState::Delivered, later)
                .await
                .unwrap(),
            DeliveryUpdate::Moved {
                from: DeliveryState::Sent
            }
        );
        // A late report of an earlier state changes nothing, as on every adapter.
        assert_eq!(
            store
                .record_delivery(event, message, DeliveryState::Sent, later)
                .await
                .unwrap(),
            DeliveryUpdate::Unchanged {
                current: DeliveryState::Delivered
            }
        );
        let moved = store.notification(event).unwrap().unwrap();
        assert_eq!(moved.emails[0].delivery_state, DeliveryState::Delivered);
        assert_eq!(moved.emails[0].delivery_state_at, later);
        assert_eq!(
            store
                .record_delivery(event, "ses-other", DeliveryState::Bounced, later)
                .await
                .unwrap(),
            DeliveryUpdate::UnknownEmail
        );
    }
    assert_eq!(store.delivery_state_counts().unwrap().get("delivered"), Some(&2));
    let history = common::notification_contract::history(&store, "acc-e", 1).await;
    assert_eq!(history.len(), 2);
    assert!(
        history
            .iter()
            .all(|n| n.emails[0].delivery_state == DeliveryState::Delivered)
    );
}
