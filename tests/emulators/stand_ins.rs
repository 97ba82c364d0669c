//! The answers the emulators cannot give, from a scripted endpoint on loopback, through the
//! same adapters and client settings as production: throttling, 5xx, UnprocessedKeys,
//! PutEvents failed entries, SES refusals.

use chrono::{TimeZone, Utc};
use serde_json::json;

use txn_notify::aws::dynamodb::DynamoLedger;
use txn_notify::aws::eventbridge::EventBridgeBus;
use txn_notify::aws::secrets::SecretsManagerSecrets;
use txn_notify::aws::ses::SesMailer;
use txn_notify::clock::FrozenClock;
use txn_notify::domain::Currency;
use txn_notify::domain::{Email, HeaderText, Mailbox};
use txn_notify::pipeline::RetryPolicy;
use txn_notify::pipeline::load_profiles;
use txn_notify::pipeline::{EntryGroup, PublishLimits, publish};
use txn_notify::ports::{BusEntry, EntryResult, EventBus, Ledger, MailError, Mailer, Secrets};

use crate::common::account;
use crate::stand_in::{Canned, StandIn};
use crate::support::config_for;

const TABLE: &str = "ledger";

async fn ledger_on(stand_in: &StandIn) -> DynamoLedger {
    DynamoLedger::new(aws_sdk_dynamodb::Client::new(&config_for(&stand_in.url).await), TABLE)
}

fn profile_json(id: &str) -> serde_json::Value {
    let item = account(id, "FR", Currency::from_code("EUR").unwrap()).to_item();
    serde_json::to_value(item).unwrap()
}

#[tokio::test]
async fn throttling_and_5xx_are_retried_by_the_sdk_then_reported_transient() {
    for (status, code) in [
        (
            400,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        ),
        (400, "com.amazonaws.dynamodb.v20120810#ThrottlingException"),
        (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),
    ] {
        let stand_in = StandIn::start(vec![Canned::json_error(status, code, "slow down")]).await;
        let ledger = ledger_on(&stand_in).await;
        let error = ledger.batch_get_accounts(&["a".to_string()]).await.unwrap_err();
        assert!(error.is_transient(), "{code}: {error}");
        assert!(error.message.contains("BatchGetItem"), "{error}");
        let requests = stand_in.requests();
        assert_eq!(requests.len(), 3, "{code}: the SDK's standard mode makes 3 attempts");
        assert_eq!(requests[0].target.as_deref(), Some("DynamoDB_20120810.BatchGetItem"));
    }
}

#[tokio::test]
async fn a_validation_error_is_permanent_and_not_retried() {
    let stand_in = StandIn::start(vec![Canned::json_error(
        400,
        "com.amazon.coral.validate#ValidationException",
        "The provided key element does not match the schema",
    )])
    .await;
    let error = ledger_on(&stand_in)
        .await
        .batch_get_accounts(&["a".to_string()])
        .await
        .unwrap_err();
    assert!(!error.is_transient(), "{error}");
    assert_eq!(stand_in.requests().len(), 1);
}

#[tokio::test]
async fn unprocessed_keys_are_handed_back_and_asked_for_again() {
    let stand_in = StandIn::start(vec![
        Canned::json(json!({
            "Responses": { TABLE: [profile_json("a")] },
            "UnprocessedKeys": { TABLE: { "Keys": [
                { "pk": {"S": "ACCOUNT#b"}, "sk": {"S": "PROFILE"} },
                { "pk": {"S": "ACCOUNT#c"}, "sk": {"S": "PROFILE"} }
            ] } }
        })),
        Canned::json(json!({ "Responses": { TABLE: [profile_json("b"), profile_json("c")] }, "UnprocessedKeys": {} })),
    ])
    .await;
    let ledger = ledger_on(&stand_in).await;
    let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let first = ledger.batch_get_accounts(&ids).await.unwrap();
    assert_eq!(first.accounts.len(), 1);
    assert_eq!(first.unprocessed, ["b", "c"]);

    let stand_in = StandIn::start(vec![
        Canned::json(json!({
            "Responses": { TABLE: [profile_json("a")] },
            "UnprocessedKeys": { TABLE: { "Keys": [ { "pk": {"S": "ACCOUNT#b"}, "sk": {"S": "PROFILE"} } ] } }
        })),
        Canned::json(json!({ "Responses": { TABLE: [profile_json("b")] } })),
    ])
    .await;
    let ledger = ledger_on(&stand_in).await;
    let clock = FrozenClock::at(Utc.with_ymd_and_hms(2026, 11, 20, 18, 0, 0).unwrap());
    let load = load_profiles(&ledger, &clock, &RetryPolicy::default(), &ids[..2]).await;
    assert!(load.unread.is_empty());
    assert_eq!(load.profiles.len(), 2);
    let asked: Vec<String> = stand_in.requests().iter().map(|r| r.body.clone()).collect();
    assert_eq!(asked.len(), 2);
    assert!(
        asked[1].contains("ACCOUNT#b") && !asked[1].contains("ACCOUNT#a"),
        "only the unprocessed key is asked again: {}",
        asked[1]
    );
    assert_eq!(clock.sleeps().len(), 1, "with a backoff in between");
}

fn entry(n: usize) -> BusEntry {
    BusEntry {
        source: "txn-notify".into(),
        detail_type: "Transaction Recorded".into(),
        detail: json!({ "n": n }).to_string(),
        event_bus_name: "txn-notify".into(),
        resources: Vec::new(),
        time: None,
    }
}

#[tokio::test]
async fn put_events_failed_entries_are_reported_in_order_and_only_they_are_resent() {
    let stand_in = StandIn::start(vec![
        Canned::json(json!({
            "FailedEntryCount": 2,
            "Entries": [
                { "EventId": "e0" },
                { "ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded" },
                { "EventId": "e2" },
                { "ErrorCode": "InternalFailure", "ErrorMessage": "oops" }
            ]
        })),
        Canned::json(json!({ "FailedEntryCount": 0, "Entries": [ { "EventId": "e1" }, { "EventId": "e3" } ] })),
    ])
    .await;
    let bus = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&config_for(&stand_in.url).await));
    let entries: Vec<BusEntry> = (0..4).map(entry).collect();
    let refs: Vec<&BusEntry> = entries.iter().collect();
    let results = bus.put_events(&refs).await.unwrap();
    assert_eq!(results[0], EntryResult::Accepted { event_id: "e0".into() });
    assert!(matches!(&results[1], EntryResult::Failed { error_code, .. } if error_code == "ThrottlingException"));
    assert!(matches!(&results[3], EntryResult::Failed { error_code, .. } if error_code == "InternalFailure"));

    let stand_in = StandIn::start(vec![
        Canned::json(json!({
            "FailedEntryCount": 1,
            "Entries": [ { "EventId": "e0" }, { "ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded" } ]
        })),
        Canned::json(json!({ "FailedEntryCount": 0, "Entries": [ { "EventId": "e1" } ] })),
    ])
    .await;
    let bus = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&config_for(&stand_in.url).await));
    let groups = vec![EntryGroup {
        account: None,
        entries: vec![entry(0), entry(1)],
    }];
    let clock = FrozenClock::at(Utc::now());
    let outcome = publish(
        &bus,
        &clock,
        &RetryPolicy::default(),
        &PublishLimits::default(),
        &groups,
    )
    .await;
    assert_eq!(outcome.first_unpublished, None);
    let calls = stand_in.requests();
    assert_eq!(calls.len(), 2);
    assert!(
        calls[1].body.contains("{\\\"n\\\":1}") && !calls[1].body.contains("{\\\"n\\\":0}"),
        "{}",
        calls[1].body
    );
}

#[tokio::test]
async fn put_events_throttled_as_a_whole_is_transient() {
    let stand_in = StandIn::start(vec![Canned::json_error(400, "ThrottlingException", "Rate exceeded")]).await;
    let bus = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&config_for(&stand_in.url).await));
    let entries = [entry(0)];
    let error = bus.put_events(&[&entries[0]]).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
}

fn email() -> Email {
    Email {
        from: Mailbox::new(Some("txn-notify"), "alerts@bank.example").unwrap(),
        to: Mailbox::new(Some("Zoé"), "zoe@example.com").unwrap(),
        subject: HeaderText::new("Paiement de 12,50 €").unwrap(),
        html: "<p>12,50 €</p>".into(),
        text: "12,50 €".into(),
        tags: Vec::new(),
        headers: Vec::new(),
    }
}

async fn ses_answering(canned: Canned) -> (StandIn, Result<String, MailError>) {
    let stand_in = StandIn::start(vec![canned]).await;
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&config_for(&stand_in.url).await), None);
    let result = mailer.send(&email()).await;
    (stand_in, result)
}

#[tokio::test]
async fn ses_refusals_are_told_apart() {
    let (_, throttled) = ses_answering(Canned::rest_error(429, "TooManyRequestsException", "Too many requests")).await;
    assert!(matches!(throttled, Err(MailError::Throttled(_))), "{throttled:?}");
    let (_, quota) = ses_answering(Canned::rest_error(
        400,
        "LimitExceededException",
        "Maximum sending rate exceeded.",
    ))
    .await;
    assert!(matches!(quota, Err(MailError::Throttled(_))), "{quota:?}");
    let (stand_in, unavailable) = ses_answering(Canned::rest_error(503, "ServiceUnavailable", "try later")).await;
    assert!(matches!(unavailable, Err(MailError::Transient(_))), "{unavailable:?}");
    assert_eq!(stand_in.requests().len(), 3, "5xx is retried by the SDK first");
    let (stand_in, rejected) = ses_answering(Canned::rest_error(
        400,
        "MessageRejected",
        "Email address is on the suppression list: zoe@example.com",
    ))
    .await;
    match rejected {
        Err(MailError::Rejected(reason)) => assert!(!reason.contains("zoe@example.com"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1, "a rejected message is not retried");
    assert_eq!(requests[0].path, "/v2/email/outbound-emails");
    let sent: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(sent["Content"]["Simple"]["Subject"]["Charset"], "UTF-8");
    assert_eq!(
        sent["Destination"]["ToAddresses"][0],
        "=?UTF-8?B?Wm/DqQ==?= <zoe@example.com>"
    );
    let (_, suspended) = ses_answering(Canned::rest_error(400, "AccountSuspendedException", "suspended")).await;
    assert!(matches!(suspended, Err(MailError::Blocked(_))), "{suspended:?}");
    let (_, missing) = ses_answering(Canned::rest_error(
        404,
        "NotFoundException",
        "no such configuration set",
    ))
    .await;
    assert!(matches!(missing, Err(MailError::Blocked(_))), "{missing:?}");
}

#[tokio::test]
async fn a_failing_secret_store_is_transient() {
    let stand_in = StandIn::start(vec![Canned::json_error(500, "InternalServiceError", "boom")]).await;
    let secrets = SecretsManagerSecrets::new(
        aws_sdk_secretsmanager::Client::new(&config_for(&stand_in.url).await),
        "txn-notify/signing",
    );
    let error = secrets.signing_secrets().await.unwrap_err();
    assert!(error.is_transient(), "{error}");
}

#[tokio::test]
async fn emails_go_out_with_the_configuration_set_and_tags_ses_accepts() {
    let stand_in = StandIn::start(vec![Canned {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: json!({ "MessageId": "m-1" }).to_string(),
    }])
    .await;
    let mailer = SesMailer::new(
        aws_sdk_sesv2::Client::new(&config_for(&stand_in.url).await),
        Some("txn-notify-emails".into()),
    );
    let mut email = email();
    let tag = |name: &str, value: &str| txn_notify::domain::Tag {
        name: name.into(),
        value: value.into(),
    };
    email.tags = vec![
        tag("detail type", "Transaction Recorded"),
        // An account id the API takes, with a character SES refuses in a tag.
        tag("account_id", "bank:acc_7"),
        // An id from outside the API, too long for a tag once encoded: left off.
        tag("transaction_id", &":".repeat(100)),
    ];
    assert_eq!(mailer.send(&email).await.unwrap(), "m-1");
    let sent: serde_json::Value = serde_json::from_str(&stand_in.requests()[0].body).unwrap();
    assert_eq!(sent["ConfigurationSetName"], "txn-notify-emails");
    assert_eq!(
        sent["EmailTags"],
        json!([
            { "Name": "detail_type", "Value": "Transaction@20Recorded" },
            { "Name": "account_id", "Value": "bank@3Aacc_7" }
        ]),
        "values SES accepts, which feedback decodes back"
    );
    assert_eq!(
        txn_notify::domain::decode_ses_tag_value("bank@3Aacc_7").as_deref(),
        Some("bank:acc_7")
    );
    assert_eq!(sent["FromEmailAddress"], "\"txn-notify\" <alerts@bank.example>");
    assert_eq!(sent["Content"]["Simple"]["Body"]["Text"]["Data"], "12,50 €");
    assert_eq!(sent["Content"]["Simple"]["Body"]["Html"]["Charset"], "UTF-8");
}
