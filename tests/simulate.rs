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
        shards: 1,
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
        shards: 1,
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
        shards: 1,
    };
    let (report, mut judged) = simulate_judged(&options, &Quiet).await.unwrap();
    assert_eq!((report.lost, report.duplicated), (0, 0));
    assert_eq!(judged.len(), 1, "one shard, one judge");
    let expected = judged.remove(0);

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

#[tokio::test]
async fn a_run_split_by_account_does_what_the_whole_run_does_and_keeps_each_account_in_one_shard() {
    let options = |shards: usize, crash_after: Option<u64>| SimulateOptions {
        accounts: 30,
        transactions: 1_200,
        seed: 5,
        faults: 0.0,
        crash_after,
        data_dir: temp_dir(&format!("shards-{shards}")),
        starts_at: Some(a_sunday_afternoon()),
        shards,
    };
    let whole = simulate(&options(1, None), &Quiet).await.unwrap();
    let split_options = options(3, Some(4));
    let split = simulate(&split_options, &Quiet).await.unwrap();
    assert_eq!((split.lost, split.duplicated), (0, 0), "{:?}", split.examples);
    assert_eq!((split.shards, whole.shards), (3, 1));
    assert_eq!(split.crashes, 1, "shard 0 crashes, once");
    // What the workload and the rules make does not depend on the split: an account's
    // records stay in order in its shard.
    assert_eq!(
        (split.accounts, split.transactions_in, split.malformed_written),
        (whole.accounts, whole.transactions_in, whole.malformed_written)
    );
    let without_feedback = |report: &txn_notify::local::tools::simulate::Report| {
        let mut events = report.events_by_detail_type.clone();
        // Depends on when SES's feedback comes, which is real time.
        events.remove("Notification Undeliverable");
        events
    };
    assert_eq!(without_feedback(&split), without_feedback(&whole));
    assert_eq!(
        split.emails_sent + split.emails_suppressed_undeliverable,
        whole.emails_sent + whole.emails_suppressed_undeliverable,
        "every expected email sent once or suppressed, split or not"
    );
    assert_eq!(
        split.addresses_marked_undeliverable,
        whole.addresses_marked_undeliverable
    );
    assert_eq!(
        (split.monday_from.clone(), split.monday_to.clone(), split.planner_runs),
        (whole.monday_from.clone(), whole.monday_to.clone(), whole.planner_runs)
    );
    assert!(split.statements_expected > 0);
    assert_eq!(split.statements_expected, whole.statements_expected);
    assert_eq!(split.statements_published, split.statements_expected);
    // Every shard's emails are timed (how many reach an undeliverable address is real time).
    let samples = split.insert_to_email.as_ref().unwrap().samples as u64;
    assert!(
        samples > split.transactions_in / 2,
        "{samples} of {}",
        split.transactions_in
    );

    // Each account in exactly the shard its id routes it to, and the folder marked.
    let dir = &split_options.data_dir;
    assert_eq!(txn_notify::local::embedded::shards::shard_count(dir).unwrap(), Some(3));
    let mut accounts = std::collections::BTreeSet::new();
    for shard in 0..3 {
        let store = EmbeddedStore::open(&dir.join(format!("shard-{shard}")), Arc::new(SkippingClock::new())).unwrap();
        let held = store.accounts().unwrap();
        assert!(!held.is_empty(), "shard {shard} holds accounts");
        for account in held {
            assert_eq!(
                txn_notify::local::embedded::shards::shard_of(&account.account_id, 3),
                shard,
                "{}",
                account.account_id
            );
            assert!(accounts.insert(account.account_id), "an account in one shard only");
        }
    }
    assert_eq!(accounts.len() as u64, split.accounts);

    // A store does not open at the top of a sharded folder: it would be a new, empty one.
    let refused = EmbeddedStore::open(dir, Arc::new(SkippingClock::new())).err().unwrap();
    assert!(refused.to_string().contains("split into 3 shards"), "{refused}");
    assert!(!dir.join("txn-notify.db").exists());

    // The same folder, simulated again unsplit, is one store again.
    let again = SimulateOptions {
        data_dir: dir.clone(),
        ..options(1, None)
    };
    let report = simulate(&again, &Quiet).await.unwrap();
    assert_eq!((report.lost, report.duplicated, report.shards), (0, 0, 1));
    assert!(dir.join("txn-notify.db").exists() && !dir.join("shard-0").exists());
    assert_eq!(txn_notify::local::embedded::shards::shard_count(dir).unwrap(), None);
}
