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
use txn_notify::ports::Ledger;
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
