//! Weekly statements at scale on the Lambda path's stand-ins: the ledger on DynamoDB Local
//! (the template's table, its sparse `accounts-by-zone` index included), DigestQueue and the
//! bus on moto. 10,000 accounts in five zones and 100,000 transactions; the planner's run of
//! Paris's Monday 06:00 and the workers on every page it queued. The read units DynamoDB
//! reports (ReturnConsumedCapacity) follow the accounts due and their week's transactions:
//! 20,000 more transactions outside that week change nothing, to the unit. Every due
//! account gets exactly one statement.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use txn_notify::aws::dynamodb::DynamoLedger;
use txn_notify::aws::dynamodb::item::to_sdk;
use txn_notify::aws::eventbridge::EventBridgeBus;
use txn_notify::aws::sqs::SqsQueue;
use txn_notify::clock::SystemClock;
use txn_notify::domain::{Account, AccountStatus, Currency};
use txn_notify::pipeline::digest::{PageReport, RunHour};
use txn_notify::pipeline::{DigestPlanner, DigestWorker, PlanRequest, PlannerConfig, WorkerConfig};
use txn_notify::ports::{BusEntry, EntryResult, EventBus, PortError};
use txn_notify::rules::Rules;

use crate::common::{account, purchase};
use crate::support::{create_table, dynamodb, moto, queue, unique};

const ACCOUNTS: usize = 10_000;
const ZONES: [&str; 5] = [
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "Asia/Tokyo",
    "Asia/Kolkata",
];
/// Paris's Monday 06:00 on 30 November 2026 (UTC+1).
const PARIS_RUN: &str = "2026-11-30T05:00:00Z";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn zone_of(n: usize) -> &'static str {
    // Four in ten in Paris, then London, New York, Tokyo, Kolkata.
    match n % 10 {
        0..=3 => ZONES[0],
        4 | 5 => ZONES[1],
        6 | 7 => ZONES[2],
        8 => ZONES[3],
        _ => ZONES[4],
    }
}

fn the_account(n: usize) -> Account {
    let mut a = account(&format!("acc-{n:05}"), "FR", Currency::EUR);
    a.time_zone = Some(zone_of(n).to_string());
    if n % 50 == 0 {
        a.status = AccountStatus::Closed;
    }
    if n % 50 == 10 {
        a.preferences.statement_enabled = false;
    }
    a
}

/// Whether account n had transactions in the week of 23 November (its zone's).
fn active_that_week(n: usize) -> bool {
    n % 3 != 0
}

/// Writes items with BatchWriteItem, 25 a call, eight calls at a time, until none is left
/// unprocessed.
async fn load(client: &aws_sdk_dynamodb::Client, table: &str, items: Vec<serde_dynamo::Item>) {
    let mut calls = tokio::task::JoinSet::new();
    let chunks: Vec<Vec<serde_dynamo::Item>> = items.chunks(25).map(<[_]>::to_vec).collect();
    for chunk in chunks {
        while calls.len() >= 8 {
            calls.join_next().await.unwrap().unwrap();
        }
        let client = client.clone();
        let table = table.to_string();
        calls.spawn(async move {
            let mut requests: Vec<WriteRequest> = chunk
                .into_iter()
                .map(|item| {
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(to_sdk(item))).build().unwrap())
                        .build()
                })
                .collect();
            let mut timeouts = 0;
            while !requests.is_empty() {
                let sent = client
                    .batch_write_item()
                    .request_items(&table, requests.clone())
                    .send()
                    .await;
                // DynamoDB Local shares its one SQLite file with the other tests running at the
                // same time: a put that times out is sent again (a put is idempotent).
                let output = match sent {
                    Err(aws_sdk_dynamodb::error::SdkError::TimeoutError(_)) if timeouts < 5 => {
                        timeouts += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(500 * timeouts)).await;
                        continue;
                    }
                    sent => sent.unwrap(),
                };
                requests = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&table))
                    .unwrap_or_default();
            }
        });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap();
    }
}

/// Ten transactions an account: two in the week of 23 November for the active ones, the
/// others in the weeks before.
fn transactions() -> Vec<serde_dynamo::Item> {
    let mut items = Vec::new();
    for n in 0..ACCOUNTS {
        let id = format!("acc-{n:05}");
        for k in 0..10 {
            let mut txn = purchase(&format!("{id}-t{k}"), &id, 100 + k as i64, Currency::EUR);
            txn.booked_at = if active_that_week(n) && k < 2 {
                // Wednesday 25 November, midday UTC: inside the week in every zone.
                at("2026-11-25T12:00:00Z") + Duration::minutes(k as i64 * 7)
            } else {
                at("2026-10-01T09:00:00Z") + Duration::hours((k as i64) * 53 + (n % 40) as i64)
            };
            items.push(txn.to_item());
        }
    }
    items
}

struct Run {
    accounts_planned: u64,
    planner_units: f64,
    worker_units: f64,
    pages: PageReport,
    /// Weekly Statements that reached the bus, by account.
    statements: BTreeMap<String, Vec<String>>,
}

/// The EventBridge adapter on moto, keeping each entry moto accepted: what reached the bus.
/// (A rule to a queue would say the same through moto's SQS, whose every call walks the
/// whole queue: thousands of statements take it minutes.)
struct Accepted<B> {
    bus: B,
    entries: std::sync::Mutex<Vec<BusEntry>>,
}

impl<B> Accepted<B> {
    fn new(bus: B) -> Self {
        Accepted {
            bus,
            entries: Default::default(),
        }
    }

    fn entries(&self) -> Vec<BusEntry> {
        self.entries.lock().unwrap().clone()
    }
}

impl<B: EventBus> EventBus for Accepted<B> {
    async fn put_events(&self, entries: &[&BusEntry]) -> Result<Vec<EntryResult>, PortError> {
        let results = self.bus.put_events(entries).await?;
        let mut kept = self.entries.lock().unwrap();
        for (entry, result) in entries.iter().zip(&results) {
            if matches!(result, EntryResult::Accepted { .. }) {
                kept.push((*entry).clone());
            }
        }
        Ok(results)
    }
}

/// DeleteMessageBatch of what was received (at most ten).
async fn delete_all(sqs: &aws_sdk_sqs::Client, url: &str, messages: &[aws_sdk_sqs::types::Message]) {
    let entries: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(n, m)| {
            aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                .id(n.to_string())
                .receipt_handle(m.receipt_handle().unwrap())
                .build()
                .unwrap()
        })
        .collect();
    let output = sqs
        .delete_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    assert!(output.failed.is_empty(), "{:?}", output.failed);
}

/// The planner's run of PARIS_RUN into a moto queue, then the workers on every page until
/// the queue is empty; the statements are those moto accepted on the bus.
async fn paris_monday(dynamo: &aws_sdk_dynamodb::Client, table: &str) -> Run {
    let config = moto().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let events = aws_sdk_eventbridge::Client::new(&config);
    let bus = unique("statements-bus");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let digest_queue = queue(&sqs, "DigestQueue").await;
    sqs.set_queue_attributes()
        .queue_url(&digest_queue.url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, "720")
        .send()
        .await
        .unwrap();

    let planner_ledger = DynamoLedger::new(dynamo.clone(), table);
    let planner = DigestPlanner::new(
        planner_ledger.clone(),
        SqsQueue::new(sqs.clone(), &digest_queue.url),
        SystemClock,
        PlannerConfig::default(),
    );
    let plan = planner
        .run(&PlanRequest {
            hour: RunHour::containing(at(PARIS_RUN)),
        })
        .await;
    assert!(plan.complete(), "{plan:?}");

    let worker_ledger = DynamoLedger::new(dynamo.clone(), table);
    let bus_adapter = Arc::new(Accepted::new(EventBridgeBus::new(events.clone())));
    let worker = Arc::new(DigestWorker::new(
        worker_ledger.clone(),
        Arc::clone(&bus_adapter),
        SystemClock,
        Arc::new(Rules::builtin()),
        WorkerConfig::new(&bus),
    ));
    // Five workers at once, batches of five pages, as template.yaml's event source runs them.
    let mut pages = PageReport::default();
    let mut workers = tokio::task::JoinSet::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&digest_queue.url)
            .max_number_of_messages(5)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            if workers.is_empty() {
                break;
            }
            pages.add(&workers.join_next().await.unwrap().unwrap());
            continue;
        }
        while workers.len() >= 5 {
            pages.add(&workers.join_next().await.unwrap().unwrap());
        }
        let event = json!({"Records": messages.iter().map(|m| json!({
            "messageId": m.message_id(),
            "receiptHandle": m.receipt_handle(),
            "body": m.body(),
            "attributes": {"ApproximateReceiveCount": "1"},
            "eventSource": "aws:sqs",
            "eventSourceARN": digest_queue.arn,
            "awsRegion": "eu-west-1",
        })).collect::<Vec<_>>()});
        let (worker, sqs, url) = (Arc::clone(&worker), sqs.clone(), digest_queue.url.clone());
        workers.spawn(async move {
            let batch = worker.handle_batch(event).await.unwrap();
            assert!(batch.response.batch_item_failures.is_empty(), "{:?}", batch.totals);
            delete_all(&sqs, &url, &messages).await;
            batch.totals
        });
    }

    let mut statements: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in bus_adapter.entries() {
        assert_eq!(entry.detail_type, "Weekly Statement");
        assert_eq!(entry.event_bus_name, bus);
        let detail: Value = serde_json::from_str(&entry.detail).unwrap();
        statements
            .entry(detail["account_id"].as_str().unwrap().to_string())
            .or_default()
            .push(detail["event_id"].as_str().unwrap().to_string());
    }
    Run {
        accounts_planned: plan.accounts_read,
        planner_units: planner_ledger.read_units(),
        worker_units: worker_ledger.read_units(),
        pages,
        statements,
    }
}

#[tokio::test]
async fn read_units_follow_the_accounts_due_and_their_week_not_the_table() {
    let dynamo = dynamodb().await;
    let table = unique("ledger");
    create_table(&dynamo, "LedgerTable", &table).await;
    let started = std::time::Instant::now();
    let accounts: Vec<Account> = (0..ACCOUNTS).map(the_account).collect();
    load(&dynamo, &table, accounts.iter().map(Account::to_item).collect()).await;
    load(&dynamo, &table, transactions()).await;
    println!(
        "statements: {} items loaded in {:.1?}",
        ACCOUNTS * 11,
        started.elapsed()
    );

    let due: Vec<&Account> = accounts
        .iter()
        .enumerate()
        .filter(|(n, a)| zone_of(*n) == "Europe/Paris" && a.statement_zone().is_some() && active_that_week(*n))
        .map(|(_, a)| a)
        .collect();
    let in_index = accounts
        .iter()
        .enumerate()
        .filter(|(n, a)| zone_of(*n) == "Europe/Paris" && a.statement_zone().is_some())
        .count() as u64;
    assert!(due.len() > 2_000, "{}", due.len());

    let started = std::time::Instant::now();
    let first = paris_monday(&dynamo, &table).await;
    println!(
        "statements: the Paris run ({} statements) in {:.1?}: planner {} RCU, workers {} RCU",
        first.pages.statements_published,
        started.elapsed(),
        first.planner_units,
        first.worker_units
    );
    assert_eq!(
        first.accounts_planned, in_index,
        "the index holds Paris's due accounts only"
    );
    // Exactly one statement for every due account, and none for anyone else.
    let got: Vec<&String> = first.statements.keys().collect();
    let wanted: Vec<&String> = due.iter().map(|a| &a.account_id).collect();
    assert_eq!(got, wanted);
    assert!(first.statements.values().all(|ids| ids.len() == 1), "one each");
    assert_eq!(first.pages.statements_published, due.len() as u64);
    assert_eq!(first.pages.transactions_read, 2 * due.len() as u64, "the week only");

    // What was read, against what it is worth: the index (keys only) and, per account in it,
    // its profile and its week. A keys-only index item is under 200 bytes; a profile and
    // a week's two transactions under 4 KB each: half a unit apiece, eventually consistent.
    let index_bound = (in_index as f64 * 200.0 / 4096.0).ceil() * 0.5 + 0.5 * 60.0;
    assert!(
        first.planner_units > 0.0 && first.planner_units <= index_bound,
        "planner: {} units for {in_index} accounts",
        first.planner_units
    );
    let worker_bound = in_index as f64 * 0.5 * 2.0;
    assert!(
        first.worker_units <= worker_bound,
        "workers: {} units for {in_index} accounts",
        first.worker_units
    );
    // 20,000 more transactions outside the week that is due (other zones' accounts, and
    // Paris's accounts the week before): the same reads, to the unit.
    let mut more = Vec::new();
    for n in 0..ACCOUNTS {
        let id = format!("acc-{n:05}");
        for k in 0..2 {
            let mut txn = purchase(&format!("{id}-more{k}"), &id, 999, Currency::EUR);
            txn.booked_at = if zone_of(n) == "Europe/Paris" {
                at("2026-11-18T10:00:00Z") + Duration::minutes(k)
            } else {
                at("2026-11-25T10:00:00Z") + Duration::minutes(k)
            };
            more.push(txn.to_item());
        }
    }
    load(&dynamo, &table, more).await;
    let started = std::time::Instant::now();
    let second = paris_monday(&dynamo, &table).await;
    println!("statements: the rerun in {:.1?}", started.elapsed());
    assert_eq!(second.planner_units, first.planner_units, "the index read is the same");
    assert_eq!(second.worker_units, first.worker_units, "each due week is the same");
    let ids = |run: &Run| run.statements.values().flatten().cloned().collect::<Vec<_>>();
    assert_eq!(ids(&second), ids(&first), "a rerun of the hour: the same event ids");
    // DynamoDB Local's one SQLite queue slows every later write while 130,000 items stay.
    dynamo.delete_table().table_name(&table).send().await.unwrap();
}
