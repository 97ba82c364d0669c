//! `txn-notify replay --aws`: the compiled command against moto's EventBridge (archive,
//! StartReplay, DescribeReplay, the events back on the bus with replay-name), and the
//! replay use case against a scripted endpoint for what moto cannot show: a replay that
//! runs for a while, one that fails, a throttled DescribeReplay.

use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use txn_notify::aws::eventbridge::EventBridgeReplays;
use txn_notify::clock::FrozenClock;
use txn_notify::ops::{ReplayPlan, ReplayProgress, replay_archive};
use txn_notify::ports::ReplayState;

use crate::stand_in::{Canned, StandIn};
use crate::support::{REGION, bus_with_archive, config_for, moto, moto_url, route};

fn rfc3339(time: DateTime<Utc>) -> String {
    txn_notify::domain::time::format_rfc3339(&time)
}

/// The command, with the standard AWS settings pointed at moto.
fn txn_notify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_txn-notify"))
        .args(args)
        .env("AWS_ENDPOINT_URL", moto_url())
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap()
}

async fn replays_on_moto(events: &aws_sdk_eventbridge::Client) -> usize {
    events
        .list_replays()
        .send()
        .await
        .unwrap()
        .replays
        .unwrap_or_default()
        .len()
}

/// What one long poll of the queue gives.
async fn receive(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(url)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

#[tokio::test]
async fn replay_aws_replays_the_archive_to_the_bus_and_follows_it_to_the_end() {
    let config = moto().await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let (bus, bus_arn, archive, _) = bus_with_archive(&events, None).await;
    let queue = route(&events, &sqs, &bus, "AuditRule").await;
    let detail = json!({"event_id": "e-replay-1", "account_id": "acc-fr-001"});
    events
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source("txn-notify")
                .detail_type("Low Balance")
                .detail(detail.to_string())
                .event_bus_name(&bus)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for message in receive(&sqs, &queue.url).await {
        sqs.delete_message()
            .queue_url(&queue.url)
            .receipt_handle(message.receipt_handle.unwrap())
            .send()
            .await
            .unwrap();
    }

    // The window must end after the archive was created, and not in the future.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let now = Utc::now();
    let (from, to) = (
        rfc3339(now - chrono::Duration::hours(1)),
        rfc3339(now - chrono::Duration::milliseconds(200)),
    );
    let replay = |archive: &str, extra: &[&str]| {
        let mut args = vec!["replay", "--aws", "--archive", archive, "--from", &from, "--to", &to];
        args.extend_from_slice(extra);
        txn_notify(&args)
    };
    // A window that ends now: refused before anything starts.
    let before = replays_on_moto(&events).await;
    let refused = replay(&archive, &[]);
    assert_eq!(refused.status.code(), Some(2));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("within the last 10 minutes"), "{message}");
    assert_eq!(replays_on_moto(&events).await, before, "no replay was started");
    // No such archive.
    let missing = replay("no-such-archive", &["--allow-recent"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-archive"));

    let following = ["--allow-recent", "--json", "--poll-seconds", "1"];
    let output = replay(&archive, &following);
    let outcome: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{outcome} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(outcome["state"], "COMPLETED", "{outcome}");
    assert_eq!(outcome["event_bus_arn"], bus_arn.as_str());
    let name = outcome["replay_name"].as_str().unwrap();
    assert!(name.starts_with("txn-notify-"), "{name}");

    // The event is back on the bus, through the rule, marked with the replay's name.
    let bodies: Vec<Value> = receive(&sqs, &queue.url)
        .await
        .iter()
        .map(|m| serde_json::from_str(m.body.as_deref().unwrap()).unwrap())
        .collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["replay-name"], name);
    assert_eq!(bodies[0]["detail"]["event_id"], "e-replay-1");

    // A rule named by its name becomes that rule's ARN on the archive's bus.
    let rules = events
        .list_rules()
        .event_bus_name(&bus)
        .send()
        .await
        .unwrap()
        .rules
        .unwrap();
    let rule = rules[0].name.clone().unwrap();
    let output = replay(&archive, &[&following[..], &["--rule", &rule]].concat());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let outcome: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(outcome["rule_arns"], json!([rules[0].arn.clone().unwrap()]));
}

#[derive(Default)]
struct Seen(Mutex<Vec<(String, u32)>>);

impl ReplayProgress for Seen {
    fn started(&self, _: &str) {}
    fn progressed(&self, state: &ReplayState, done: f64) {
        self.0
            .lock()
            .unwrap()
            .push((state.as_str().to_string(), (done * 100.0).round() as u32));
    }
}

fn archive_answer() -> Canned {
    Canned::json(json!({
        "ArchiveArn": "arn:aws:events:eu-west-1:123456789012:archive/txn-notify",
        "ArchiveName": "txn-notify",
        "EventSourceArn": "arn:aws:events:eu-west-1:123456789012:event-bus/txn-notify",
        "State": "ENABLED",
        "RetentionDays": 30,
        "EventCount": 1200,
        "CreationTime": 1_790_000_000
    }))
}

fn replay_answer(state: &str, last_replayed_secs: Option<i64>, reason: Option<&str>) -> Canned {
    let mut body = json!({"ReplayName": "incident-1", "State": state, "ReplayStartTime": 1_795_000_000});
    if let Some(secs) = last_replayed_secs {
        body["EventLastReplayedTime"] = json!(secs);
    }
    if let Some(reason) = reason {
        body["StateReason"] = json!(reason);
    }
    Canned::json(body)
}

fn plan(from_secs: i64, to_secs: i64) -> ReplayPlan {
    ReplayPlan {
        archive: "txn-notify".into(),
        from: DateTime::from_timestamp(from_secs, 0).unwrap(),
        to: DateTime::from_timestamp(to_secs, 0).unwrap(),
        rules: vec!["NotifyRule".into()],
        name: Some("incident-1".into()),
        allow_recent: false,
        poll_every: Duration::from_secs(5),
    }
}

const FROM: i64 = 1_794_990_000;
const TO: i64 = FROM + 3600;

#[tokio::test]
async fn a_running_replay_is_followed_minute_by_minute_until_it_completes() {
    let stand_in = StandIn::start(vec![
        archive_answer(),
        replay_answer("STARTING", None, None),
        replay_answer("RUNNING", Some(FROM + 900), None),
        Canned::json_error(400, "ThrottlingException", "Rate exceeded"),
        replay_answer("RUNNING", Some(FROM + 2700), None),
        replay_answer("COMPLETED", Some(TO - 30), None),
    ])
    .await;
    let replays = EventBridgeReplays::new(aws_sdk_eventbridge::Client::new(&config_for(&stand_in.url).await));
    let clock = FrozenClock::at(DateTime::from_timestamp(1_795_000_000, 0).unwrap());
    let seen = Seen::default();
    let outcome = replay_archive(&replays, &clock, &plan(FROM, TO), &seen).await.unwrap();
    assert_eq!(outcome.state, "COMPLETED");
    assert_eq!(
        outcome.rule_arns,
        ["arn:aws:events:eu-west-1:123456789012:rule/txn-notify/NotifyRule"]
    );
    let progress = seen.0.lock().unwrap().clone();
    let expected: Vec<(String, u32)> = [("STARTING", 0), ("RUNNING", 25), ("RUNNING", 75), ("COMPLETED", 100)]
        .iter()
        .map(|(s, p)| (s.to_string(), *p))
        .collect();
    assert_eq!(progress, expected);
    assert!(
        clock.sleeps().iter().all(|s| *s == Duration::from_secs(5)),
        "{:?}",
        clock.sleeps()
    );
    let start = stand_in
        .requests()
        .into_iter()
        .find(|r| r.target.as_deref() == Some("AWSEvents.StartReplay"))
        .unwrap();
    let start: Value = serde_json::from_str(&start.body).unwrap();
    assert_eq!(
        start["EventSourceArn"],
        "arn:aws:events:eu-west-1:123456789012:archive/txn-notify"
    );
    assert_eq!(
        start["Destination"]["Arn"],
        "arn:aws:events:eu-west-1:123456789012:event-bus/txn-notify"
    );
    assert_eq!(start["EventStartTime"].as_f64().unwrap() as i64, FROM);
    assert_eq!(start["EventEndTime"].as_f64().unwrap() as i64, TO);
}

#[tokio::test]
async fn a_failed_replay_ends_with_its_reason_and_a_missing_archive_is_named() {
    let stand_in = StandIn::start(vec![
        archive_answer(),
        replay_answer("STARTING", None, None),
        replay_answer("FAILED", Some(FROM + 60), Some("Destination rule not found")),
    ])
    .await;
    let replays = EventBridgeReplays::new(aws_sdk_eventbridge::Client::new(&config_for(&stand_in.url).await));
    let clock = FrozenClock::at(DateTime::from_timestamp(1_795_000_000, 0).unwrap());
    let outcome = replay_archive(&replays, &clock, &plan(FROM, TO), &Seen::default())
        .await
        .unwrap();
    assert_eq!(outcome.state, "FAILED");
    assert_eq!(outcome.reason.as_deref(), Some("Destination rule not found"));

    let stand_in = StandIn::start(vec![Canned::json_error(
        400,
        "ResourceNotFoundException",
        "Archive txn-notify does not exist.",
    )])
    .await;
    let replays = EventBridgeReplays::new(aws_sdk_eventbridge::Client::new(&config_for(&stand_in.url).await));
    let error = replay_archive(&replays, &clock, &plan(FROM, TO), &Seen::default())
        .await
        .unwrap_err();
    assert!(matches!(error, txn_notify::ops::ReplayError::Archive { .. }), "{error}");
    let error = error.to_string();
    assert!(
        error.contains("the archive txn-notify") && error.contains("does not exist"),
        "{error}"
    );
    assert_eq!(stand_in.requests().len(), 1, "a permanent error is not retried");
}
