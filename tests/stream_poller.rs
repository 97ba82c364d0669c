//! The stream poller keeps the event source mapping's promises: batches and windows,
//! checkpoints at the lowest failure, bisection, finite retries, maximum record age, the
//! on-failure folder, and a checkpoint that survives a restart.

mod common;

use std::sync::Mutex;

use serde_json::value::RawValue;
use serde_json::{Value, json};

use txn_notify::clock::FrozenClock;
use txn_notify::domain::Currency;
use txn_notify::local::embedded::store::EmbeddedStore;
use txn_notify::local::embedded::{PollerConfig, StreamPoller};

use common::{now, purchase};

/// A store holding `n` transaction inserts, and a config writing to a folder of its own.
fn store_with(name: &str, n: usize) -> (EmbeddedStore<FrozenClock>, PollerConfig) {
    let dir = common::temp_dir(name);
    let store = EmbeddedStore::open(&dir, FrozenClock::at(now())).unwrap();
    let eur = Currency::from_code("EUR").unwrap();
    for i in 0..n {
        store
            .put_item(purchase(&format!("t{i:04}"), "acc-1", 100, eur).to_item())
            .unwrap();
    }
    let mut config = PollerConfig::of_template(dir.join("on-failure"));
    config.max_retry_attempts = 2;
    (store, config)
}

fn ids(event: &str) -> Vec<String> {
    let event: Value = serde_json::from_str(event).unwrap();
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["dynamodb"]["NewImage"]["transaction_id"]["S"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn sequence_of(event: &str, transaction_id: &str) -> String {
    let event: Value = serde_json::from_str(event).unwrap();
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["dynamodb"]["NewImage"]["transaction_id"]["S"] == transaction_id)
        .map(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap().to_string())
        .unwrap()
}

fn ok() -> Result<Value, String> {
    Ok(json!({ "batchItemFailures": [] }))
}

#[tokio::test]
async fn full_batches_go_at_once_and_a_partial_one_after_its_window() {
    let (store, config) = store_with("window", 250);
    let mut poller = StreamPoller::new(&store, config);
    let sizes = Mutex::new(Vec::new());
    for _ in 0..3 {
        poller
            .step(false, |event| {
                sizes.lock().unwrap().push(ids(&event).len());
                async { ok() }
            })
            .await
            .unwrap();
    }
    assert_eq!(*sizes.lock().unwrap(), [100, 100], "the last 50 wait for the window");
    assert_eq!(poller.lag().unwrap(), 50);
    store.clock().advance(chrono::Duration::seconds(1));
    poller
        .step(false, |event| {
            sizes.lock().unwrap().push(ids(&event).len());
            async { ok() }
        })
        .await
        .unwrap();
    assert_eq!(*sizes.lock().unwrap(), [100, 100, 50]);
    assert_eq!(poller.lag().unwrap(), 0);
}

#[tokio::test]
async fn a_reported_failure_brings_back_that_record_and_the_rest_only() {
    let (store, config) = store_with("partial", 10);
    let mut poller = StreamPoller::new(&store, config);
    let seen = Mutex::new(Vec::new());
    let step = poller
        .step(true, |event| {
            seen.lock().unwrap().push(ids(&event));
            let failed = sequence_of(&event, "t0004");
            async move { Ok::<_, String>(json!({ "batchItemFailures": [{ "itemIdentifier": failed }] })) }
        })
        .await
        .unwrap();
    assert_eq!((step.acknowledged, step.retried), (4, 6));
    poller
        .step(true, |event| {
            seen.lock().unwrap().push(ids(&event));
            async { ok() }
        })
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen[1].first().map(String::as_str), Some("t0004"));
    assert_eq!(seen[1].len(), 6);
    assert_eq!(poller.lag().unwrap(), 0);
}

#[tokio::test]
async fn a_poison_record_is_isolated_by_bisection_and_given_up_after_its_retries() {
    let (store, config) = store_with("bisect", 10);
    let folder = config.on_failure_dir.clone();
    let mut poller = StreamPoller::new(&store, config);
    let succeeded = Mutex::new(Vec::new());
    let mut invocations = 0;
    while poller.lag().unwrap() > 0 {
        invocations += 1;
        assert!(invocations < 50, "the poller must get past the poison record");
        poller
            .step(true, |event| {
                let batch = ids(&event);
                let reply = if batch.iter().any(|id| id == "t0005") {
                    Err("the handler fails on t0005".to_string())
                } else {
                    succeeded.lock().unwrap().extend(batch);
                    ok()
                };
                async { reply }
            })
            .await
            .unwrap();
    }
    let mut succeeded = succeeded.lock().unwrap().clone();
    succeeded.sort();
    let expected: Vec<String> = (0..10).filter(|i| *i != 5).map(|i| format!("t{i:04}")).collect();
    assert_eq!(succeeded, expected, "every other record exactly once");
    assert!(poller.stats.bisections >= 3, "{:?}", poller.stats);
    let files: Vec<_> = std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    let record: Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(record["requestContext"]["condition"], "RetryAttemptsExhausted");
    assert_eq!(record["DDBStreamBatchInfo"]["batchSize"], 1);
    let payload: Box<RawValue> = serde_json::from_str(record["payload"].as_str().unwrap()).unwrap();
    assert_eq!(ids(payload.get()), ["t0005"]);
}

#[tokio::test]
async fn records_past_their_maximum_age_are_given_up_without_an_invocation() {
    let (store, config) = store_with("age", 3);
    let folder = config.on_failure_dir.clone();
    let mut poller = StreamPoller::new(&store, config);
    store.clock().advance(chrono::Duration::hours(2));
    let step = poller
        .step(true, |_| async {
            panic!("records past their age are not handed over") as Result<Value, String>
        })
        .await
        .unwrap();
    assert_eq!((step.invoked, step.discarded), (0, 3));
    let file = std::fs::read_dir(&folder).unwrap().next().unwrap().unwrap().path();
    let record: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(record["requestContext"]["condition"], "RecordAgeExceeded");
    assert_eq!(poller.lag().unwrap(), 0);
}

#[tokio::test]
async fn a_restarted_poller_goes_on_from_the_saved_checkpoint() {
    let (store, mut config) = store_with("restart", 30);
    config.batch_size = 10;
    {
        let mut poller = StreamPoller::new(&store, config.clone());
        poller.step(true, |_| async { ok() }).await.unwrap();
        // The next batch fails: it must come again after the restart.
        poller.step(true, |_| async { Err("down".to_string()) }).await.unwrap();
    }
    let mut poller = StreamPoller::new(&store, config);
    assert_eq!(poller.lag().unwrap(), 20);
    let first = Mutex::new(None);
    poller
        .step(true, |event| {
            *first.lock().unwrap() = ids(&event).first().cloned();
            async { ok() }
        })
        .await
        .unwrap();
    assert_eq!(first.lock().unwrap().as_deref(), Some("t0010"));
}
