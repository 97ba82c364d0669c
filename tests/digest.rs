//! The weekly digest: week boundaries in the account's zone (across daylight-saving changes),
//! totals, the 200-line cap, paging, determinism, and failures.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use txn_notify::clock::FrozenClock;
use txn_notify::domain::{Account, Currency, Money, Transaction};
use txn_notify::domain::{Channel, DeclineReason, TransactionKind, TransactionStatus};
use txn_notify::local::memory::{LedgerFaults, MemoryBus, MemoryLedger};
use txn_notify::pipeline::{Digest, DigestConfig, DigestReport, DigestRequest, Week};
use txn_notify::ports::BusEntry;
use txn_notify::rules::Rules;

type TestDigest = Digest<MemoryLedger, MemoryBus, FrozenClock>;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn monday(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn digest_over(ledger: MemoryLedger, config: DigestConfig) -> TestDigest {
    Digest::new(
        ledger,
        MemoryBus::new(),
        FrozenClock::at(common::now()),
        Arc::new(Rules::builtin()),
        config,
    )
}

fn digest(ledger: MemoryLedger) -> TestDigest {
    digest_over(ledger, DigestConfig::new("txn-notify"))
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

async fn run_week(digest: &TestDigest, week_start: &str) -> DigestReport {
    let request = DigestRequest {
        week_start: Some(monday(week_start)),
        ..DigestRequest::default()
    };
    digest.run(&request, common::now()).await.unwrap()
}

fn statements(digest: &TestDigest) -> Vec<Value> {
    digest.bus.published().iter().map(common::detail).collect()
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
    let report = run_week(&digest, "2026-10-19").await;
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
    run_week(&digest, "2026-03-23").await;
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
    run_week(&digest, "2026-11-16").await;
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
    let mut config = DigestConfig::new("txn-notify");
    config.scan_page_size = 2;
    config.query_page_size = 50;
    let digest = digest_over(ledger, config);
    let report = run_week(&digest, "2026-11-16").await;
    assert_eq!(
        (
            report.accounts_scanned,
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
        let digest = Digest::new(
            ledger.clone(),
            MemoryBus::new(),
            FrozenClock::at(common::now()),
            Arc::new(Rules::builtin()),
            DigestConfig::new("txn-notify"),
        );
        run_week_arc(&digest).await;
        digest.bus.published()
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

async fn run_week_arc(digest: &Digest<Arc<MemoryLedger>, MemoryBus, FrozenClock>) -> DigestReport {
    let request = DigestRequest {
        week_start: Some(monday("2026-11-16")),
        ..DigestRequest::default()
    };
    digest.run(&request, common::now()).await.unwrap()
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
    let report = run_week(&digest, "2026-11-16").await;
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.statements_published, 1);
    assert_eq!(digest.clock.sleeps().len(), 3, "one backoff per failure");

    digest.ledger.inject(LedgerFaults {
        always_fail: true,
        ..LedgerFaults::default()
    });
    let report = run_week(&digest, "2026-11-16").await;
    assert!(!report.complete());
    assert!(report.scan_error.unwrap().contains("AccessDenied"));
}

#[tokio::test]
async fn statements_that_cannot_be_published_are_reported_failed() {
    let account = paris("acc-fr-001");
    let ledger = common::ledger_with(std::slice::from_ref(&account));
    ledger.insert_transaction(&txn_at("t-1", &account, "2026-11-17T10:00:00Z", 1000));
    let digest = Digest::new(
        ledger,
        MemoryBus::failing_entries(|_, _| Some("ThrottlingException".into())),
        FrozenClock::at(common::now()),
        Arc::new(Rules::builtin()),
        DigestConfig::new("txn-notify"),
    );
    let report = run_week(&digest, "2026-11-16").await;
    assert_eq!(report.accounts_failed, ["acc-fr-001"]);
    assert_eq!(report.statements_published, 0);
}

#[tokio::test]
async fn scan_segments_visit_each_account_exactly_once() {
    let accounts: Vec<Account> = (0..40).map(|i| paris(&format!("acc-{i:02}"))).collect();
    let ledger = Arc::new(common::ledger_with(&accounts));
    let mut seen = Vec::new();
    for segment in 0..3 {
        let digest = Digest::new(
            ledger.clone(),
            MemoryBus::new(),
            FrozenClock::at(common::now()),
            Arc::new(Rules::builtin()),
            DigestConfig::new("txn-notify"),
        );
        let request = DigestRequest {
            week_start: Some(monday("2026-11-16")),
            segment: Some(segment),
            total_segments: Some(3),
        };
        let report = digest.run(&request, common::now()).await.unwrap();
        assert!(report.accounts_scanned > 0, "segment {segment} is not empty");
        seen.push(report.accounts_scanned);
    }
    assert_eq!(seen.iter().sum::<u64>(), 40);
}

#[test]
fn scheduled_events_are_read_strictly() {
    let (request, time) = DigestRequest::from_event(&json!({
        "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.scheduler",
        "time": "2026-11-23T05:00:00Z", "detail": {}
    }))
    .unwrap();
    assert_eq!(
        (request, time),
        (DigestRequest::default(), Some(at("2026-11-23T05:00:00Z")))
    );
    let (request, _) =
        DigestRequest::from_event(&json!({"detail": {"week_start": "2026-11-16", "segment": 1, "total_segments": 4}}))
            .unwrap();
    assert_eq!(request.week_start, Some(monday("2026-11-16")));
    for (event, message) in [
        (json!({"detail": {"week_start": "2026-11-17"}}), "must be a Monday"),
        (json!({"detail": {"weekstart": "2026-11-16"}}), "unknown field"),
        (json!({"detail": {"segment": 1}}), "go together"),
        (json!({"detail": {"segment": 4, "total_segments": 4}}), "go together"),
        (json!({"time": "yesterday"}), "RFC 3339"),
        (json!([1, 2]), "JSON object"),
    ] {
        let error = DigestRequest::from_event(&event).unwrap_err();
        assert!(error.to_string().contains(message), "{event}: {error}");
    }
}

#[tokio::test]
async fn statements_validate_against_their_schema() {
    let account = paris("acc-fr-001");
    let ledger = common::ledger_with(std::slice::from_ref(&account));
    ledger.insert_transaction(&txn_at("t-1", &account, "2026-11-17T10:00:00Z", 1000));
    let digest = digest(ledger);
    run_week(&digest, "2026-11-16").await;
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
    let report = run_week(&digest, "2026-11-16").await;
    assert!(report.complete());
    let text = digest.bus.published()[0].detail.clone();
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
    let digest = digest_over(ledger, DigestConfig::new("txn-notify"));
    let report = run_week(&digest, "2026-11-16").await;
    assert_eq!(
        (report.statements_published, report.accounts_not_due),
        (1, 2),
        "{report:?}"
    );
    assert_eq!(report.transactions_read, 1, "only the open account's week is read");
    let published = statements(&digest);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["account_id"], "acc-open");
}
