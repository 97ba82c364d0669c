//! The DynamoDB adapters against DynamoDB Local, on tables made from template.yaml.

use chrono::{Duration, TimeZone, Utc};

use txn_notify::aws::dynamodb::item::to_sdk;
use txn_notify::aws::dynamodb::{DynamoAuditLog, DynamoLedger};
use txn_notify::domain::Currency;
use txn_notify::ports::{AccountWrite, AuditLog, Ledger, PutOutcome, TransactionWrite};

use crate::common::audit_contract::audit_record;
use crate::common::{account, purchase};
use crate::support::{create_table, dynamodb, unique};

pub async fn ledger() -> DynamoLedger {
    let client = dynamodb().await;
    let table = unique("ledger");
    create_table(&client, "LedgerTable", &table).await;
    DynamoLedger::new(client, table)
}

async fn item_count(ledger: &DynamoLedger) -> usize {
    let client = dynamodb().await;
    let output = client.scan().table_name(ledger.table()).send().await.unwrap();
    output.count as usize
}

/// The retry cases themselves are the ledger contract's (below); here, what DynamoDB holds.
#[tokio::test]
async fn a_cancelled_transaction_writes_nothing_and_an_unmarked_item_counts_as_stored() {
    let ledger = ledger().await;
    let eur = Currency::from_code("EUR").unwrap();
    let first = purchase("t-1", "acc-1", 1250, eur);
    ledger.put_transaction(&first, "fp-1").await.unwrap();
    let mut later = first.clone();
    later.booked_at += Duration::seconds(3);
    ledger.put_transaction(&later, "fp-2").await.unwrap();
    assert_eq!(item_count(&ledger).await, 2, "one transaction item and one marker");

    // A transaction written straight into the table by another system has no marker.
    let direct = purchase("t-2", "acc-1", 990, eur);
    let client = dynamodb().await;
    client
        .put_item()
        .table_name(ledger.table())
        .set_item(Some(to_sdk(direct.to_item())))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ledger.put_transaction(&direct, "fp-3").await.unwrap(),
        TransactionWrite::AlreadyStored {
            fingerprint: String::new()
        }
    );
    assert_eq!(
        item_count(&ledger).await,
        3,
        "the cancelled transaction wrote no marker"
    );
}

#[tokio::test]
async fn an_account_is_created_once_and_the_existing_one_comes_back() {
    let ledger = ledger().await;
    let marie = account("acc-fr", "FR", Currency::from_code("EUR").unwrap());
    assert_eq!(ledger.put_account(&marie).await.unwrap(), AccountWrite::Created);
    let mut other = marie.clone();
    other.country = txn_notify::domain::CountryCode::parse("BE").unwrap();
    match ledger.put_account(&other).await.unwrap() {
        AccountWrite::AlreadyExists(existing) => assert_eq!(*existing, marie),
        created => panic!("expected AlreadyExists, got {created:?}"),
    }
}

#[tokio::test]
async fn profiles_come_back_by_batch_and_missing_ones_are_absent() {
    let ledger = ledger().await;
    let eur = Currency::from_code("EUR").unwrap();
    for id in ["a", "b", "c"] {
        ledger.put_account(&account(id, "FR", eur)).await.unwrap();
    }
    let ids: Vec<String> = ["a", "b", "c", "missing", "a"].iter().map(|s| s.to_string()).collect();
    let batch = ledger.batch_get_accounts(&ids).await.unwrap();
    let mut found: Vec<&str> = batch.accounts.iter().map(|a| a.account_id.as_str()).collect();
    found.sort();
    assert_eq!(found, ["a", "b", "c"]);
    assert!(batch.unprocessed.is_empty());

    let too_many: Vec<String> = (0..101).map(|i| format!("acc-{i}")).collect();
    let error = ledger.batch_get_accounts(&too_many).await.unwrap_err();
    assert!(!error.is_transient(), "{error}");
}

#[tokio::test]
async fn the_zone_index_pages_through_due_accounts_only_and_never_reads_a_transaction() {
    let ledger = ledger().await;
    let eur = Currency::from_code("EUR").unwrap();
    let mut expected: Vec<String> = (0..7).map(|i| format!("acc-{i}")).collect();
    for id in &expected {
        ledger.put_account(&account(id, "FR", eur)).await.unwrap();
        for n in 0..20 {
            let txn = purchase(&format!("{id}-t{n}"), id, 100 + n, eur);
            ledger.put_transaction(&txn, "fp").await.unwrap();
        }
    }
    let mut tokyo = account("acc-tokyo", "JP", eur);
    tokyo.time_zone = Some("Asia/Tokyo".into());
    ledger.put_account(&tokyo).await.unwrap();
    expected.sort();

    let before = ledger.read_units();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = ledger
            .accounts_in_zone("Europe/Paris", after.as_deref(), 3)
            .await
            .unwrap();
        pages += 1;
        assert!(page.account_ids.len() <= 3);
        seen.extend(page.account_ids);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, expected, "in account_id order, each once");
    assert!(
        pages <= 4,
        "Limit counts index items only: {pages} pages for 7 accounts"
    );
    let units = ledger.read_units() - before;
    assert!(
        units > 0.0 && units <= f64::from(pages) * 0.5,
        "eventually consistent, keys only: at most half a unit a page, not the 140 transactions: {units}"
    );
    assert_eq!(
        ledger
            .accounts_in_zone("Asia/Tokyo", None, 10)
            .await
            .unwrap()
            .account_ids,
        ["acc-tokyo"]
    );
    let nobody = ledger.accounts_in_zone("America/Lima", None, 10).await.unwrap();
    assert!(nobody.account_ids.is_empty() && nobody.next.is_none());
}

#[tokio::test]
async fn audit_items_are_written_once_and_the_account_index_finds_them() {
    let client = dynamodb().await;
    let table = unique("audit");
    create_table(&client, "AuditTable", &table).await;
    let log = DynamoAuditLog::new(client.clone(), &table);

    let record = audit_record("ev-1", Some("acc-1"));
    assert_eq!(log.put_if_absent(&record).await.unwrap(), PutOutcome::Written);
    let mut replayed = record.clone();
    replayed.replay_name = Some("incident-42".into());
    replayed.received_at += Duration::hours(1);
    assert_eq!(log.put_if_absent(&replayed).await.unwrap(), PutOutcome::AlreadyPresent);
    // Rejected records of unreadable keys have no account: the index stays sparse.
    assert_eq!(
        log.put_if_absent(&audit_record("ev-2", None)).await.unwrap(),
        PutOutcome::Written
    );

    let stored = client
        .get_item()
        .table_name(&table)
        .key("event_id", aws_sdk_dynamodb::types::AttributeValue::S("ev-1".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let stored: serde_json::Value = serde_dynamo::from_item(txn_notify::aws::dynamodb::item::from_sdk(stored)).unwrap();
    assert_eq!(stored["received_at"], "2026-11-20T18:00:05Z", "the first write stands");
    assert!(stored.get("replay_name").is_none());
    assert_eq!(stored["detail"]["merchant"]["name"], "Café");
    assert_eq!(stored["detail"]["amount_minor"], 1250);
    assert_eq!(stored["expires_at"], record.expires_at);

    let by_account = client
        .query()
        .table_name(&table)
        .index_name("by-account")
        .key_condition_expression("account_id = :a")
        .expression_attribute_values(":a", aws_sdk_dynamodb::types::AttributeValue::S("acc-1".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(by_account.count, 1);
}

/// `metadata` nested `levels` deep (its own map included), with an exact number at the bottom.
fn nested_metadata(levels: usize) -> txn_notify::domain::Metadata {
    let mut text = r#"{"rate": 0.10, "ref": 123456789012345678901234567890}"#.to_string();
    for _ in 1..levels {
        text = format!(r#"{{"a": {text}}}"#);
    }
    let metadata = txn_notify::domain::Metadata::from_json_text(&text).unwrap();
    assert_eq!(metadata.depth(), levels);
    metadata
}

/// Ingest's bound on `metadata` nesting is DynamoDB's own: the deepest it takes is stored,
/// one level more is refused by DynamoDB itself; numbers keep every digit through the table.
#[tokio::test]
async fn metadata_as_deep_as_ingest_takes_is_stored_exactly_and_one_level_more_is_not() {
    use txn_notify::domain::MAX_METADATA_DEPTH;
    let ledger = ledger().await;
    let eur = Currency::from_code("EUR").unwrap();
    let mut deepest = purchase("t-deep", "acc-1", 1250, eur);
    deepest.metadata = Some(nested_metadata(MAX_METADATA_DEPTH));
    assert_eq!(
        ledger.put_transaction(&deepest, "fp").await.unwrap(),
        TransactionWrite::Stored
    );
    let page = ledger
        .query_transactions(&txn_notify::ports::TransactionQuery {
            account_id: "acc-1",
            from: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
            newest_first: true,
            limit: 10,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(
        page.transactions,
        [deepest.clone()],
        "read back as written, every digit"
    );

    let mut deeper = purchase("t-deeper", "acc-1", 1250, eur);
    deeper.metadata = Some(nested_metadata(MAX_METADATA_DEPTH + 1));
    let client = dynamodb().await;
    let refused = client
        .put_item()
        .table_name(ledger.table())
        .set_item(Some(to_sdk(deeper.to_item())))
        .send()
        .await
        .unwrap_err();
    let message = format!("{:?}", refused.into_service_error());
    assert!(message.contains("Nesting Levels"), "{message}");
}

#[tokio::test]
async fn an_account_written_before_versions_is_updated_from_version_1() {
    let client = dynamodb().await;
    let table = unique("ledger");
    create_table(&client, "LedgerTable", &table).await;
    let ledger = DynamoLedger::new(client.clone(), &table);
    let eur = Currency::from_code("EUR").unwrap();
    let account = account("acc-legacy", "FR", eur);
    let mut legacy = account.to_item();
    legacy.remove("version");
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(to_sdk(legacy)))
        .send()
        .await
        .unwrap();
    let mut next = account.clone();
    next.version = 3;
    assert_eq!(
        ledger.update_account(&next, 2).await.unwrap(),
        txn_notify::ports::AccountUpdate::Stale { current: 1 },
        "no version is version 1"
    );
    next.version = 2;
    assert_eq!(
        ledger.update_account(&next, 1).await.unwrap(),
        txn_notify::ports::AccountUpdate::Updated
    );
}

/// Two PATCH requests against the same version, at once, through ingest on DynamoDB: the
/// condition on `version` lets exactly one of them through; the other answers 412.
#[tokio::test]
async fn two_concurrent_patches_of_one_version_cannot_both_win() {
    use txn_notify::clock::FrozenClock;
    use txn_notify::local::memory::MemorySecrets;
    use txn_notify::pipeline::ingest::{Ingest, IngestConfig};

    let ledger = ledger().await;
    let eur = Currency::from_code("EUR").unwrap();
    ledger.put_account(&account("acc-race", "FR", eur)).await.unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 18, 0, 0).unwrap();
    let ingest = Ingest::new(
        ledger,
        txn_notify::local::memory::MemoryAuditLog::new(),
        MemorySecrets::local(),
        FrozenClock::at(now),
        IngestConfig::default(),
    );
    let request = |zone: &str| {
        let body = serde_json::json!({ "time_zone": zone }).to_string();
        let path = "/v1/accounts/acc-race";
        http::Request::builder()
            .method("PATCH")
            .uri(path)
            .header("content-type", "application/merge-patch+json")
            .header("if-match", "\"1\"")
            .header(
                "x-signature",
                txn_notify::pipeline::ingest::auth::sign(
                    txn_notify::local::LOCAL_SIGNING_SECRET.as_bytes(),
                    now.timestamp(),
                    "PATCH",
                    path,
                    body.as_bytes(),
                ),
            )
            .body(body.into_bytes())
            .unwrap()
    };
    let (a, b) = tokio::join!(
        ingest.handle(request("Europe/Lisbon")),
        ingest.handle(request("Europe/Berlin"))
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
    let stored = ingest.ledger.get_account("acc-race").await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    let winner = if a.status() == 200 {
        "Europe/Lisbon"
    } else {
        "Europe/Berlin"
    };
    assert_eq!(
        stored.time_zone.as_deref(),
        Some(winner),
        "the one that won is what is stored"
    );
}
