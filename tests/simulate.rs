//! `simulate` end to end: the embedded runtime under injected faults and a crash loses
//! nothing and does nothing twice, as the report computes it against the rule engine.

use std::sync::Arc;

use txn_notify::clock::SkippingClock;
use txn_notify::local::embedded::store::EmbeddedStore;
use txn_notify::local::tools::simulate::report::{Observed, judge};
use txn_notify::local::tools::simulate::{
    Expected, Quiet, SimulateOptions, expected_statements, simulate, simulate_judged,
};
use txn_notify::ports::Ledger;

/// Sunday 16:05 UTC: the planner's 16:00 run is past, its 17:00 to Monday 18:00 runs are
/// not. A run that checks statements starts here, not from now: from now, a run on a Monday
/// afternoon finds no zone with a statement still due.
fn a_sunday_afternoon() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-29T16:05:00Z")
        .unwrap()
        .to_utc()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "txn-notify-simulate-{name}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap()
    ))
}

#[tokio::test]
async fn faults_and_a_crash_lose_nothing_and_duplicate_nothing() {
    let options = SimulateOptions {
        accounts: 40,
        transactions: 1_500,
        seed: 7,
        faults: 0.1,
        crash_after: Some(5),
        data_dir: temp_dir("faults"),
        starts_at: None,
    };
    let report = simulate(&options, &Quiet).await.unwrap();
    assert_eq!((report.lost, report.duplicated), (0, 0), "{:?}", report.examples);
    assert_eq!(report.crashes, 1);
    assert!(report.faults_injected > 100, "{report:?}");
    assert!(report.transactions_in > 1_400);
    assert!(report.emails_sent > 1_000 && report.audit_items > report.emails_sent);
    assert!(
        report.rejected_records > 0,
        "the workload's malformed items become Record Rejected"
    );
    assert!(report.store.in_use_bytes > 0 && report.store.in_use_bytes <= report.store.file_bytes);
    let index = std::fs::read_to_string(options.data_dir.join("outbox/index.html")).unwrap();
    assert!(index.contains(&format!("Outbox: {} emails", report.emails_sent)));
    let metrics = std::fs::read_to_string(options.data_dir.join("metrics.emf")).unwrap();
    assert!(metrics.lines().any(|l| l.contains("\"EmailsSent\"")));
}

#[tokio::test]
async fn a_run_started_inside_the_statement_window_takes_the_rest_of_it() {
    let starts_at = a_sunday_afternoon();
    let options = SimulateOptions {
        accounts: 24,
        transactions: 300,
        seed: 11,
        faults: 0.0,
        crash_after: None,
        data_dir: temp_dir("sunday"),
        starts_at: Some(starts_at),
    };
    let report = simulate(&options, &Quiet).await.unwrap();
    assert_eq!((report.lost, report.duplicated), (0, 0), "{:?}", report.examples);
    assert_eq!(report.monday_from.as_deref(), Some("2026-11-29T17:00:00Z"));
    assert_eq!(report.monday_to.as_deref(), Some("2026-11-30T18:00:00Z"));
    assert_eq!(report.planner_runs, 26);
    assert!(report.statements_expected > 0, "{report:?}");
    assert_eq!(report.statements_published, report.statements_expected, "{report:?}");
}

#[tokio::test]
async fn the_check_sees_a_missing_email_a_missing_audit_item_and_a_second_email() {
    let options = SimulateOptions {
        accounts: 10,
        transactions: 200,
        seed: 3,
        faults: 0.0,
        crash_after: None,
        data_dir: temp_dir("check"),
        starts_at: Some(a_sunday_afternoon()),
    };
    let (report, expected) = simulate_judged(&options, &Quiet).await.unwrap();
    assert_eq!((report.lost, report.duplicated), (0, 0));

    // The first email of an event to an address SES's mailbox simulator delivers to (which
    // one comes first depends on the machine's speed, the batching window being real time):
    // an email to a bouncing address may be missing once its feedback is in, so it would not
    // count as lost.
    let deliverable = {
        let store = EmbeddedStore::open(&options.data_dir, Arc::new(SkippingClock::new())).unwrap();
        let mut found = None;
        for entry in store.outbox().unwrap() {
            let Some(event_id) = &entry.event_id else { continue };
            let Some(notification) = store.notification(event_id).unwrap() else {
                continue;
            };
            let account = store.get_account(&notification.account_id).await.unwrap().unwrap();
            if !account
                .email
                .expose()
                .ends_with(txn_notify::local::embedded::mailbox_simulator::SIMULATOR_DOMAIN)
            {
                found = Some(entry.number);
                break;
            }
        }
        found.expect("an email to a deliverable address")
    };
    // Tamper with what the run left: one email gone, another sent twice, one audit item gone.
    let db = rusqlite::Connection::open(options.data_dir.join("txn-notify.db")).unwrap();
    db.execute("DELETE FROM outbox WHERE number = ?1", [deliverable])
        .unwrap();
    db.execute(
        "INSERT INTO outbox (number, event_id, subject, file, sent_ms)
         SELECT 100000, event_id, subject, file, sent_ms FROM outbox
         WHERE number = (SELECT MIN(number) FROM outbox WHERE event_id IS NOT NULL)",
        [],
    )
    .unwrap();
    // An audit item of an event the rules give (a Notification Undeliverable depends on
    // the feedback's timing, and the check does not expect one).
    db.execute(
        "DELETE FROM audit WHERE event_id = (SELECT MIN(event_id) FROM audit
         WHERE detail_type <> 'Notification Undeliverable')",
        [],
    )
    .unwrap();
    drop(db);

    let store = Arc::new(EmbeddedStore::open(&options.data_dir, Arc::new(SkippingClock::new())).unwrap());
    // The statements of the run's Monday morning, each hour of its window, worked out again.
    let hour = |at: &Option<String>| {
        chrono::DateTime::parse_from_rfc3339(at.as_deref().unwrap())
            .unwrap()
            .to_utc()
    };
    let (from, to) = (hour(&report.monday_from), hour(&report.monday_to));
    let window: Vec<_> = (0..)
        .map(|h| from + chrono::Duration::hours(h))
        .take_while(|at| *at <= to)
        .collect();
    let mut recount = Expected::create(&options.data_dir.join("recount.db")).unwrap();
    let statements = expected_statements(&store, &window, &mut recount).await.unwrap();
    assert_eq!(statements, report.statements_expected);
    assert!(statements > 0, "{report:?}");
    let marked = txn_notify::local::tools::simulate::report::marked_accounts(&store)
        .await
        .unwrap();
    Observed::read(&store, &expected).unwrap();
    let verdict = judge(&expected, &marked).unwrap();
    assert_eq!((verdict.lost, verdict.duplicated), (2, 1), "{:?}", verdict.examples);
}
