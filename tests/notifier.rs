//! The notifier: the email policy, the templates (golden files in both languages), HTML
//! escaping, header safety, the idempotency states and the mail service's errors.
//!
//! Golden files live in `tests/golden/notify/`; after a deliberate change to a template,
//! `UPDATE_GOLDEN=1 cargo test --test notifier` rewrites them, and the diff is reviewed.

mod common;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use txn_notify::clock::FrozenClock;
use txn_notify::domain::Category;
use txn_notify::domain::CountryCode;
use txn_notify::domain::Locale;
use txn_notify::domain::Mailbox;
use txn_notify::domain::Pii;
use txn_notify::domain::event_id;
use txn_notify::domain::{Account, Currency, Money, Transaction};
use txn_notify::domain::{
    BusEvent, CategoryTotal, Header, Severity, StatementLine, StatementWeek, TransactionChange, WeeklyStatement,
};
use txn_notify::domain::{Channel, DeclineReason, Mcc, Merchant, TransactionKind, TransactionStatus};
use txn_notify::local::embedded::FixedSecret;
use txn_notify::local::memory::{LedgerFaults, MemoryAuditLog, MemoryIdempotency, MemoryLedger};
use txn_notify::local::memory::{MemoryBus, MemoryMailer, SentEmail};
use txn_notify::pipeline::Reply;
use txn_notify::pipeline::notify::{Notifier, NotifyConfig, NotifyStats, email_key};
use txn_notify::pipeline::process::events_for_transaction;
use txn_notify::ports::{Claim, Idempotency, MailError};
use txn_notify::rules::Rules;

type TestNotifier =
    Notifier<MemoryLedger, MemoryMailer, MemoryBus, MemoryIdempotency, MemoryAuditLog, FixedSecret, FrozenClock>;

const API_URL: &str = "https://api.bank.example";
const SECRET: &[u8] = b"notifier-test-signing-secret";

fn sender() -> Mailbox {
    Mailbox::new(Some("txn-notify"), "alerts@txn-notify.example").unwrap()
}

fn notifier_with(accounts: &[Account], now: chrono::DateTime<Utc>) -> TestNotifier {
    Notifier::new(
        common::ledger_with(accounts),
        MemoryMailer::new(),
        MemoryBus::new(),
        MemoryIdempotency::new(),
        MemoryAuditLog::new(),
        FixedSecret::new(SECRET),
        FrozenClock::at(now),
        NotifyConfig::new(sender()).with_public_api_url(API_URL),
    )
}

fn notifier(accounts: &[Account]) -> TestNotifier {
    notifier_with(accounts, common::now())
}

fn french() -> Account {
    let mut account = common::account("acc-fr-001", "FR", Currency::EUR);
    account.time_zone = Some("Europe/Paris".into());
    account
}

fn english() -> Account {
    let mut account = common::account("acc-gb-002", "GB", Currency::GBP);
    account.holder.first_name = Pii("James".into());
    account.holder.last_name = Pii("Smith".into());
    account.locale = Locale::En;
    account.time_zone = Some("Europe/London".into());
    account
}

fn merchant(name: &str, mcc: &str, country: &str, city: Option<&str>) -> Option<Merchant> {
    Some(Merchant {
        name: name.into(),
        mcc: Mcc::parse(mcc).unwrap(),
        country: CountryCode::parse(country).unwrap(),
        city: city.map(str::to_string),
    })
}

/// A transaction of `account` built for one email shape, in the account's currency.
fn transaction_for(shape: &str, account: &Account) -> (Transaction, TransactionChange) {
    let mut txn = common::purchase(&format!("t-{shape}"), &account.account_id, 4599, account.currency);
    txn.booked_at = Utc.with_ymd_and_hms(2026, 11, 20, 13, 5, 0).unwrap();
    txn.balance_after_minor = Some(120_000);
    let mut change = TransactionChange::Inserted;
    let city = |french: &'static str, english: &'static str| match account.locale {
        Locale::Fr => Some(french),
        Locale::En => Some(english),
    };
    txn.merchant = merchant(
        "Carrefour City",
        "5411",
        account.country.as_str(),
        city("Lyon", "Leeds"),
    );
    match shape {
        "spending_limit" => {
            txn.status = TransactionStatus::Declined;
            txn.decline_reason = Some(DeclineReason::InsufficientFunds);
            txn.amount = Money::new(12_999, account.currency);
            txn.merchant = merchant("Fnac", "5732", account.country.as_str(), city("Paris", "London"));
        }
        "high_risk" => txn.merchant = merchant("Betclic", "7801", account.country.as_str(), None),
        "large" => {
            txn.amount = Money::new(149_900, account.currency);
            txn.merchant = merchant("Apple Store", "5732", account.country.as_str(), city("Paris", "London"));
        }
        "low_balance" => txn.balance_after_minor = Some(3_200),
        "foreign" => txn.merchant = merchant("Zara", "5651", "ES", Some("Barcelona")),
        "cash" => {
            txn.kind = TransactionKind::AtmWithdrawal;
            txn.channel = Channel::Atm;
            txn.amount = Money::new(25_000, account.currency);
            txn.merchant = merchant(
                "Cash machine",
                "6011",
                account.country.as_str(),
                city("Paris", "London"),
            );
        }
        "refund" => {
            txn.kind = TransactionKind::Refund;
            txn.amount = Money::new(2_999, account.currency);
            txn.merchant = merchant("Zara", "5651", account.country.as_str(), city("Lyon", "Leeds"));
        }
        "top_up" => {
            txn.kind = TransactionKind::TopUp;
            txn.channel = Channel::TopUp;
            txn.amount = Money::new(10_000, account.currency);
            txn.merchant = None;
            txn.card_last4 = None;
        }
        "reversed" => {
            txn.status = TransactionStatus::Reversed;
            change = TransactionChange::Reversed;
        }
        "plain" => {}
        other => panic!("no transaction for shape {other}"),
    }
    (txn, change)
}

/// The events the processor publishes for a transaction, as EventBridge delivers them.
fn published(account: &Account, txn: &Transaction, change: TransactionChange) -> Vec<Value> {
    events_for_transaction(
        &Rules::builtin(),
        txn,
        change,
        txn.booked_at,
        Some(account),
        common::now(),
    )
    .iter()
    .map(envelope)
    .collect()
}

fn envelope(event: &BusEvent) -> Value {
    json!({
        "version": "0", "id": format!("envelope-{}", event.event_id()), "detail-type": event.detail_type().as_str(),
        "source": "txn-notify", "account": "123456789012", "time": "2026-11-20T18:00:00Z", "region": "eu-west-3",
        "resources": [], "detail": serde_json::from_str::<Value>(&event.detail_json()).unwrap(),
    })
}

/// The Transaction Recorded event of a transaction.
fn recorded(account: &Account, txn: &Transaction, change: TransactionChange) -> Value {
    published(account, txn, change)
        .into_iter()
        .find(|e| e["detail-type"] == "Transaction Recorded")
        .unwrap()
}

fn opened(account: &Account) -> Value {
    envelope(&BusEvent::AccountOpened(txn_notify::domain::AccountOpened {
        header: Header::new(
            event_id::for_account_opened(&account.account_id),
            &account.account_id,
            account.created_at,
        ),
        account: account.into(),
        severity: Severity::Info,
    }))
}

fn statement(account: &Account, lines: usize, count: u64) -> Value {
    let currency = account.currency;
    let line = |i: usize| {
        let (kind, merchant_name, category, minor, status) = match i % 4 {
            0 => (
                TransactionKind::CardPurchase,
                Some("Carrefour City"),
                Category::Groceries,
                4599,
                TransactionStatus::Approved,
            ),
            1 => (
                TransactionKind::TransferIn,
                None,
                Category::Transfers,
                250_000,
                TransactionStatus::Approved,
            ),
            2 => (
                TransactionKind::CardPurchase,
                Some("Le Bistrot & Fils"),
                Category::Restaurants,
                3250,
                TransactionStatus::Approved,
            ),
            _ => (
                TransactionKind::CardPurchase,
                Some("Fnac"),
                Category::Shopping,
                12_999,
                TransactionStatus::Declined,
            ),
        };
        StatementLine {
            transaction_id: format!("t-{i}"),
            booked_at: Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap() + Duration::hours(7 * i as i64),
            kind,
            status,
            amount: Money::new(minor, currency),
            category,
            merchant_name: merchant_name.map(str::to_string),
        }
    };
    let start = NaiveDate::from_ymd_opt(2026, 11, 16).unwrap();
    envelope(&BusEvent::WeeklyStatement(WeeklyStatement {
        header: Header::new(
            event_id::for_weekly_statement(&account.account_id, "2026-11-16"),
            &account.account_id,
            Utc.with_ymd_and_hms(2026, 11, 22, 23, 0, 0).unwrap(),
        ),
        week: StatementWeek {
            start,
            end: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            time_zone: account.time_zone.clone().unwrap_or("Europe/Paris".into()),
        },
        totals_by_category: vec![
            CategoryTotal {
                category: Category::Groceries,
                total: Money::new(-4599, currency).into(),
            },
            CategoryTotal {
                category: Category::Restaurants,
                total: Money::new(-3250, currency).into(),
            },
            CategoryTotal {
                category: Category::Transfers,
                total: Money::new(250_000, currency).into(),
            },
        ],
        money_in: vec![Money::new(250_000, currency).into()],
        money_out: vec![Money::new(7849, currency).into()],
        transaction_count: count,
        transactions: (0..lines).map(line).collect(),
        truncated: (lines as u64) < count,
        severity: Severity::Info,
    }))
}

fn sqs(bodies: &[Value]) -> Value {
    json!({ "Records": bodies.iter().enumerate().map(|(i, body)| json!({
        "messageId": format!("m-{i}"), "receiptHandle": "h", "body": body.to_string(), "attributes": {},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-3:123456789012:txn-notify-notify", "awsRegion": "eu-west-3",
    })).collect::<Vec<_>>() })
}

async fn deliver(notifier: &TestNotifier, payload: Value) -> (Vec<String>, NotifyStats) {
    let (reply, stats) = notifier.handle(payload).await.unwrap();
    let failed = match reply {
        Reply::Batch(response) => response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect(),
        Reply::Single(Ok(())) => vec![],
        Reply::Single(Err(reason)) => vec![reason.to_string()],
    };
    (failed, stats)
}

async fn send_one(account: &Account, event: Value) -> (Vec<SentEmail>, NotifyStats) {
    let notifier = notifier(std::slice::from_ref(account));
    let (failed, stats) = deliver(&notifier, sqs(&[event])).await;
    assert!(failed.is_empty(), "{failed:?} {stats:?}");
    (notifier.mailer.sent(), stats)
}

fn golden_text(sent: &SentEmail) -> String {
    let email = &sent.email;
    let tags: Vec<String> = email.tags.iter().map(|t| format!("{}={}", t.name, t.value)).collect();
    let headers: String = email
        .headers
        .iter()
        .map(|h| format!("{}: {}\n", h.name, h.value.as_str()))
        .collect();
    format!(
        "Subject: {}\n{headers}Tags: {}\n\n===== text =====\n{}\n===== html =====\n{}\n",
        email.subject.as_str(),
        tags.join(" "),
        email.text,
        email.html
    )
}

fn check_golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/notify/{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert!(
        expected == actual,
        "{name} differs from its golden file {}; if the change is deliberate, run UPDATE_GOLDEN=1 cargo test --test notifier\n--- actual ---\n{actual}",
        path.display()
    );
}

const SHAPES: [&str; 10] = [
    "spending_limit",
    "high_risk",
    "large",
    "low_balance",
    "foreign",
    "cash",
    "refund",
    "top_up",
    "plain",
    "reversed",
];

#[tokio::test]
async fn every_transaction_shape_in_both_languages_matches_its_golden_file() {
    for account in [french(), english()] {
        for shape in SHAPES {
            let (txn, change) = transaction_for(shape, &account);
            let (sent, stats) = send_one(&account, recorded(&account, &txn, change)).await;
            assert_eq!(sent.len(), 1, "{shape}: {stats:?}");
            let tags = &sent[0].email.tags;
            assert!(
                tags.iter().any(|t| t.name == "shape" && t.value == shape),
                "{shape} was shaped as {tags:?}"
            );
            check_golden(
                &format!("{}/transaction-{shape}", account.locale),
                &golden_text(&sent[0]),
            );
        }
    }
}

#[tokio::test]
async fn welcome_and_statement_emails_match_their_golden_files() {
    for mut account in [french(), english()] {
        account.thresholds.large_amount_minor = Some(80_000);
        account.preferences.min_amount_minor = Some(500);
        account.preferences.muted_categories = vec!["groceries".into()];
        let (sent, _) = send_one(&account, opened(&account)).await;
        check_golden(&format!("{}/welcome", account.locale), &golden_text(&sent[0]));
        let (sent, _) = send_one(&account, statement(&account, 4, 4)).await;
        check_golden(&format!("{}/statement", account.locale), &golden_text(&sent[0]));
    }
}

#[tokio::test]
async fn money_is_written_for_the_locale_and_the_currency_exponent() {
    let mut cameroon = french();
    cameroon.account_id = "acc-cm-004".into();
    cameroon.country = CountryCode::parse("CM").unwrap();
    cameroon.currency = Currency::XAF;
    let (mut txn, change) = transaction_for("plain", &cameroon);
    txn.amount = Money::new(650_000, Currency::XAF);
    let (sent, _) = send_one(&cameroon, recorded(&cameroon, &txn, change)).await;
    assert!(
        sent[0].email.text.contains("650\u{202F}000\u{A0}FCFA"),
        "{}",
        sent[0].email.text
    );

    let mut kuwait = english();
    kuwait.account_id = "acc-kw-005".into();
    kuwait.country = CountryCode::parse("KW").unwrap();
    kuwait.currency = Currency::KWD;
    let (mut txn, change) = transaction_for("plain", &kuwait);
    txn.amount = Money::new(1_234_567, Currency::KWD);
    let (sent, _) = send_one(&kuwait, recorded(&kuwait, &txn, change)).await;
    assert!(
        sent[0].email.subject.as_str().contains("KWD\u{A0}1,234.567"),
        "{:?}",
        sent[0].email.subject
    );

    let (txn, change) = transaction_for("large", &french());
    let (sent, _) = send_one(&french(), recorded(&french(), &txn, change)).await;
    assert!(sent[0].email.subject.as_str().contains("1\u{202F}499,00\u{A0}€"));
    let (txn, change) = transaction_for("large", &english());
    let (sent, _) = send_one(&english(), recorded(&english(), &txn, change)).await;
    assert!(sent[0].email.subject.as_str().contains("£1,499.00"));
}

#[tokio::test]
async fn merchant_and_holder_names_are_escaped_in_html_and_kept_as_is_in_text() {
    let mut account = french();
    account.holder.first_name = Pii("Zoë \"Z\" <b>O'Hara</b>".into());
    let (mut txn, change) = transaction_for("plain", &account);
    txn.merchant = merchant(
        "<script>alert('x')</script> Smith & Sons \"Ltd\"",
        "5411",
        "FR",
        Some("Lyon"),
    );
    let (sent, _) = send_one(&account, recorded(&account, &txn, change)).await;
    let email = &sent[0].email;
    assert!(!email.html.contains("<script>"), "{}", email.html);
    assert!(!email.html.contains("<b>O"), "{}", email.html);
    assert!(
        email
            .html
            .contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; Smith &amp; Sons &quot;Ltd&quot;"),
        "{}",
        email.html
    );
    assert!(
        email
            .html
            .contains("Zoë &quot;Z&quot; &lt;b&gt;O&#x27;Hara&lt;&#x2f;b&gt;"),
        "{}",
        email.html
    );
    // The text part and the subject are not HTML: they hold the names as written.
    assert!(email.text.contains("<script>alert('x')</script> Smith & Sons \"Ltd\""));
    assert!(email.text.contains("Bonjour Zoë \"Z\" <b>O'Hara</b>,"));
    assert!(email.subject.as_str().contains("Smith & Sons \"Ltd\""));
}

#[tokio::test]
async fn line_breaks_in_names_never_reach_a_header() {
    let mut account = french();
    account.holder.last_name = Pii("Dupont\r\nBcc: victim@evil.example".into());
    let (mut txn, change) = transaction_for("plain", &account);
    txn.merchant = merchant("Shop\r\nBcc: attacker@evil.example\r\n", "5411", "FR", None);
    let (sent, stats) = send_one(&account, recorded(&account, &txn, change)).await;
    assert_eq!(stats.sent, 1, "the holder still gets the email");
    let email = &sent[0].email;
    assert_eq!(email.to.display_name, None, "a name with a line break is left out");
    assert_eq!(email.to.address.expose(), "acc-fr-001@example.com");
    assert!(!email.subject.as_str().contains(['\r', '\n']));
    assert!(
        email.subject.as_str().ends_with("chez Shop Bcc: attacker@evil.example"),
        "{:?}",
        email.subject
    );
    let eml = txn_notify::local::eml::to_eml(email, "m@test", common::now());
    let headers = eml.split("\r\n\r\n").next().unwrap();
    assert!(!headers.lines().any(|l| l.starts_with("Bcc")), "{headers}");
}

#[tokio::test]
async fn bidi_controls_from_items_written_past_ingest_never_reach_the_reader() {
    // An item written straight into the table (not through ingest, which refuses them).
    let mut account = french();
    account.holder.first_name = Pii("Ma\u{202E}rie\u{200B}".into());
    let (mut txn, change) = transaction_for("plain", &account);
    txn.merchant = merchant("Shop\u{202E}gnp.exe", "5411", "FR", Some("Ly\u{2066}on\u{2028}"));
    let (sent, stats) = send_one(&account, recorded(&account, &txn, change)).await;
    assert_eq!(stats.sent, 1, "the holder still gets the alert");
    let email = &sent[0].email;
    for (part, text) in [
        ("subject", email.subject.as_str()),
        ("text", email.text.as_str()),
        ("html", email.html.as_str()),
    ] {
        assert_eq!(
            txn_notify::domain::text::first_invisible_format(text),
            None,
            "{part}: {text:?}"
        );
    }
    assert!(email.subject.as_str().contains("Shopgnp.exe"), "{:?}", email.subject);
    assert!(email.text.contains("Marie") && email.text.contains("Lyon"));
    let display = email.to.display_name.as_ref().unwrap().expose().as_str().to_string();
    assert_eq!(txn_notify::domain::text::first_invisible_format(&display), None);
}

// ---- preferences -------------------------------------------------------------------------

async fn outcome_for(account: &Account, shape: &str, edit: impl FnOnce(&mut Transaction)) -> NotifyStats {
    let (mut txn, change) = transaction_for(shape, account);
    edit(&mut txn);
    let (_, stats) = send_one(account, recorded(account, &txn, change)).await;
    stats
}

#[tokio::test]
async fn email_disabled_stops_everything_but_critical_findings() {
    let mut account = french();
    account.preferences.email_enabled = false;
    for shape in [
        "plain",
        "low_balance",
        "spending_limit",
        "high_risk",
        "foreign",
        "reversed",
    ] {
        let stats = outcome_for(&account, shape, |_| {}).await;
        assert_eq!(
            (stats.sent, stats.suppressed_by_reason.get("email_disabled")),
            (0, Some(&1)),
            "{shape}"
        );
    }
    let stats = outcome_for(&account, "large", |_| {}).await;
    assert_eq!(stats.sent, 1, "a large transaction is critical");
    assert_eq!(send_one(&account, opened(&account)).await.1.suppressed, 1);
    assert_eq!(send_one(&account, statement(&account, 4, 4)).await.1.suppressed, 1);
}

#[tokio::test]
async fn a_closed_account_gets_no_email_at_all_and_a_frozen_one_keeps_its_alerts() {
    let mut closed = french();
    closed.status = txn_notify::domain::AccountStatus::Closed;
    for shape in ["plain", "large", "spending_limit", "reversed"] {
        let stats = outcome_for(&closed, shape, |_| {}).await;
        assert_eq!(
            (stats.sent, stats.suppressed_by_reason.get("account_closed")),
            (0, Some(&1)),
            "{shape}: even a critical finding"
        );
    }
    assert_eq!(
        send_one(&closed, opened(&closed))
            .await
            .1
            .suppressed_by_reason
            .get("account_closed"),
        Some(&1)
    );
    let statement_stats = send_one(&closed, statement(&closed, 4, 4)).await.1;
    assert_eq!(statement_stats.suppressed_by_reason.get("account_closed"), Some(&1));
    let mut frozen = french();
    frozen.status = txn_notify::domain::AccountStatus::Frozen;
    assert_eq!(outcome_for(&frozen, "large", |_| {}).await.sent, 1);
    assert_eq!(outcome_for(&frozen, "plain", |_| {}).await.sent, 1);
}

#[tokio::test]
async fn an_unsubscribed_statement_is_suppressed_and_nothing_else_is() {
    let mut account = french();
    account.preferences.statement_enabled = false;
    let (sent, stats) = send_one(&account, statement(&account, 4, 4)).await;
    assert!(sent.is_empty());
    assert_eq!(stats.suppressed_by_reason.get("statement_disabled"), Some(&1));
    assert_eq!(
        outcome_for(&account, "plain", |_| {}).await.sent,
        1,
        "alerts are transactional"
    );
    assert_eq!(send_one(&account, opened(&account)).await.1.sent, 1);
}

#[tokio::test]
async fn a_muted_category_stops_info_emails_but_not_warnings() {
    let mut account = french();
    account.preferences.muted_categories = vec!["groceries".into(), "gambling".into()];
    let stats = outcome_for(&account, "plain", |_| {}).await;
    assert_eq!(stats.suppressed_by_reason.get("muted_category"), Some(&1));
    // Low balance (warning) at the grocer still emails; so does a high-risk (warning) gamble.
    assert_eq!(outcome_for(&account, "low_balance", |_| {}).await.sent, 1);
    assert_eq!(outcome_for(&account, "high_risk", |_| {}).await.sent, 1);
    // Another category is not muted.
    assert_eq!(outcome_for(&account, "refund", |_| {}).await.sent, 1);
}

#[tokio::test]
async fn an_amount_under_the_minimum_stops_info_emails_but_not_warnings() {
    let mut account = french();
    account.preferences.min_amount_minor = Some(5_000);
    let stats = outcome_for(&account, "plain", |_| {}).await; // 45.99 EUR
    assert_eq!(stats.suppressed_by_reason.get("under_min_amount"), Some(&1));
    assert_eq!(
        outcome_for(&account, "plain", |t| t.amount = Money::new(5_000, Currency::EUR))
            .await
            .sent,
        1
    );
    assert_eq!(outcome_for(&account, "low_balance", |_| {}).await.sent, 1);
    // The minimum is in the account's currency: an amount in another one is not compared.
    let stats = outcome_for(&account, "plain", |t| t.amount = Money::new(100, Currency::USD)).await;
    assert_eq!(stats.sent, 1);
}

#[tokio::test]
async fn alerts_and_rejected_records_are_not_emailed_a_second_time() {
    let account = french();
    let (txn, change) = transaction_for("large", &account);
    let events = published(&account, &txn, change);
    assert!(events.len() > 1, "Transaction Recorded and its alert");
    let notifier = notifier(&[account]);
    let (failed, stats) = deliver(&notifier, sqs(&events)).await;
    assert!(failed.is_empty());
    assert_eq!((stats.sent, stats.not_emailed), (1, events.len() as u64 - 1));
}

// ---- idempotency ----------------------------------------------------------------------------

#[tokio::test]
async fn a_second_delivery_or_a_replay_is_skipped_and_counted() {
    let account = french();
    let (txn, change) = transaction_for("plain", &account);
    let event = recorded(&account, &txn, change);
    let notifier = notifier(&[account]);
    assert_eq!(deliver(&notifier, sqs(std::slice::from_ref(&event))).await.1.sent, 1);
    let (failed, stats) = deliver(&notifier, sqs(std::slice::from_ref(&event))).await;
    assert!(failed.is_empty());
    assert_eq!((stats.sent, stats.duplicates), (0, 1));
    let mut replayed = event.clone();
    replayed["replay-name"] = json!("incident-2026-11-20");
    replayed["id"] = json!("a-new-envelope-id");
    let (failed, stats) = deliver(&notifier, replayed).await;
    assert!(failed.is_empty());
    assert_eq!((stats.sent, stats.duplicates, stats.replays), (0, 1, 1));
    assert_eq!(notifier.mailer.sent().len(), 1);
}

#[tokio::test]
async fn a_replay_of_an_event_that_was_never_emailed_sends_it_now() {
    let account = french();
    let (txn, change) = transaction_for("plain", &account);
    let mut replayed = recorded(&account, &txn, change);
    replayed["replay-name"] = json!("incident-2026-11-20");
    let notifier = notifier(&[account]);
    let (failed, stats) = deliver(&notifier, replayed).await;
    assert!(failed.is_empty());
    assert_eq!((stats.sent, stats.replays), (1, 1));
}

#[tokio::test]
async fn a_delivery_while_another_is_sending_is_retried_and_sends_nothing() {
    let account = french();
    let (txn, change) = transaction_for("plain", &account);
    let event = recorded(&account, &txn, change);
    let event_id = event["detail"]["event_id"].as_str().unwrap().to_string();
    let notifier = notifier(&[account]);
    let now = common::now();
    let claim = notifier
        .idempotency
        .claim(&email_key(&event_id), now, now + Duration::minutes(2))
        .await;
    assert_eq!(claim, Ok(Claim::Acquired));
    let (failed, stats) = deliver(&notifier, sqs(&[event])).await;
    assert_eq!(failed, ["m-0"]);
    assert_eq!((stats.sent, stats.retried), (0, 1));
    assert!(notifier.mailer.sent().is_empty());
}

#[tokio::test]
async fn a_transient_mail_failure_releases_the_key_and_the_redelivery_sends() {
    let account = french();
    let (txn, change) = transaction_for("plain", &account);
    let event = recorded(&account, &txn, change);
    let notifier = notifier(&[account]);
    notifier.mailer.fail_next([
        MailError::Throttled("Maximum sending rate exceeded.".into()),
        MailError::Transient("503 Service Unavailable".into()),
    ]);
    let (failed, stats) = deliver(&notifier, sqs(std::slice::from_ref(&event))).await;
    assert_eq!(
        (failed.as_slice(), stats.retried, stats.throttled),
        (&["m-0".to_string()][..], 1, 1)
    );
    let (failed, stats) = deliver(&notifier, sqs(std::slice::from_ref(&event))).await;
    assert_eq!((failed.len(), stats.retried, stats.throttled), (1, 1, 0));
    let (failed, stats) = deliver(&notifier, sqs(&[event])).await;
    assert!(failed.is_empty());
    assert_eq!(stats.sent, 1);
    assert_eq!(notifier.mailer.sent().len(), 1);
}

#[tokio::test]
async fn a_rejected_message_is_counted_not_retried_and_not_sent_again() {
    let account = french();
    let (txn, change) = transaction_for("plain", &account);
    let event = recorded(&account, &txn, change);
    let notifier = notifier(&[account]);
    notifier.mailer.fail_next([MailError::Rejected(
        "Email address is not verified: acc-fr-001@example.com".into(),
    )]);
    let (failed, stats) = deliver(&notifier, sqs(std::slice::from_ref(&event))).await;
    assert!(failed.is_empty(), "a permanent rejection is acknowledged");
    assert_eq!((stats.rejected, stats.sent), (1, 0));
    let (_, stats) = deliver(&notifier, sqs(&[event])).await;
    assert_eq!((stats.duplicates, stats.sent), (1, 0), "and not tried again");
}

#[tokio::test]
async fn an_unusable_address_is_rejected_without_trying_the_mail_service() {
    let mut account = french();
    account.email = Pii("not-an-address".into());
    let (txn, change) = transaction_for("plain", &account);
    let (sent, stats) = send_one(&account, recorded(&account, &txn, change)).await;
    assert!(sent.is_empty());
    assert_eq!(stats.rejected, 1);
}

// ---- partial batches -------------------------------------------------------------------------

#[tokio::test]
async fn only_the_failed_messages_are_named_in_the_batch_response() {
    let account = french();
    let events: Vec<Value> = ["plain", "refund", "top_up"]
        .iter()
        .map(|shape| {
            let (txn, change) = transaction_for(shape, &account);
            recorded(&account, &txn, change)
        })
        .collect();
    let mut bodies = events.clone();
    bodies.insert(1, json!({"not": "an event"}));
    let mut bad_detail = events[0].clone();
    bad_detail["detail"]["transaction"]["amount_minor"] = json!("a lot");
    bodies.push(bad_detail);
    let notifier = notifier(&[account]);
    notifier.mailer.fail_next([MailError::Throttled("slow down".into())]);
    let (failed, stats) = deliver(&notifier, sqs(&bodies)).await;
    // m-0 throttled, m-1 not an event, m-4 a detail that breaks its schema.
    assert_eq!(failed, ["m-0", "m-1", "m-4"]);
    assert_eq!((stats.sent, stats.retried, stats.malformed), (2, 1, 2));
}

#[tokio::test]
async fn a_detail_that_names_a_key_twice_is_malformed_and_nothing_is_sent() {
    let account = french();
    let (txn, change) = transaction_for("plain", &account);
    let event = recorded(&account, &txn, change);
    let text = event.to_string();
    assert!(text.contains(r#""detail":{"#));
    // Which account is it for? The text says both: refused, not guessed.
    let twice = text.replacen(r#""detail":{"#, r#""detail":{"account_id":"bank:acc-someone-else","#, 1);
    let mut payload = sqs(&[event]);
    payload["Records"][0]["body"] = json!(twice);
    let notifier = notifier(&[account]);
    let (failed, stats) = deliver(&notifier, payload).await;
    assert_eq!(failed, ["m-0"]);
    assert_eq!((stats.sent, stats.malformed), (0, 1));
    assert!(notifier.mailer.sent().is_empty());
}

#[tokio::test]
async fn profiles_are_loaded_once_per_batch_and_a_failing_ledger_means_retry() {
    let account = french();
    let (txn, change) = transaction_for("plain", &account);
    let event = recorded(&account, &txn, change);
    let notifier = notifier(std::slice::from_ref(&account));
    notifier.ledger.inject(LedgerFaults {
        always_fail: true,
        ..LedgerFaults::default()
    });
    let (failed, stats) = deliver(&notifier, sqs(std::slice::from_ref(&event))).await;
    assert_eq!((failed.len(), stats.retried), (1, 1));

    let unknown = notifier_with(&[], common::now());
    let (failed, stats) = deliver(&unknown, sqs(&[event])).await;
    assert!(
        failed.is_empty(),
        "an account with no profile cannot be emailed: acknowledged"
    );
    assert_eq!(stats.no_profile, 1);
}

#[tokio::test]
async fn long_statements_say_how_many_are_not_listed() {
    let account = french();
    let (sent, _) = send_one(&account, statement(&account, 200, 233)).await;
    let text = &sent[0].email.text;
    assert!(
        text.contains("Seules les 200 premières opérations sont listées ici\u{a0}; retrouvez les 233"),
        "{text}"
    );
    assert_eq!(text.matches(" · ").count(), 400, "200 lines of two separators");
}

/// The Account Updated event of a change to `account` (as it is after the change).
fn updated(account: &Account, changed: &[&str]) -> Value {
    let changed: Vec<String> = changed.iter().map(|c| c.to_string()).collect();
    envelope(&BusEvent::AccountUpdated(txn_notify::domain::AccountUpdated {
        header: Header::new(
            event_id::for_account_updated(&account.account_id, account.version, "before", &changed.join(",")),
            &account.account_id,
            Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).unwrap(),
        ),
        severity: txn_notify::domain::AccountUpdated::severity_of(&changed),
        changed,
        version: account.version,
        account: account.into(),
    }))
}

fn with_new_address(mut account: Account) -> Account {
    account.previous_email = Some(account.email.clone());
    account.email = Pii(format!("new.{}", account.email.expose()));
    account.version = 2;
    account
}

#[tokio::test]
async fn an_address_change_warns_the_old_address_and_confirms_the_new_one_in_both_languages() {
    for account in [with_new_address(french()), with_new_address(english())] {
        let notifier = notifier(std::slice::from_ref(&account));
        let (failed, stats) = deliver(&notifier, sqs(&[updated(&account, &["email", "updated_at"])])).await;
        assert!(failed.is_empty(), "{failed:?}");
        let sent = notifier.mailer.sent();
        assert_eq!(stats.sent, 2, "{stats:?}");
        let to: Vec<&str> = sent.iter().map(|s| s.email.to.address.expose().as_str()).collect();
        assert_eq!(
            to,
            [
                account.previous_email.as_ref().unwrap().expose().as_str(),
                account.email.expose().as_str()
            ],
            "the notice to the old address, then the confirmation to the new one"
        );
        check_golden(&format!("{}/address_changed", account.locale), &golden_text(&sent[0]));
        check_golden(&format!("{}/address_confirmed", account.locale), &golden_text(&sent[1]));
        assert!(
            !sent[0].email.html.contains("href") && !sent[0].email.text.contains("http"),
            "the security notice has no link to click"
        );
        // One notification for the event, with both emails.
        let recorded = notifier.notifications.notification_records();
        assert_eq!(recorded.len(), 1);
        let emails: Vec<(&str, &str)> = recorded[0]
            .emails
            .iter()
            .map(|e| (e.template.as_str(), e.to.as_str()))
            .collect();
        assert_eq!(
            emails,
            [
                ("address_changed", "previous_address"),
                ("address_confirmed", "account")
            ]
        );
        assert_eq!(recorded[0].detail_type, "Account Updated");
    }
}

#[tokio::test]
async fn closure_sends_one_confirmation_then_nothing_and_freezing_sends_a_notice() {
    for base in [french(), english()] {
        let mut closed = base.clone();
        closed.status = txn_notify::domain::AccountStatus::Closed;
        closed.version = 3;
        let notifier = notifier(std::slice::from_ref(&closed));
        let (_, stats) = deliver(&notifier, sqs(&[updated(&closed, &["status"])])).await;
        assert_eq!(stats.sent_by_template.get("account_closed"), Some(&1), "{stats:?}");
        check_golden(
            &format!("{}/account_closed", closed.locale),
            &golden_text(&notifier.mailer.sent()[0]),
        );
        // After the closure: nothing, and every decision is still recorded.
        let (txn, change) = transaction_for("large", &closed);
        let later = [
            recorded(&closed, &txn, change),
            statement(&closed, 2, 2),
            updated(&with_new_address(closed.clone()), &["email"]),
        ];
        let (_, stats) = deliver(&notifier, sqs(&later)).await;
        assert_eq!((stats.sent, stats.suppressed), (0, 3), "{stats:?}");
        let reasons: Vec<Option<String>> = notifier
            .notifications
            .notification_records()
            .iter()
            .filter(|n| n.decision == txn_notify::domain::Decision::Suppressed)
            .map(|n| n.reason.clone())
            .collect();
        assert_eq!(reasons, vec![Some("account_closed".to_string()); 3]);

        let mut frozen = base.clone();
        frozen.status = txn_notify::domain::AccountStatus::Frozen;
        let freezing = notifier_with(std::slice::from_ref(&frozen), common::now());
        let (_, stats) = deliver(&freezing, sqs(&[updated(&frozen, &["status"])])).await;
        assert_eq!(stats.sent_by_template.get("account_frozen"), Some(&1), "{stats:?}");
        check_golden(
            &format!("{}/account_frozen", frozen.locale),
            &golden_text(&freezing.mailer.sent()[0]),
        );
    }
}

#[tokio::test]
async fn other_account_changes_and_reopening_send_nothing_and_record_nothing() {
    let mut account = french();
    account.preferences.email_enabled = false;
    let notifier = notifier(std::slice::from_ref(&account));
    let events = [
        updated(&account, &["thresholds", "preferences"]),
        updated(&account, &["status"]),
        updated(&account, &["holder", "locale", "time_zone"]),
    ];
    let (_, stats) = deliver(&notifier, sqs(&events)).await;
    assert_eq!((stats.sent, stats.not_emailed), (0, 3), "{stats:?}");
    assert!(notifier.notifications.notification_records().is_empty());
    // Security notices are service messages: email_enabled false does not stop them.
    let moved = with_new_address(account);
    let moving = notifier_with(std::slice::from_ref(&moved), common::now());
    assert_eq!(deliver(&moving, sqs(&[updated(&moved, &["email"])])).await.1.sent, 2);
}

#[tokio::test]
async fn an_address_change_retried_halfway_sends_each_email_once() {
    let account = with_new_address(french());
    let notifier = notifier(std::slice::from_ref(&account));
    notifier.mailer.fail_next([MailError::Throttled("first try".into())]);
    let event = updated(&account, &["email"]);
    // The notice is throttled, nothing is recorded, the message is retried.
    let (failed, _) = deliver(&notifier, sqs(std::slice::from_ref(&event))).await;
    assert_eq!(failed.len(), 1);
    assert!(notifier.notifications.notification_records().is_empty());
    let (failed, stats) = deliver(&notifier, sqs(std::slice::from_ref(&event))).await;
    assert!(failed.is_empty());
    assert_eq!(stats.sent, 2);
    // Once more (a redelivery): nothing sent, the same decision with the same message ids.
    let first = notifier.notifications.notification_records();
    let (_, stats) = deliver(&notifier, sqs(&[event])).await;
    assert_eq!((stats.sent, stats.duplicates), (0, 2));
    assert_eq!(notifier.mailer.sent().len(), 2);
    assert_eq!(notifier.notifications.notification_records(), first);
}

#[tokio::test]
async fn every_decision_is_recorded_with_its_message_id_or_its_reason() {
    let mut account = french();
    account.preferences.muted_categories = vec!["restaurants".into()];
    let notifier = notifier(std::slice::from_ref(&account));
    let (plain, change) = transaction_for("plain", &account);
    let mut groceries = plain.clone();
    groceries.transaction_id = "t-groceries".into();
    groceries.merchant = merchant("Le Bistrot", "5812", "FR", Some("Paris"));
    let events = [
        recorded(&account, &plain, change),
        recorded(&account, &groceries, change),
        opened(&account),
    ];
    let (failed, stats) = deliver(&notifier, sqs(&events)).await;
    assert!(failed.is_empty());
    assert_eq!((stats.sent, stats.suppressed), (2, 1), "{stats:?}");
    let sent_ids: Vec<String> = notifier.mailer.sent().iter().map(|s| s.message_id.clone()).collect();
    let mut records = notifier.notifications.notification_records();
    records.sort_by(|a, b| a.transaction_id.cmp(&b.transaction_id));
    type Summary<'a> = (Option<&'a str>, &'a str, Option<&'a str>, Option<&'a str>);
    let summary: Vec<Summary> = records
        .iter()
        .map(|n| {
            (
                n.transaction_id.as_deref(),
                n.decision.as_str(),
                n.reason.as_deref(),
                n.primary_email().and_then(|e| e.message_id.as_deref()),
            )
        })
        .collect();
    assert_eq!(summary.len(), 3);
    assert_eq!(summary[0].0, None, "Account Opened has no transaction");
    assert_eq!(summary[0].1, "sent");
    assert_eq!(
        summary[1],
        (Some("t-groceries"), "suppressed", Some("muted_category"), None)
    );
    assert_eq!(summary[2].0, Some("t-plain"));
    for record in [&records[0], &records[2]] {
        let email = record.primary_email().unwrap();
        assert!(sent_ids.contains(email.message_id.as_ref().unwrap()), "{record:?}");
        assert_eq!(email.delivery_state, txn_notify::domain::DeliveryState::Sent);
    }
}

#[tokio::test]
async fn a_failing_audit_trail_retries_the_message_and_sends_nothing_twice() {
    let account = french();
    let notifier = notifier(std::slice::from_ref(&account));
    notifier.notifications.fail_next_writes(100);
    let (txn, change) = transaction_for("plain", &account);
    let event = recorded(&account, &txn, change);
    let (failed, stats) = deliver(&notifier, sqs(std::slice::from_ref(&event))).await;
    assert_eq!((failed.len(), stats.sent, stats.retried), (1, 1, 1), "{stats:?}");
    notifier.notifications.fail_next_writes(0);
    let (failed, stats) = deliver(&notifier, sqs(&[event])).await;
    assert!(failed.is_empty());
    assert_eq!((stats.sent, stats.duplicates), (0, 1));
    let records = notifier.notifications.notification_records();
    assert_eq!(
        records[0].primary_email().and_then(|e| e.message_id.clone()),
        Some(notifier.mailer.sent()[0].message_id.clone()),
        "the redelivery records the message id the first one got"
    );
}

#[tokio::test]
async fn statements_carry_a_one_click_unsubscribe_and_alerts_do_not() {
    let account = english();
    let (sent, _) = send_one(&account, statement(&account, 2, 2)).await;
    let email = &sent[0].email;
    let link = email.header("List-Unsubscribe").unwrap();
    assert_eq!(
        email.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    let url = link.strip_prefix('<').and_then(|l| l.strip_suffix('>')).unwrap();
    let token = url.strip_prefix(&format!("{API_URL}/v1/unsubscribe/")).unwrap();
    assert_eq!(
        txn_notify::domain::unsubscribe::verify(
            &[SECRET],
            token,
            txn_notify::domain::unsubscribe::STATEMENT_PURPOSE,
            common::now() + Duration::days(90)
        ),
        Ok(account.account_id.clone())
    );
    assert!(email.text.contains(url), "the body links to the page as well");
    for shape in ["plain", "large"] {
        let (txn, change) = transaction_for(shape, &account);
        let (sent, _) = send_one(&account, recorded(&account, &txn, change)).await;
        assert!(sent[0].email.headers.is_empty(), "alerts are transactional: {shape}");
    }
    let (sent, _) = send_one(&account, opened(&account)).await;
    assert!(sent[0].email.headers.is_empty());
}

// ---- undeliverable addresses -------------------------------------------------------------------

/// `account` after SES's feedback marked its address undeliverable.
fn bounced_address(mut account: Account) -> Account {
    account.email_status = Some(txn_notify::domain::EmailStatus::undeliverable(
        account.email.expose(),
        txn_notify::domain::UndeliverableReason::Bounce,
        common::now(),
    ));
    account
}

fn reported(notifier: &TestNotifier) -> Vec<Value> {
    notifier
        .bus
        .published()
        .iter()
        .map(|e| {
            assert_eq!(e.detail_type, "Notification Undeliverable");
            assert_eq!(e.source, "txn-notify");
            serde_json::from_str(&e.detail).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn nothing_goes_to_an_undeliverable_address_and_a_warning_not_delivered_is_reported_once() {
    let account = bounced_address(french());
    let (large, change) = transaction_for("large", &account);
    let warning = recorded(&account, &large, change);
    assert_eq!(warning["detail"]["severity"], "critical");
    let (plain, change) = transaction_for("plain", &account);
    let info = recorded(&account, &plain, change);
    let notifier = notifier(std::slice::from_ref(&account));
    let (failed, stats) = deliver(&notifier, sqs(&[warning.clone(), info, statement(&account, 2, 2)])).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert!(notifier.mailer.sent().is_empty(), "not one email to the address");
    assert_eq!(stats.suppressed_by_reason.get("address_undeliverable"), Some(&3));
    assert_eq!(
        stats.undeliverable, 1,
        "the critical one only: info is not worth another channel"
    );
    let report = &reported(&notifier)[0];
    assert_eq!(report["original_event_id"], warning["detail"]["event_id"]);
    assert_eq!(report["original_detail_type"], "Transaction Recorded");
    assert_eq!(report["transaction_id"], "t-large");
    assert_eq!(
        (
            &report["reason"],
            &report["severity"],
            &report["template"],
            &report["message_id"]
        ),
        (
            &json!("address_undeliverable"),
            &json!("critical"),
            &Value::Null,
            &Value::Null
        )
    );
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["detail_type"], "Large Transaction");
    assert_eq!(findings[0]["event_id"], warning["detail"]["findings"][0]["event_id"]);
    let decisions = notifier.notifications.notification_records();
    assert!(
        decisions
            .iter()
            .all(|n| n.decision.as_str() == "suppressed" && n.reason.as_deref() == Some("address_undeliverable")),
        "{decisions:?}"
    );
    // A redelivery or a replay reports nothing a second time.
    let (_, stats) = deliver(&notifier, sqs(&[warning])).await;
    assert_eq!(stats.undeliverable, 0);
    assert_eq!(reported(&notifier).len(), 1);
}

#[tokio::test]
async fn a_frozen_account_with_an_undeliverable_address_is_reported_and_a_new_address_is_not_blocked() {
    let mut frozen = bounced_address(english());
    frozen.status = txn_notify::domain::AccountStatus::Frozen;
    frozen.version = 4;
    let frozen_notifier = notifier(std::slice::from_ref(&frozen));
    let (_, stats) = deliver(&frozen_notifier, sqs(&[updated(&frozen, &["status"])])).await;
    assert_eq!(stats.sent, 0);
    assert_eq!(stats.undeliverable, 1, "Account Updated of status is a warning");
    assert_eq!(reported(&frozen_notifier)[0]["original_detail_type"], "Account Updated");

    // The customer moves to a new address: the status concerns the old one only (ingest
    // clears it; even left in place, it does not match the new address).
    let moved = with_new_address(bounced_address(english()));
    let notifier = notifier(std::slice::from_ref(&moved));
    let (_, stats) = deliver(&notifier, sqs(&[updated(&moved, &["email"])])).await;
    let sent: Vec<String> = notifier
        .mailer
        .sent()
        .iter()
        .map(|s| s.email.to.address.expose().clone())
        .collect();
    assert_eq!(
        sent,
        [moved.email.expose().clone()],
        "the new address confirms; the bounced one gets nothing"
    );
    assert_eq!(stats.sent_by_template.get("address_confirmed"), Some(&1));
}

#[tokio::test]
async fn a_message_ses_refuses_at_once_is_recorded_rejected_and_reported_once() {
    let account = french();
    let (txn, change) = transaction_for("plain", &account);
    let event = recorded(&account, &txn, change);
    let notifier = notifier(&[account]);
    notifier.mailer.fail_next([MailError::Rejected(
        "MessageRejected: Email address is on the suppression list".into(),
    )]);
    let (failed, stats) = deliver(&notifier, sqs(std::slice::from_ref(&event))).await;
    assert!(failed.is_empty(), "not failed forever: acknowledged");
    assert_eq!((stats.rejected, stats.undeliverable), (1, 1));
    let report = &reported(&notifier)[0];
    assert_eq!(
        (&report["reason"], &report["template"]),
        (&json!("rejected"), &json!("transaction"))
    );
    let recorded = notifier.notifications.notification_records();
    assert_eq!(recorded[0].emails[0].delivery_state.as_str(), "rejected");
    let (_, stats) = deliver(&notifier, sqs(&[event])).await;
    assert_eq!((stats.duplicates, stats.undeliverable), (1, 0));
    assert_eq!(reported(&notifier).len(), 1, "once");
}

#[tokio::test]
async fn a_report_the_bus_does_not_take_retries_the_message_and_sends_nothing() {
    let account = bounced_address(french());
    let (large, change) = transaction_for("large", &account);
    let event = recorded(&account, &large, change);
    let notifier = Notifier::new(
        common::ledger_with(std::slice::from_ref(&account)),
        MemoryMailer::new(),
        MemoryBus::failing_calls(|_| Some(txn_notify::ports::PortError::transient("ThrottlingException"))),
        MemoryIdempotency::new(),
        MemoryAuditLog::new(),
        FixedSecret::new(SECRET),
        FrozenClock::at(common::now()),
        NotifyConfig::new(sender()),
    );
    let (failed, stats) = deliver(&notifier, sqs(std::slice::from_ref(&event))).await;
    assert_eq!(failed, ["m-0"]);
    assert_eq!(stats.retried, 1);
    assert!(notifier.mailer.sent().is_empty());
    // The decision is recorded; the redelivery records it again (a suppressed one is
    // replaced) and reports then.
    assert_eq!(notifier.notifications.notification_records().len(), 1);
}

#[tokio::test]
async fn a_replay_of_an_alert_sent_before_the_address_bounced_reports_nothing() {
    let account = french();
    let (large, change) = transaction_for("large", &account);
    let event = recorded(&account, &large, change);
    let ledger = common::ledger_with(std::slice::from_ref(&account));
    let notifier = Notifier::new(
        ledger,
        MemoryMailer::new(),
        MemoryBus::new(),
        MemoryIdempotency::new(),
        MemoryAuditLog::new(),
        FixedSecret::new(SECRET),
        FrozenClock::at(common::now()),
        NotifyConfig::new(sender()),
    );
    let (_, stats) = deliver(&notifier, sqs(std::slice::from_ref(&event))).await;
    assert_eq!(stats.sent, 1);
    // Then the address bounces (feedback marks it), and the archive is replayed.
    let marked = bounced_address(account.clone());
    use txn_notify::ports::Ledger;
    notifier.ledger.update_account(&marked, account.version).await.unwrap();
    let (failed, stats) = deliver(&notifier, sqs(&[event])).await;
    assert!(failed.is_empty());
    assert_eq!((stats.sent, stats.undeliverable), (0, 0), "{stats:?}");
    assert!(
        reported(&notifier).is_empty(),
        "the alert did go out: feedback reports its bounce"
    );
    let decisions = notifier.notifications.notification_records();
    assert_eq!(decisions[0].decision.as_str(), "sent", "the sent decision stays");
}

#[test]
fn emails_carry_the_tags_feedback_needs() {
    let account = french();
    let (txn, change) = transaction_for("large", &account);
    let (sent, _) = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(send_one(&account, recorded(&account, &txn, change)));
    let tags: std::collections::BTreeMap<&str, &str> = sent[0]
        .email
        .tags
        .iter()
        .map(|t| (t.name.as_str(), t.value.as_str()))
        .collect();
    assert_eq!(tags["account_id"], account.account_id);
    assert_eq!(tags["template"], "transaction");
    assert_eq!(tags["severity"], "critical");
    assert_eq!(tags["transaction_id"], "t-large");
    assert_eq!(tags["detail_type"], "Transaction_Recorded");
    assert!(!tags.values().any(|v| v.contains('@')), "no address in a tag");
}
