//! The weekly statements: the planner's hour picks the zones whose Monday 06:00 it is, the
//! workers cut each account's week in its zone (across daylight-saving changes), with its
//! totals, the 200-line cap, paging, determinism, and failures on either side.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use txn_notify::clock::FrozenClock;
use txn_notify::domain::{Account, Currency, Money, Transaction};
use txn_notify::domain::{Channel, DeclineReason, TransactionKind, TransactionStatus};
use txn_notify::local::memory::{LedgerFaults, MemoryBus, MemoryLedger, MemoryQueue, QueueFaults};
use txn_notify::pipeline::digest::{DigestPage, PageReport, PlanReport, RunHour};
use txn_notify::pipeline::{DigestPlanner, DigestWorker, PlanRequest, PlannerConfig, Week, WorkerConfig};
use txn_notify::ports::BusEntry;
use txn_notify::rules::Rules;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn monday(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// The planner and the workers over one ledger, with the queue between them in memory.
struct Digest {
    planner: DigestPlanner<Arc<MemoryLedger>, Arc<MemoryQueue>, Arc<FrozenClock>>,
    worker: DigestWorker<Arc<MemoryLedger>, MemoryBus, Arc<FrozenClock>>,
    ledger: Arc<MemoryLedger>,
    queue: Arc<MemoryQueue>,
    clock: Arc<FrozenClock>,
}

impl Digest {
    fn over(
        ledger: impl Into<Arc<MemoryLedger>>,
        bus: MemoryBus,
        config: WorkerConfig,
        planner: PlannerConfig,
    ) -> Digest {
        let ledger = ledger.into();
        let queue = Arc::new(MemoryQueue::new());
        let clock = Arc::new(FrozenClock::at(common::now()));
        Digest {
            planner: DigestPlanner::new(Arc::clone(&ledger), Arc::clone(&queue), Arc::clone(&clock), planner),
            worker: DigestWorker::new(
                Arc::clone(&ledger),
                bus,
                Arc::clone(&clock),
                Arc::new(Rules::builtin()),
                config,
            ),
            ledger,
            queue,
            clock,
        }
    }

    /// The planner's run of that hour, then the workers on every page it queued.
    async fn run_hour(&self, hour: &str) -> (PlanReport, PageReport) {
        let plan = self
            .planner
            .run(&PlanRequest {
                hour: RunHour::containing(at(hour)),
            })
            .await;
        let mut pages = PageReport::default();
        for body in self.queue.drain() {
            let (page, week) = DigestPage::parse(&body).unwrap();
            pages.add(&self.worker.work(&page, &week).await);
        }
        (plan, pages)
    }

    /// The run that sends Paris its statements for the week starting on `week_start`.
    async fn run_paris_week(&self, week_start: &str) -> PageReport {
        let sends =
            Week::starting(monday(week_start) + Duration::days(7), chrono_tz::Europe::Paris).from + Duration::hours(6);
        let (plan, pages) = self.run_hour(&txn_notify::domain::time::format_rfc3339(&sends)).await;
        assert!(plan.complete(), "{plan:?}");
        pages
    }

    fn published(&self) -> Vec<BusEntry> {
        self.worker.bus.published()
    }
}

fn digest(ledger: MemoryLedger) -> Digest {
    Digest::over(
        ledger,
        MemoryBus::new(),
        WorkerConfig::new("txn-notify"),
        PlannerConfig::default(),
    )
}

fn paris(id: &str) -> Account {
    let mut account = common::account(id, "FR", Currency::EUR);
    account.time_zone = Some("Europe/Paris".into());
    account
}

fn txn_at(id: &str, account: &Account, booked_at: &str, amount_minor: i64) -> Transaction {
    let mut txn = common::purchase(id, &account.account_id, amount_minor, account.currency);
    txn.booked_at = at(booked_at);
    txn
}

fn statements(digest: &Digest) -> Vec<Value> {
    digest.published().iter().map(common::detail).collect()
}

fn listed_ids(statement: &Value) -> Vec<String> {
    statement["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transaction_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn weeks_run_monday_to_monday_in_the_zone_and_stretch_over_daylight_saving() {
    let paris = chrono_tz::Europe::Paris;
    // Clocks go back on Sunday 25 October 2026: that week has 169 hours.
    let autumn = Week::starting(monday("2026-10-19"), paris);
    assert_eq!(
        (autumn.from, autumn.to),
        (at("2026-10-18T22:00:00Z"), at("2026-10-25T23:00:00Z"))
    );
    assert_eq!(autumn.to - autumn.from, Duration::hours(169));
    // Clocks go forward on Sunday 29 March 2026: 167 hours.
    let spring = Week::starting(monday("2026-03-23"), paris);
    assert_eq!(
        (spring.from, spring.to),
        (at("2026-03-22T23:00:00Z"), at("2026-03-29T22:00:00Z"))
    );
    assert_eq!(spring.to - spring.from, Duration::hours(167));
    // A zone whose clocks change at midnight: the day starts when they resume.
    let santiago = Week::starting(monday("2026-09-07"), chrono_tz::America::Santiago);
    assert_eq!(santiago.to, at("2026-09-14T03:00:00Z"));
}

#[test]
fn without_a_week_the_last_complete_one_in_the_account_zone_is_taken() {
    // Monday 23 November 2026, 05:00 in Paris: last week started on the 16th.
    let now = at("2026-11-23T04:00:00Z");
    assert_eq!(
        Week::last_complete(now, chrono_tz::Europe::Paris).start,
        monday("2026-11-16")
    );
    // At that instant it is still Sunday, 23:00, in New York: its last complete week started on the 9th.
    assert_eq!(
        Week::last_complete(now, chrono_tz::America::New_York).start,
        monday("2026-11-09")
    );
    // Already Monday, 17:00, in Auckland.
    assert_eq!(
        Week::last_complete(now, chrono_tz::Pacific::Auckland).start,
        monday("2026-11-16")
    );
}

#[tokio::test]
async fn the_week_boundaries_hold_across_the_autumn_change() {
    let account = paris("acc-fr-001");
    let ledger = common::ledger_with(std::slice::from_ref(&account));
    for (id, booked_at) in [
        ("before", "2026-10-18T21:59:59Z"),       // Sunday 23:59:59 (UTC+2): the week before
        ("first", "2026-10-18T22:00:00Z"),        // Monday 00:00 (UTC+2)
        ("sunday-late", "2026-10-25T22:59:59Z"),  // Sunday 23:59:59 (UTC+1, after the change)
        ("next-monday", "2026-10-25T23:00:00Z"),  // Monday 00:00 (UTC+1): the next week
        ("fraction", "2026-10-18T22:00:00.250Z"), // sub-second booking times are in range too
    ] {
        ledger.insert_transaction(&txn_at(id, &account, booked_at, 1000));
    }
    let digest = digest(ledger);
    let report = digest.run_paris_week("2026-10-19").await;
    assert!(report.complete(), "{report:?}");
    let statements = statements(&digest);
    assert_eq!(statements.len(), 1);
    assert_eq!(listed_ids(&statements[0]), ["first", "fraction", "sunday-late"]);
    assert_eq!(
        statements[0]["week"],
        json!({"start": "2026-10-19", "end": "2026-10-26", "time_zone": "Europe/Paris"})
    );
}

#[tokio::test]
async fn the_week_boundaries_hold_across_the_spring_change() {
    let account = paris("acc-fr-001");
    let ledger = common::ledger_with(std::slice::from_ref(&account));
    for (id, booked_at) in [
        ("before", "2026-03-22T22:59:59Z"),
        ("first", "2026-03-22T23:00:00Z"),
        ("sunday-late", "2026-03-29T21:59:59Z"),
        ("next-monday", "2026-03-29T22:00:00Z"),
    ] {
        ledger.insert_transaction(&txn_at(id, &account, booked_at, 1000));
    }
    let digest = digest(ledger);
    digest.run_paris_week("2026-03-23").await;
    assert_eq!(listed_ids(&statements(&digest)[0]), ["first", "sunday-late"]);
}

#[tokio::test]
async fn totals_count_approved_transactions_per_category_and_currency() {
    let account = paris("acc-fr-001");
    let ledger = common::ledger_with(std::slice::from_ref(&account));
    let monday = "2026-11-16T09:00:00Z";
    let groceries = txn_at("t-groceries", &account, monday, 4599);
    let mut restaurant = txn_at("t-restaurant", &account, "2026-11-17T12:00:00Z", 3250);
    restaurant.merchant.as_mut().unwrap().mcc = txn_notify::domain::Mcc::parse("5812").unwrap();
    let mut salary = txn_at("t-salary", &account, "2026-11-18T08:00:00Z", 250_000);
    salary.kind = TransactionKind::TransferIn;
    salary.channel = Channel::Transfer;
    salary.merchant = None;
    let mut sent = txn_at("t-rent", &account, "2026-11-18T09:00:00Z", 90_000);
    sent.kind = TransactionKind::TransferOut;
    sent.channel = Channel::Transfer;
    sent.merchant = None;
    let mut declined = txn_at("t-declined", &account, "2026-11-19T10:00:00Z", 12_999);
    declined.status = TransactionStatus::Declined;
    declined.decline_reason = Some(DeclineReason::InsufficientFunds);
    let mut reversed = txn_at("t-reversed", &account, "2026-11-19T11:00:00Z", 1_500);
    reversed.status = TransactionStatus::Reversed;
    let abroad = {
        let mut t = txn_at("t-usd", &account, "2026-11-20T15:00:00Z", 2_000);
        t.amount = Money::new(2_000, Currency::USD);
        t
    };
    for t in [&groceries, &restaurant, &salary, &sent, &declined, &reversed, &abroad] {
        ledger.insert_transaction(t);
    }
    let digest = digest(ledger);
    digest.run_paris_week("2026-11-16").await;
    let statement = &statements(&digest)[0];
    assert_eq!(statement["transaction_count"], 7);
    assert_eq!(statement["truncated"], false);
    let eur = |minor: i64| json!({"amount_minor": minor, "currency": "EUR"});
    let usd = |minor: i64| json!({"amount_minor": minor, "currency": "USD"});
    assert_eq!(
        statement["totals_by_category"],
        json!([
            {"category": "groceries", "total": eur(-4599)},
            {"category": "groceries", "total": usd(-2000)},
            {"category": "restaurants", "total": eur(-3250)},
            {"category": "transfers", "total": eur(250_000 - 90_000)},
        ])
    );
    assert_eq!(statement["money_in"], json!([eur(250_000)]));
    assert_eq!(statement["money_out"], json!([eur(4599 + 3250 + 90_000), usd(2000)]));
    // Declined and reversed transactions are listed, not totalled.
    assert_eq!(listed_ids(statement).len(), 7);
}

#[tokio::test]
async fn at_most_200_transactions_are_listed_and_paging_reads_them_all() {
    let accounts: Vec<Account> = (0..5).map(|i| paris(&format!("acc-{i}"))).collect();
    let ledger = common::ledger_with(&accounts);
    let start = at("2026-11-16T08:00:00Z");
    for i in 0..233 {
        let mut txn = txn_at(&format!("t-{i:03}"), &accounts[2], "2026-11-16T08:00:00Z", 100 + i);
        txn.booked_at = start + Duration::minutes(30 * i);
        ledger.insert_transaction(&txn);
    }
    ledger.insert_transaction(&txn_at("t-other", &accounts[4], "2026-11-20T08:00:00Z", 700));
    let mut config = WorkerConfig::new("txn-notify");
    config.statement.query_page_size = 50;
    let digest = Digest::over(
        ledger,
        MemoryBus::new(),
        config,
        PlannerConfig {
            index_page_size: 2,
            ..PlannerConfig::default()
        },
    );
    let report = digest.run_paris_week("2026-11-16").await;
    assert_eq!(
        (
            report.accounts_read,
            report.statements_published,
            report.accounts_without_transactions
        ),
        (5, 2, 3)
    );
    assert_eq!(report.transactions_read, 234);
    let statements = statements(&digest);
    let big = statements.iter().find(|s| s["account_id"] == "acc-2").unwrap();
    assert_eq!(
        (big["transaction_count"].as_u64(), big["truncated"].as_bool()),
        (Some(233), Some(true))
    );
    let ids = listed_ids(big);
    assert_eq!(ids.len(), 200);
    assert_eq!((ids[0].as_str(), ids[199].as_str()), ("t-000", "t-199"), "oldest first");
    let total: i64 = (0..233).map(|i| 100 + i).sum();
    assert_eq!(
        big["money_out"][0]["amount_minor"], total,
        "totals count every transaction, listed or not"
    );
}

#[tokio::test]
async fn a_second_run_publishes_the_same_event_ids_so_nothing_is_emailed_twice() {
    let accounts = [paris("acc-a"), paris("acc-b")];
    let ledger = Arc::new(common::ledger_with(&accounts));
    for account in &accounts {
        ledger.insert_transaction(&txn_at(
            &format!("t-{}", account.account_id),
            account,
            "2026-11-17T10:00:00Z",
            1234,
        ));
    }
    let run = || async {
        let digest = Digest::over(
            Arc::clone(&ledger),
            MemoryBus::new(),
            WorkerConfig::new("txn-notify"),
            PlannerConfig::default(),
        );
        digest.run_paris_week("2026-11-16").await;
        digest.published()
    };
    let first = run().await;
    let second = run().await;
    let ids = |entries: &[BusEntry]| -> Vec<String> {
        entries
            .iter()
            .map(|e| common::detail(e)["event_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&first).len(), 2);
    assert_eq!(ids(&first), ids(&second));

    // Both runs' events through one notifier: one statement email per account.
    let notifier = txn_notify::pipeline::notify::Notifier::new(
        ledger.clone(),
        txn_notify::local::memory::MemoryMailer::new(),
        txn_notify::local::memory::MemoryBus::new(),
        txn_notify::local::memory::MemoryIdempotency::new(),
        txn_notify::local::memory::MemoryAuditLog::new(),
        txn_notify::local::embedded::FixedSecret::new(b"digest-test-secret"),
        FrozenClock::at(common::now()),
        txn_notify::pipeline::notify::NotifyConfig::new(
            txn_notify::domain::Mailbox::new(None, "alerts@txn-notify.example").unwrap(),
        ),
    );
    for entry in first.iter().chain(&second) {
        let event = entry.envelope("envelope", "123456789012", "eu-west-3", common::now());
        notifier.handle(event).await.unwrap();
    }
    let sent = notifier.mailer.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|s| {
        s.email
            .subject
            .as_str()
            .starts_with("Votre relevé de la semaine du 16 novembre 2026")
    }));
}

#[tokio::test]
async fn transient_ledger_failures_are_retried_and_persistent_ones_reported() {
    let account = paris("acc-fr-001");
    let ledger = common::ledger_with(std::slice::from_ref(&account));
    ledger.insert_transaction(&txn_at("t-1", &account, "2026-11-17T10:00:00Z", 1000));
    ledger.inject(LedgerFaults {
        failing_calls: 3,
        ..LedgerFaults::default()
    });
    let digest = digest(ledger);
    let report = digest.run_paris_week("2026-11-16").await;
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.statements_published, 1);
    assert_eq!(digest.clock.sleeps().len(), 3, "one backoff per failure");

    // The index fails for good: the run stops, queues nothing, and must run again.
    digest.ledger.inject(LedgerFaults {
        always_fail: true,
        ..LedgerFaults::default()
    });
    let (plan, pages) = digest.run_hour("2026-11-23T05:00:00Z").await;
    assert!(!plan.complete());
    assert!(plan.error.unwrap().contains("AccessDenied"), "the cause is kept");
    assert_eq!((plan.messages_sent, pages.accounts_read), (0, 0));
}

#[tokio::test]
async fn an_account_whose_week_cannot_be_read_fails_its_page_alone() {
    let (good, bad) = (paris("acc-good"), paris("acc-bad"));
    let ledger = common::ledger_with(&[good.clone(), bad.clone()]);
    for account in [&good, &bad] {
        ledger.insert_transaction(&txn_at(
            &format!("t-{}", account.account_id),
            account,
            "2026-11-17T10:00:00Z",
            1000,
        ));
    }
    let digest = digest(ledger);
    digest
        .planner
        .run(&PlanRequest {
            hour: RunHour::containing(at("2026-11-23T05:00:00Z")),
        })
        .await;
    let bodies = digest.queue.drain();
    assert_eq!(bodies.len(), 1);
    // Two pages of one account each, the second's reads failing.
    let (page, week) = DigestPage::parse(&bodies[0]).unwrap();
    let one = |id: &str| DigestPage {
        account_ids: vec![id.to_string()],
        ..page.clone()
    };
    assert!(digest.worker.work(&one("acc-good"), &week).await.complete());
    digest.ledger.inject(LedgerFaults {
        always_fail: true,
        ..LedgerFaults::default()
    });
    let failed = digest.worker.work(&one("acc-bad"), &week).await;
    assert_eq!(failed.accounts_failed, ["acc-bad"]);
    assert!(failed.last_error.unwrap().contains("AccessDenied"));
    assert_eq!(digest.published().len(), 1, "the good page's statement is out");
}

#[tokio::test]
async fn statements_that_cannot_be_published_are_reported_failed() {
    let account = paris("acc-fr-001");
    let ledger = common::ledger_with(std::slice::from_ref(&account));
    ledger.insert_transaction(&txn_at("t-1", &account, "2026-11-17T10:00:00Z", 1000));
    let digest = Digest::over(
        ledger,
        MemoryBus::failing_entries(|_, _| Some("ThrottlingException".into())),
        WorkerConfig::new("txn-notify"),
        PlannerConfig::default(),
    );
    let report = digest.run_paris_week("2026-11-16").await;
    assert_eq!(report.accounts_failed, ["acc-fr-001"]);
    assert_eq!(report.statements_published, 0);
}

#[tokio::test]
async fn each_hour_takes_the_zones_whose_monday_six_oclock_it_is() {
    let zoned = |id: &str, zone: Option<&str>| {
        let mut account = common::account(id, "FR", Currency::EUR);
        account.time_zone = zone.map(str::to_string);
        account
    };
    let accounts = [
        zoned("acc-tokyo", Some("Asia/Tokyo")),
        zoned("acc-kathmandu", Some("Asia/Kathmandu")),
        zoned("acc-paris", Some("Europe/Paris")),
        zoned("acc-nozone", None),
        zoned("acc-unknown", Some("Mars/Olympus")),
        zoned("acc-newyork", Some("America/New_York")),
        zoned("acc-marquesas", Some("Pacific/Marquesas")),
    ];
    let ledger = common::ledger_with(&accounts);
    // One transaction each on Sunday 22 November at noon UTC: still Sunday in every one of
    // these zones, so in the week of the 16th for all of them.
    for account in &accounts {
        ledger.insert_transaction(&txn_at(
            &format!("t-{}", account.account_id),
            account,
            "2026-11-22T12:00:00Z",
            500,
        ));
    }
    let digest = digest(ledger);
    let mut by_hour = Vec::new();
    for hour in RunHour::window_from(at("2026-11-22T16:00:00Z")) {
        let (plan, pages) = digest
            .run_hour(&txn_notify::domain::time::format_rfc3339(&hour.start()))
            .await;
        assert!(plan.complete() && pages.complete());
        let mut zones: Vec<(String, u64)> = plan.zones.iter().map(|z| (z.zone.clone(), z.accounts)).collect();
        zones.sort();
        if !zones.is_empty() {
            by_hour.push((hour.start().format("%a %H:%M").to_string(), zones));
        }
    }
    let z = |zone: &str, n: u64| (zone.to_string(), n);
    assert_eq!(
        by_hour,
        [
            ("Sun 21:00".to_string(), vec![z("Asia/Tokyo", 1)]),
            ("Mon 00:00".to_string(), vec![z("Asia/Kathmandu", 1)]),
            ("Mon 05:00".to_string(), vec![z("Europe/Paris", 3)]),
            ("Mon 11:00".to_string(), vec![z("America/New_York", 1)]),
            ("Mon 15:00".to_string(), vec![z("Pacific/Marquesas", 1)]),
        ]
    );
    let published = statements(&digest);
    assert_eq!(published.len(), 7, "one each");
    for statement in &published {
        assert_eq!(statement["week"]["start"], "2026-11-16", "{statement}");
    }
    let zone_of = |id: &str| {
        published.iter().find(|s| s["account_id"] == id).unwrap()["week"]["time_zone"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(zone_of("acc-nozone"), "Europe/Paris");
    assert_eq!(
        zone_of("acc-unknown"),
        "Europe/Paris",
        "an unknown zone falls back to Paris"
    );
    assert_eq!(zone_of("acc-marquesas"), "Pacific/Marquesas");
    // A rerun of any hour: the same event ids.
    let before: Vec<String> = published.iter().map(|s| s["event_id"].to_string()).collect();
    digest.run_hour("2026-11-23T05:00:00Z").await;
    let again: Vec<Value> = statements(&digest)[7..].to_vec();
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|s| before.contains(&s["event_id"].to_string())));
}

#[tokio::test]
async fn pages_hold_at_most_100_accounts_and_cover_the_zone_once() {
    let accounts: Vec<Account> = (0..250).map(|i| paris(&format!("acc-{i:03}"))).collect();
    let ledger = common::ledger_with(&accounts);
    let digest = Digest::over(
        ledger,
        MemoryBus::new(),
        WorkerConfig::new("txn-notify"),
        PlannerConfig {
            index_page_size: 64,
            ..PlannerConfig::default()
        },
    );
    let plan = digest
        .planner
        .run(&PlanRequest {
            hour: RunHour::containing(at("2026-11-23T05:00:00Z")),
        })
        .await;
    // Paris's four pages of the index, and one empty Query per other zone of the hour.
    assert_eq!(plan.accounts_read, 250);
    assert_eq!(plan.index_pages, 4 + plan.zones_due - 1);
    let mut seen: Vec<String> = Vec::new();
    for body in digest.queue.drain() {
        let (page, _) = DigestPage::parse(&body).unwrap();
        assert!(page.account_ids.len() <= 100);
        assert_eq!(
            (page.zone.as_str(), page.week_start),
            ("Europe/Paris", monday("2026-11-16"))
        );
        seen.extend(page.account_ids);
    }
    seen.sort();
    assert_eq!(seen, accounts.iter().map(|a| a.account_id.clone()).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_queue_failing_is_retried_then_fails_the_run() {
    let accounts: Vec<Account> = (0..30).map(|i| paris(&format!("acc-{i:02}"))).collect();
    let digest = Digest::over(
        common::ledger_with(&accounts),
        MemoryBus::new(),
        WorkerConfig::new("txn-notify"),
        PlannerConfig {
            index_page_size: 10,
            ..PlannerConfig::default()
        },
    );
    let hour = PlanRequest {
        hour: RunHour::containing(at("2026-11-23T05:00:00Z")),
    };
    // A whole call fails once, then a call sends only its first entry: all is sent in the end.
    digest.queue.inject(QueueFaults {
        failing_calls: 1,
        partial_calls: 1,
        ..QueueFaults::default()
    });
    let plan = digest.planner.run(&hour).await;
    assert!(plan.complete(), "{plan:?}");
    assert_eq!(plan.messages_sent, 3);
    assert_eq!(digest.queue.drain().len(), 3);
    digest.queue.inject(QueueFaults {
        failing_calls: 100,
        ..QueueFaults::default()
    });
    let plan = digest.planner.run(&hour).await;
    assert!(plan.error.unwrap().contains("ServiceUnavailable"));
    digest.queue.inject(QueueFaults {
        always_fail: true,
        ..QueueFaults::default()
    });
    let sleeps = digest.clock.sleeps().len();
    let plan = digest.planner.run(&hour).await;
    assert!(plan.error.unwrap().contains("AccessDenied"));
    assert_eq!(
        digest.clock.sleeps().len(),
        sleeps,
        "a permanent failure is not retried"
    );
}

#[test]
fn scheduled_events_are_read_strictly() {
    let now = at("2026-11-23T05:20:00Z");
    let request = PlanRequest::from_event(
        &json!({
            "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.scheduler",
            "time": "2026-11-23T04:00:00Z", "detail": {}
        }),
        now,
    )
    .unwrap();
    assert_eq!(
        request.hour.start(),
        at("2026-11-23T04:00:00Z"),
        "the scheduled hour, not now"
    );
    for (event, message) in [
        (json!({"detail": {"week_start": "2026-11-16"}}), "must be empty"),
        (json!({"detail": {"segment": 1, "total_segments": 4}}), "must be empty"),
        (json!({"time": "yesterday"}), "RFC 3339"),
        (json!([1, 2]), "JSON object"),
    ] {
        let error = PlanRequest::from_event(&event, now).unwrap_err();
        assert!(error.to_string().contains(message), "{event}: {error}");
    }
}

#[tokio::test]
async fn statements_validate_against_their_schema() {
    let account = paris("acc-fr-001");
    let ledger = common::ledger_with(std::slice::from_ref(&account));
    ledger.insert_transaction(&txn_at("t-1", &account, "2026-11-17T10:00:00Z", 1000));
    let digest = digest(ledger);
    digest.run_paris_week("2026-11-16").await;
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/weekly-statement.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let statement = &statements(&digest)[0];
    let errors: Vec<String> = validator.iter_errors(statement).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        statement["occurred_at"], "2026-11-22T23:00:00Z",
        "a statement happens when its week ends"
    );
}

#[tokio::test]
async fn totals_are_exact_however_large_and_never_saturate() {
    let max = txn_notify::domain::MAX_AMOUNT_MINOR;
    let account = paris("acc-fr-001");
    let ledger = common::ledger_with(std::slice::from_ref(&account));
    // Ten thousand of the largest purchases in a week: the sum is past i64::MAX.
    let count: i64 = 10_000;
    for i in 0..count {
        let booked = at("2026-11-16T09:00:00Z") + Duration::seconds(i * 30);
        let mut txn = txn_at(&format!("t-{i:05}"), &account, "2026-11-16T09:00:00Z", max);
        txn.booked_at = booked;
        ledger.insert_transaction(&txn);
    }
    let digest = digest(ledger);
    let report = digest.run_paris_week("2026-11-16").await;
    assert!(report.complete());
    let text = digest.published()[0].detail.clone();
    let exact = i128::from(max) * i128::from(count);
    assert!(exact > i128::from(i64::MAX));
    assert!(
        text.contains(&format!(r#""money_out":[{{"amount_minor":{exact},"currency":"EUR"}}]"#)),
        "{}",
        &text[..text.len().min(600)]
    );
    assert!(text.contains(&format!(r#""total":{{"amount_minor":-{exact},"currency":"EUR"}}"#)));
    // The notifier reads the statement back with the same digits.
    let notice: txn_notify::pipeline::notify::StatementNotice = serde_json::from_str(&text).unwrap();
    assert_eq!(notice.money_out[0].amount_minor, exact);
    assert_eq!(notice.totals_by_category[0].total.amount_minor, -exact);
}

#[tokio::test]
async fn closed_and_unsubscribed_accounts_get_no_statement_and_cost_no_reads() {
    let mut closed = paris("acc-closed");
    closed.status = txn_notify::domain::AccountStatus::Closed;
    let mut unsubscribed = paris("acc-unsub");
    unsubscribed.preferences.statement_enabled = false;
    let open = paris("acc-open");
    let ledger = common::ledger_with(&[closed.clone(), unsubscribed.clone(), open.clone()]);
    for account in [&closed, &unsubscribed, &open] {
        let txn = txn_at(
            &format!("t-{}", account.account_id),
            account,
            "2026-11-17T10:00:00Z",
            1_000,
        );
        txn_notify::ports::Ledger::put_transaction(&ledger, &txn, "fp")
            .await
            .unwrap();
    }
    let digest = digest(ledger);
    let (plan, report) = digest.run_hour("2026-11-23T05:00:00Z").await;
    assert_eq!(plan.accounts_read, 1, "the index holds only the account that is due");
    assert_eq!(
        (
            report.accounts_read,
            report.statements_published,
            report.accounts_not_due
        ),
        (1, 1, 0),
        "{report:?}"
    );
    assert_eq!(report.transactions_read, 1, "only the open account's week is read");
    let published = statements(&digest);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["account_id"], "acc-open");

    // A page written before they closed or unsubscribed (the index lags by a moment, or a
    // page is redelivered later): the profile read again says no, and nothing is read.
    let stale = DigestPage {
        run_hour: at("2026-11-23T05:00:00Z"),
        zone: "Europe/Paris".into(),
        week_start: monday("2026-11-16"),
        account_ids: vec!["acc-closed".into(), "acc-unsub".into(), "acc-gone".into()],
    };
    let (stale, week) = DigestPage::parse(&stale.body()).unwrap();
    let report = digest.worker.work(&stale, &week).await;
    assert_eq!(
        (
            report.statements_published,
            report.accounts_not_due,
            report.transactions_read
        ),
        (0, 3, 0),
        "{report:?}"
    );
    assert!(report.complete(), "not due is not a failure");
}
