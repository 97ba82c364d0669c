//! `txn-notify backfill-statement-zones` on DynamoDB Local: a ledger written before the
//! `accounts-by-zone` index gets each account's `statement_zone`, so the planner's Query
//! finds them; nothing else of the items changes, and a second run changes nothing.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_dynamo::AttributeValue as A;
use serde_json::Value;

use txn_notify::aws::dynamodb::DynamoLedger;
use txn_notify::aws::dynamodb::item::{from_sdk, s, to_sdk};
use txn_notify::aws::dynamodb::zone_backfill::{StatementZoneBackfill, ZoneBackfill};
use txn_notify::domain::{Account, AccountStatus, Currency};
use txn_notify::ports::Ledger;

use crate::common::account;
use crate::support::{REGION, create_table, dynamodb, dynamodb_url, unique};

/// The command on `ids` (its stdin), with the standard AWS settings pointed at DynamoDB Local.
fn backfill_command(table: &str, ids: &str, extra: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_txn-notify"))
        .args(["backfill-statement-zones", "--table", table, "--json"])
        .args(extra)
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_url())
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(ids.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn tally(output: &Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).unwrap()
}

/// An account item as a table written before the index holds it: no `statement_zone`.
fn legacy_item(account: &Account) -> serde_dynamo::Item {
    let mut item = account.to_item();
    item.remove("statement_zone");
    item
}

async fn put(client: &aws_sdk_dynamodb::Client, table: &str, item: serde_dynamo::Item) {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(to_sdk(item)))
        .send()
        .await
        .unwrap();
}

async fn stored(client: &aws_sdk_dynamodb::Client, table: &str, id: &str) -> serde_dynamo::Item {
    let output = client
        .get_item()
        .table_name(table)
        .key("pk", s(format!("ACCOUNT#{id}")))
        .key("sk", s("PROFILE"))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    from_sdk(output.item.unwrap())
}

async fn in_zone(ledger: &DynamoLedger, zone: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ledger.accounts_in_zone(zone, after.as_deref(), 2).await.unwrap();
        ids.extend(page.account_ids);
        match page.next {
            Some(next) => after = Some(next),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn a_ledger_written_before_the_index_is_backfilled_once_and_nothing_else_changes() {
    let client = dynamodb().await;
    let table = unique("ledger-backfill");
    create_table(&client, "LedgerTable", &table).await;

    let with_zone = |id: &str, zone: Option<&str>| {
        let mut a = account(id, "FR", Currency::EUR);
        a.time_zone = zone.map(str::to_string);
        a
    };
    let tokyo = with_zone("acc-tokyo", Some("Asia/Tokyo"));
    let no_zone = with_zone("acc-no-zone", None);
    let unknown_zone = with_zone("acc-mars", Some("Mars/Olympus_Mons"));
    let mut closed = with_zone("acc-closed", Some("Asia/Tokyo"));
    closed.status = AccountStatus::Closed;
    let mut unsubscribed = with_zone("acc-unsubscribed", Some("Europe/London"));
    unsubscribed.preferences.statement_enabled = false;
    let already = with_zone("acc-already", Some("Europe/London"));
    let versionless = with_zone("acc-versionless", Some("America/New_York"));

    put(&client, &table, legacy_item(&tokyo)).await;
    put(&client, &table, legacy_item(&no_zone)).await;
    put(&client, &table, legacy_item(&unknown_zone)).await;
    // A closed account that still carries a key from before it was closed by another system.
    let mut stale = legacy_item(&closed);
    stale.insert("statement_zone".into(), A::S("Asia/Tokyo".into()));
    put(&client, &table, stale).await;
    put(&client, &table, legacy_item(&unsubscribed)).await;
    put(&client, &table, already.to_item()).await;
    let mut old = legacy_item(&versionless);
    old.remove("version");
    put(&client, &table, old).await;
    // A transaction: never given the key.
    let transaction = crate::common::purchase("t-1", "acc-tokyo", 1_250, Currency::EUR);
    put(&client, &table, transaction.to_item()).await;
    let before: Vec<_> = {
        let mut items = Vec::new();
        for id in [
            "acc-tokyo",
            "acc-no-zone",
            "acc-mars",
            "acc-closed",
            "acc-unsubscribed",
            "acc-versionless",
        ] {
            items.push((id, stored(&client, &table, id).await));
        }
        items
    };

    let ledger = DynamoLedger::new(client.clone(), &table);
    assert_eq!(
        in_zone(&ledger, "Asia/Tokyo").await,
        vec!["acc-closed"],
        "the stale key"
    );
    assert!(in_zone(&ledger, "Europe/Paris").await.is_empty());

    let ids = "acc-tokyo\nacc-no-zone\n\n  acc-mars  \nacc-closed\nacc-unsubscribed\nacc-already\nacc-versionless\nacc-ghost\n";
    // A dry run reads and counts, and writes nothing.
    let dry = tally(&backfill_command(&table, ids, &["--dry-run"]));
    assert_eq!(
        (
            &dry["set"],
            &dry["removed"],
            &dry["unchanged"],
            &dry["missing"],
            &dry["failed"]
        ),
        (
            &Value::from(4),
            &Value::from(1),
            &Value::from(2),
            &Value::from(1),
            &Value::from(0)
        ),
        "{dry}"
    );
    assert!(
        in_zone(&ledger, "Europe/Paris").await.is_empty(),
        "a dry run writes nothing"
    );

    let run = tally(&backfill_command(&table, ids, &["--concurrency", "3"]));
    assert_eq!(
        (
            &run["read"],
            &run["set"],
            &run["removed"],
            &run["unchanged"],
            &run["missing"]
        ),
        (
            &Value::from(8),
            &Value::from(4),
            &Value::from(1),
            &Value::from(2),
            &Value::from(1)
        ),
        "{run}"
    );
    assert_eq!(in_zone(&ledger, "Asia/Tokyo").await, vec!["acc-tokyo"]);
    // No zone, or one the IANA database does not know: Europe/Paris.
    assert_eq!(in_zone(&ledger, "Europe/Paris").await, vec!["acc-mars", "acc-no-zone"]);
    assert_eq!(in_zone(&ledger, "Europe/London").await, vec!["acc-already"]);
    assert_eq!(in_zone(&ledger, "America/New_York").await, vec!["acc-versionless"]);

    // Nothing but the key changed: not the version, not updated_at, nothing.
    for (id, item) in before {
        let mut now = stored(&client, &table, id).await;
        let mut was = item;
        now.remove("statement_zone");
        was.remove("statement_zone");
        assert_eq!(now, was, "{id}");
    }
    // The processor would take each account back from what is stored, as it was.
    let stored_versionless = stored(&client, &table, "acc-versionless").await;
    let read_back = Account::decode(&stored_versionless).unwrap();
    assert_eq!(read_back.time_zone.as_deref(), Some("America/New_York"));

    // A table that is not there stops the run at the first account, exit 2.
    let missing = backfill_command(&format!("{table}-absent"), ids, &[]);
    assert_eq!(missing.status.code(), Some(2));
    let stopped: Value = serde_json::from_str(String::from_utf8_lossy(&missing.stdout).trim()).unwrap();
    assert!(
        stopped["stopped"]
            .as_str()
            .unwrap()
            .contains("ResourceNotFoundException"),
        "{stopped}"
    );
    assert_eq!(stopped["read"], 0, "{stopped}");

    // Again: everything is already right.
    let again = tally(&backfill_command(&table, ids, &[]));
    assert_eq!(
        (&again["set"], &again["removed"], &again["unchanged"], &again["missing"]),
        (&Value::from(0), &Value::from(0), &Value::from(7), &Value::from(1)),
        "{again}"
    );
}

#[tokio::test]
async fn the_backfill_follows_a_change_made_by_another_system_between_runs() {
    let client = dynamodb().await;
    let table = unique("ledger-backfill-change");
    create_table(&client, "LedgerTable", &table).await;
    let mut moving = account("acc-moving", "FR", Currency::EUR);
    moving.time_zone = Some("Asia/Tokyo".into());
    put(&client, &table, legacy_item(&moving)).await;
    let backfill = StatementZoneBackfill::new(client.clone(), &table);
    assert_eq!(
        backfill.backfill("acc-moving", false).await.unwrap(),
        ZoneBackfill::Set("Asia/Tokyo")
    );
    // Another system moves the account to London and leaves the key as it was: the next
    // run reads the item as it is now and moves the key with it.
    let mut item = stored(&client, &table, "acc-moving").await;
    item.insert("time_zone".into(), A::S("Europe/London".into()));
    put(&client, &table, item).await;
    assert_eq!(
        backfill.backfill("acc-moving", false).await.unwrap(),
        ZoneBackfill::Set("Europe/London")
    );
    let ledger = DynamoLedger::new(client.clone(), &table);
    assert!(in_zone(&ledger, "Asia/Tokyo").await.is_empty());
    assert_eq!(in_zone(&ledger, "Europe/London").await, vec!["acc-moving"]);
    // Unsubscribed by another system: the key goes.
    let mut item = stored(&client, &table, "acc-moving").await;
    item.insert(
        "preferences".into(),
        A::M([("statement_enabled".to_string(), A::Bool(false))].into()),
    );
    put(&client, &table, item).await;
    assert_eq!(
        backfill.backfill("acc-moving", false).await.unwrap(),
        ZoneBackfill::Removed
    );
    assert!(in_zone(&ledger, "Europe/London").await.is_empty());
    // An item at an account's key that is no account txn-notify can read is left alone.
    put(
        &client,
        &table,
        std::collections::HashMap::from([
            ("pk".to_string(), A::S("ACCOUNT#acc-odd".into())),
            ("sk".to_string(), A::S("PROFILE".into())),
            ("type".to_string(), A::S("ACCOUNT".into())),
        ])
        .into(),
    )
    .await;
    assert_eq!(
        backfill.backfill("acc-odd", false).await.unwrap(),
        ZoneBackfill::Undecodable
    );
}
