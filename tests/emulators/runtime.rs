//! The compiled Lambda binaries under a stand-in of the Lambda Runtime API (GET next, POST
//! response, POST error), talking to DynamoDB Local and moto through the standard
//! `AWS_ENDPOINT_URL_<SERVICE>` variables. Prints each binary's cold start (exec to its first
//! GET next) and peak RSS. Set TXN_NOTIFY_BIN_DIR to a folder of release binaries
//! (target/release) to measure those instead of the test build.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::{get, post};
use serde_json::{Value, json};

use txn_notify::aws::dynamodb::DynamoLedger;
use txn_notify::domain::Currency;
use txn_notify::ports::Ledger;

use crate::common::{account, purchase};
use crate::end_to_end::{receive_batch, stream_event};
use crate::moto_services::{sent_emails, verified_sender};
use crate::support::{REGION, create_table, dynamodb, dynamodb_url, moto, moto_url, route, unique};

#[derive(Default)]
struct RuntimeState {
    pending: VecDeque<(String, Value)>,
    replies: HashMap<String, Reply>,
    first_next: Option<Instant>,
}

#[derive(Debug, Clone)]
enum Reply {
    Response(Value),
    Error(Value),
}

type Shared = Arc<Mutex<RuntimeState>>;

async fn next(State(state): State<Shared>) -> (HeaderMap, String) {
    loop {
        {
            let mut state = state.lock().unwrap();
            state.first_next.get_or_insert_with(Instant::now);
            if let Some((id, payload)) = state.pending.pop_front() {
                let mut headers = HeaderMap::new();
                let deadline = (std::time::SystemTime::now() + Duration::from_secs(60))
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis();
                headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_str(&id).unwrap());
                headers.insert(
                    "lambda-runtime-deadline-ms",
                    HeaderValue::from_str(&deadline.to_string()).unwrap(),
                );
                headers.insert(
                    "lambda-runtime-invoked-function-arn",
                    HeaderValue::from_static("arn:aws:lambda:eu-west-1:123456789012:function:txn-notify"),
                );
                headers.insert(
                    "lambda-runtime-trace-id",
                    HeaderValue::from_static("Root=1-00000000-000000000000000000000000"),
                );
                return (headers, payload.to_string());
            }
        }
        // Lambda holds GET next open until there is an event.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn response(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> &'static str {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.lock().unwrap().replies.insert(id, Reply::Response(value));
    "{}"
}

async fn error(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> &'static str {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.lock().unwrap().replies.insert(id, Reply::Error(value));
    "{}"
}

async fn init_error(body: Bytes) -> &'static str {
    panic!("the function failed to initialise: {}", String::from_utf8_lossy(&body));
}

struct Run {
    replies: Vec<Reply>,
    stdout: String,
    cold_start: Duration,
    peak_rss_kib: u64,
}

fn binary(name: &str) -> PathBuf {
    match std::env::var_os("TXN_NOTIFY_BIN_DIR") {
        Some(dir) => {
            let path = PathBuf::from(dir).join(name);
            assert!(
                path.exists(),
                "TXN_NOTIFY_BIN_DIR has no {name} binary ({}): build the release binaries first, \
                 `cargo build --release --bin processor --bin notifier --bin feedback --bin digest-planner --bin digest-worker`",
                path.display()
            );
            path
        }
        None => match name {
            "processor" => PathBuf::from(env!("CARGO_BIN_EXE_processor")),
            "notifier" => PathBuf::from(env!("CARGO_BIN_EXE_notifier")),
            "feedback" => PathBuf::from(env!("CARGO_BIN_EXE_feedback")),
            "digest-planner" => PathBuf::from(env!("CARGO_BIN_EXE_digest-planner")),
            "digest-worker" => PathBuf::from(env!("CARGO_BIN_EXE_digest-worker")),
            other => panic!("no binary {other}"),
        },
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `name` on each event, in order, and collects its replies.
async fn run_binary(name: &str, env: &[(&str, String)], events: Vec<Value>) -> Run {
    let state: Shared = Arc::default();
    let ids: Vec<String> = (0..events.len()).map(|i| format!("{name}-req-{i}")).collect();
    state.lock().unwrap().pending = ids.iter().cloned().zip(events).collect();
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let started = Instant::now();
    let stdout_path = std::env::temp_dir().join(format!("{}.stdout", unique(name)));
    let stdout_file = std::fs::File::create(&stdout_path).unwrap();
    let mut command = std::process::Command::new(binary(name));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("txn-notify-{name}"))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::from(stdout_file))
        .stderr(Stdio::inherit());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if state.lock().unwrap().replies.len() == ids.len() {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{name} exited ({status}) before answering every event; its output:\n{}",
                std::fs::read_to_string(&stdout_path).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "{name} did not answer within 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let peak_rss_kib = peak_rss_kib(pid);
    child.kill().unwrap();
    child.wait().unwrap();
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let _ = std::fs::remove_file(&stdout_path);
    let state = state.lock().unwrap();
    let cold_start = state.first_next.unwrap() - started;
    println!(
        "{name}: cold start (exec to first GET next) {:.1} ms, peak RSS {:.1} MiB ({})",
        cold_start.as_secs_f64() * 1000.0,
        peak_rss_kib as f64 / 1024.0,
        binary(name).display()
    );
    Run {
        replies: ids.iter().map(|id| state.replies[id].clone()).collect(),
        stdout,
        cold_start,
        peak_rss_kib,
    }
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The EMF documents a run wrote, merged by metric name (values summed).
fn emf_totals(stdout: &str) -> HashMap<String, f64> {
    let mut totals = HashMap::new();
    for document in json_lines(stdout).iter().filter(|d| d.get("_aws").is_some()) {
        for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            let value = match &document[name] {
                Value::Array(values) => values.iter().filter_map(Value::as_f64).sum(),
                other => other.as_f64().unwrap_or(0.0),
            };
            if document.get("DetailType").is_none() {
                *totals.entry(name.to_string()).or_insert(0.0) += value;
            }
        }
    }
    totals
}

#[tokio::test]
async fn the_processor_notifier_and_feedback_binaries_answer_the_runtime_api() {
    let dynamo = dynamodb().await;
    let (ledger_table, idempotency_table, audit_table) = (unique("ledger"), unique("idem"), unique("audit"));
    create_table(&dynamo, "LedgerTable", &ledger_table).await;
    create_table(&dynamo, "IdempotencyTable", &idempotency_table).await;
    create_table(&dynamo, "AuditTable", &audit_table).await;
    let moto_config = moto().await;
    let events = aws_sdk_eventbridge::Client::new(&moto_config);
    let sqs = aws_sdk_sqs::Client::new(&moto_config);
    let bus = unique("txn-notify");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let notify_queue = route(&events, &sqs, &bus, "NotifyRule").await;
    let sender = verified_sender().await;

    let ledger = DynamoLedger::new(dynamo.clone(), &ledger_table);
    let eur = Currency::from_code("EUR").unwrap();
    let mut holder = account("acc-rt", "FR", eur);
    let address = format!("{}@example.com", unique("runtime"));
    holder.email = txn_notify::domain::Pii(address.clone());
    ledger.put_account(&holder).await.unwrap();
    ledger
        .put_transaction(&purchase("t-rt-1", "acc-rt", 4_250, eur), "fp")
        .await
        .unwrap();
    let stream = stream_event(&ledger_table).await;
    let mut with_bad_record = stream.clone();
    with_bad_record["Records"]
        .as_array_mut()
        .unwrap()
        .push(json!({"eventName": "INSERT", "dynamodb": 42}));

    let processor = run_binary(
        "processor",
        &[
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_url()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", moto_url()),
            ("TXN_NOTIFY_LEDGER_TABLE", ledger_table.clone()),
            ("TXN_NOTIFY_EVENT_BUS", bus.clone()),
        ],
        vec![stream, json!({"not": "a stream event"}), with_bad_record],
    )
    .await;
    match &processor.replies[0] {
        Reply::Response(body) => assert_eq!(body, &json!({"batchItemFailures": []})),
        other => panic!("{other:?}"),
    }
    match &processor.replies[1] {
        Reply::Error(body) => {
            assert_eq!(body["errorType"], "UnexpectedPayload", "a stable error type: {body}");
            assert!(
                body["errorMessage"]
                    .as_str()
                    .unwrap()
                    .contains("not a DynamoDB stream event"),
                "{body}"
            );
        }
        other => panic!("a payload of the wrong shape is an error reply, not a crash: {other:?}"),
    }
    match &processor.replies[2] {
        Reply::Response(body) => assert_eq!(
            body,
            &json!({"batchItemFailures": []}),
            "a malformed record is rejected, never retried"
        ),
        other => panic!("{other:?}"),
    }
    let totals = emf_totals(&processor.stdout);
    assert_eq!(totals["RecordsReceived"], 7.0, "{totals:?}");
    assert_eq!(totals["RecordsRejected"], 1.0, "{totals:?}");
    assert_eq!(totals["ColdStart"], 1.0, "one cold start for three invocations");
    let logs = json_lines(&processor.stdout);
    assert!(
        logs.iter()
            .any(|l| l["span"]["request_id"] == "processor-req-0" && l["span"]["cold_start"] == true),
        "logs carry the request id and the cold start"
    );
    assert!(!processor.stdout.contains(&address), "no email address in the logs");

    let mut batch = receive_batch(&sqs, &notify_queue).await;
    assert_eq!(
        batch["Records"].as_array().unwrap().len(),
        4,
        "welcome + transaction, twice (two batches)"
    );
    batch["Records"].as_array_mut().unwrap().push(json!({
        "messageId": "garbage-1", "receiptHandle": "r", "body": "not json", "attributes": {},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:q", "awsRegion": REGION
    }));
    let notifier = run_binary(
        "notifier",
        &[
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_url()),
            ("AWS_ENDPOINT_URL_SESV2", moto_url()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_url()),
            ("TXN_NOTIFY_LEDGER_TABLE", ledger_table.clone()),
            ("TXN_NOTIFY_IDEMPOTENCY_TABLE", idempotency_table.clone()),
            ("TXN_NOTIFY_AUDIT_TABLE", audit_table.clone()),
            ("TXN_NOTIFY_SENDER", sender.clone()),
            // Read for statements' unsubscribe links only; none in this batch.
            ("TXN_NOTIFY_SIGNING_SECRET_ID", unique("signing")),
            ("TXN_NOTIFY_PUBLIC_API_URL", "https://api.example".to_string()),
        ],
        vec![
            batch,
            // A bare event that is not one: Lambda retries it, then its failure destination.
            json!({"detail-type": "Transaction Recorded", "source": "txn-notify"}),
            json!({"neither": "shape"}),
        ],
    )
    .await;
    match &notifier.replies[1] {
        Reply::Error(body) => assert_eq!(body["errorType"], "MalformedEvent", "{body}"),
        other => panic!("{other:?}"),
    }
    match &notifier.replies[2] {
        Reply::Error(body) => assert_eq!(body["errorType"], "UnexpectedPayload", "{body}"),
        other => panic!("{other:?}"),
    }
    match &notifier.replies[0] {
        Reply::Response(body) => assert_eq!(
            body,
            &json!({"batchItemFailures": [{"itemIdentifier": "garbage-1"}]}),
            "only the malformed message fails (its DLQ keeps it)"
        ),
        other => panic!("{other:?}"),
    }
    let totals = emf_totals(&notifier.stdout);
    assert_eq!(totals["EmailsSent"], 2.0, "{totals:?}");
    assert_eq!(totals["DuplicatesSkipped"], 2.0, "{totals:?}");
    let emails: Vec<Value> = sent_emails()
        .await
        .into_iter()
        .filter(|m| m["destinations"].to_string().contains(&address))
        .collect();
    assert_eq!(emails.len(), 2);
    assert!(!notifier.stdout.contains(&address), "no email address in the logs");
    // Each decision is in the audit trail, once, for the history API.
    let history = txn_notify::aws::dynamodb::DynamoAuditLog::new(dynamo.clone(), &audit_table);
    let page = txn_notify::ports::NotificationLog::notifications(
        &history,
        &txn_notify::ports::NotificationQuery {
            account_id: "acc-rt",
            limit: 10,
            after: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(page.notifications.len(), 2, "{page:?}");
    assert!(
        page.notifications
            .iter()
            .all(|n| n.decision == txn_notify::domain::Decision::Sent)
    );
    assert!(processor.cold_start < Duration::from_secs(30) && processor.peak_rss_kib > 0);
    assert!(notifier.cold_start < Duration::from_secs(30) && notifier.peak_rss_kib > 0);

    // SES's feedback on those two emails, through the compiled feedback binary: the first
    // bounced (Permanent), the second was delivered; and a message that is not an event.
    let set = unique("emails");
    let tag = |value: &str| json!([txn_notify::domain::ses_tag_value(value).unwrap()]);
    let ses_event =
        |n: &txn_notify::domain::Notification, detail_type: &str, event_type: &str, key: &str, body: Value| {
            let email = &n.emails[0];
            let mut detail = json!({"eventType": event_type, "mail": {
            "timestamp": "2026-11-20T18:00:00.000Z", "source": sender, "messageId": email.message_id,
            "destination": [address],
            "tags": {"ses:configuration-set": [set], "event_id": tag(&n.event_id), "account_id": tag(&n.account_id),
                     "template": tag(&email.template), "detail_type": tag(&n.detail_type.replace(' ', "_")),
                     "severity": tag("warning")}}});
            detail[key] = body;
            json!({"version": "0", "id": unique("env"), "detail-type": detail_type, "source": "aws.ses",
               "account": "123456789012", "time": "2026-11-20T18:00:05Z", "region": REGION, "resources": [],
               "detail": detail})
        };
    let bounced = ses_event(
        &page.notifications[0],
        "Email Bounced",
        "Bounce",
        "bounce",
        json!({
        "bounceType": "Permanent", "bounceSubType": "General", "feedbackId": "fb-rt-1",
        "timestamp": "2026-11-20T18:00:03Z", "bouncedRecipients": [{"emailAddress": address}]}),
    );
    let delivered = ses_event(
        &page.notifications[1],
        "Email Delivered",
        "Delivery",
        "delivery",
        json!({
        "timestamp": "2026-11-20T18:00:01Z", "recipients": [address]}),
    );
    let message = |id: &str, body: String| {
        json!({
        "messageId": id, "receiptHandle": "r", "body": body, "attributes": {}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:feedback",
        "awsRegion": REGION})
    };
    let batch = json!({"Records": [
        message("fb-1", bounced.to_string()),
        message("fb-2", delivered.to_string()),
        message("fb-3", "{\"detail-type\": \"Email Bounced\"}".to_string()),
    ]});
    let feedback = run_binary(
        "feedback",
        &[
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_url()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", moto_url()),
            ("TXN_NOTIFY_LEDGER_TABLE", ledger_table.clone()),
            ("TXN_NOTIFY_IDEMPOTENCY_TABLE", idempotency_table.clone()),
            ("TXN_NOTIFY_AUDIT_TABLE", audit_table.clone()),
            ("TXN_NOTIFY_SES_CONFIGURATION_SET", set.clone()),
            ("TXN_NOTIFY_EVENT_BUS", bus.clone()),
        ],
        vec![batch.clone(), batch, json!({"neither": "shape"})],
    )
    .await;
    for reply in &feedback.replies[..2] {
        match reply {
            Reply::Response(body) => assert_eq!(
                body,
                &json!({"batchItemFailures": [{"itemIdentifier": "fb-3"}]}),
                "only the malformed message fails; a redelivered batch changes nothing"
            ),
            other => panic!("{other:?}"),
        }
    }
    match &feedback.replies[2] {
        Reply::Error(body) => assert_eq!(body["errorType"], "UnexpectedPayload", "{body}"),
        other => panic!("{other:?}"),
    }
    let totals = emf_totals(&feedback.stdout);
    assert_eq!(
        totals["AddressesMarkedUndeliverable"], 1.0,
        "once, for two deliveries: {totals:?}"
    );
    assert_eq!(totals["NotificationsUndeliverable"], 1.0, "{totals:?}");
    assert_eq!(totals["RecordsRejected"], 2.0, "{totals:?}");
    assert!(!feedback.stdout.contains(&address), "no email address in the logs");
    let marked = ledger.get_account("acc-rt").await.unwrap().unwrap();
    let status = marked.email_status.expect("the bounced address is marked");
    assert!(status.marks(&address));
    let page = txn_notify::ports::NotificationLog::notifications(
        &history,
        &txn_notify::ports::NotificationQuery {
            account_id: "acc-rt",
            limit: 10,
            after: None,
        },
    )
    .await
    .unwrap();
    let mut states: Vec<&str> = page
        .notifications
        .iter()
        .map(|n| n.emails[0].delivery_state.as_str())
        .collect();
    states.sort();
    assert_eq!(states, ["bounced", "delivered"]);
}

/// The weekly statements on the Lambda path: the compiled planner on a scheduled event of
/// Paris's Monday 06:00 queues its due accounts on a moto queue; the compiled worker on
/// those pages publishes one statement per account with transactions that week.
#[tokio::test]
async fn the_digest_planner_and_worker_binaries_answer_the_runtime_api() {
    let dynamo = dynamodb().await;
    let ledger_table = unique("ledger-digest");
    create_table(&dynamo, "LedgerTable", &ledger_table).await;
    let moto_config = moto().await;
    let events = aws_sdk_eventbridge::Client::new(&moto_config);
    let sqs = aws_sdk_sqs::Client::new(&moto_config);
    let bus = unique("txn-notify-digest");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let audit_queue = route(&events, &sqs, &bus, "AuditRule").await;
    let digest_queue = crate::support::queue(&sqs, "DigestQueue").await;

    let ledger = DynamoLedger::new(dynamo.clone(), &ledger_table);
    let eur = Currency::from_code("EUR").unwrap();
    let paris = |id: &str| {
        let mut a = account(id, "FR", eur);
        a.time_zone = Some("Europe/Paris".into());
        a
    };
    ledger.put_account(&paris("acc-dg-1")).await.unwrap();
    ledger.put_account(&paris("acc-dg-quiet")).await.unwrap();
    let mut tokyo = paris("acc-dg-tokyo");
    tokyo.time_zone = Some("Asia/Tokyo".into());
    ledger.put_account(&tokyo).await.unwrap();
    for (n, id) in ["acc-dg-1", "acc-dg-tokyo"].iter().enumerate() {
        let mut txn = purchase(&format!("t-dg-{n}"), id, 1_999, eur);
        // Wednesday 25 November 2026: the week that ends on Monday 30 November.
        txn.booked_at = "2026-11-25T12:00:00Z".parse().unwrap();
        ledger.put_transaction(&txn, "fp").await.unwrap();
    }

    // Monday 30 November 2026, 06:00 in Paris (UTC+1), as Scheduler's Input makes it.
    let scheduled =
        |time: &str| json!({"source": "aws.scheduler", "detail-type": "Scheduled Event", "time": time, "detail": {}});
    let planner_env = |queue_url: &str| {
        vec![
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_url()),
            ("AWS_ENDPOINT_URL_SQS", moto_url()),
            ("TXN_NOTIFY_LEDGER_TABLE", ledger_table.clone()),
            ("TXN_NOTIFY_DIGEST_QUEUE_URL", queue_url.to_string()),
        ]
    };
    let planner = run_binary(
        "digest-planner",
        &planner_env(&digest_queue.url),
        vec![
            scheduled("2026-11-30T05:00:00Z"),
            json!({"source": "aws.scheduler", "time": "2026-11-30T05:00:00Z", "detail": {"segment": 3}}),
            scheduled("a Monday"),
        ],
    )
    .await;
    match &planner.replies[0] {
        Reply::Response(body) => {
            assert_eq!(body["accounts_read"], 2, "Paris's two accounts, not Tokyo's: {body}");
            assert_eq!(body["messages_sent"], 1, "{body}");
        }
        other => panic!("{other:?}"),
    }
    for reply in &planner.replies[1..] {
        match reply {
            Reply::Error(body) => assert_eq!(body["errorType"], "BadDigestRequest", "{body}"),
            other => panic!("a request that is not a run is an error reply: {other:?}"),
        }
    }
    let totals = emf_totals(&planner.stdout);
    assert_eq!(totals["DigestAccountsRead"], 2.0, "{totals:?}");
    assert_eq!(totals["DigestPagesQueued"], 1.0, "{totals:?}");

    // A queue that is not there: the run fails as a whole, and Lambda's retries and then
    // DigestDLQ take it.
    let missing = format!("{}/000000000000/{}", moto_url(), unique("no-such-queue"));
    let failing = run_binary(
        "digest-planner",
        &planner_env(&missing),
        vec![scheduled("2026-11-30T05:00:00Z")],
    )
    .await;
    match &failing.replies[0] {
        Reply::Error(body) => assert_eq!(body["errorType"], "DigestPlanIncomplete", "{body}"),
        other => panic!("{other:?}"),
    }

    let mut batch = receive_batch(&sqs, &digest_queue).await;
    assert_eq!(batch["Records"].as_array().unwrap().len(), 1);
    let page: Value = serde_json::from_str(batch["Records"][0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(page["zone"], "Europe/Paris");
    assert_eq!(page["week_start"], "2026-11-23");
    batch["Records"].as_array_mut().unwrap().push(json!({
        "messageId": "not-a-page", "receiptHandle": "r", "body": "{\"zone\": \"Europe/Paris\"}",
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": digest_queue.arn, "awsRegion": REGION
    }));
    let worker = run_binary(
        "digest-worker",
        &[
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_url()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", moto_url()),
            ("TXN_NOTIFY_LEDGER_TABLE", ledger_table.clone()),
            ("TXN_NOTIFY_EVENT_BUS", bus.clone()),
        ],
        vec![batch.clone(), batch],
    )
    .await;
    for reply in &worker.replies {
        match reply {
            Reply::Response(body) => assert_eq!(
                body,
                &json!({"batchItemFailures": [{"itemIdentifier": "not-a-page"}]}),
                "only the message that is not a page fails"
            ),
            other => panic!("{other:?}"),
        }
    }
    let totals = emf_totals(&worker.stdout);
    assert_eq!(totals["StatementsPublished"], 2.0, "one a delivery: {totals:?}");
    assert_eq!(totals["RecordsRejected"], 2.0, "{totals:?}");
    // Delivered twice, published twice, with one event_id: the consumers keep one.
    let audited = receive_batch(&sqs, &audit_queue).await;
    let statements: Vec<Value> = audited["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str::<Value>(r["body"].as_str().unwrap()).unwrap())
        .filter(|e| e["detail-type"] == "Weekly Statement")
        .collect();
    assert_eq!(statements.len(), 2, "{statements:?}");
    assert!(statements.iter().all(|e| e["detail"]["account_id"] == "acc-dg-1"));
    assert_eq!(statements[0]["detail"]["event_id"], statements[1]["detail"]["event_id"]);
    assert_eq!(statements[0]["detail"]["transaction_count"], 1);
    assert!(planner.peak_rss_kib > 0 && worker.peak_rss_kib > 0);
}

/// A stream batch at Lambda's payload limit (6 MB) through the compiled processor: every
/// record is handled in one invocation, and the process, binary included, stays within a
/// 128 MB function. Prints the peak RSS (the README's figure comes from a release build:
/// TXN_NOTIFY_BIN_DIR=target/release).
#[tokio::test]
async fn the_processor_binary_takes_a_batch_at_the_lambda_payload_limit() {
    use txn_notify::domain::LedgerItem;
    use txn_notify::workload::{LedgerWrite, WorkloadSpec, generate, stream::to_stream_event};

    let dynamo = dynamodb().await;
    let ledger_table = unique("ledger");
    create_table(&dynamo, "LedgerTable", &ledger_table).await;
    let moto_config = moto().await;
    let events = aws_sdk_eventbridge::Client::new(&moto_config);
    let bus = unique("txn-notify");
    events.create_event_bus().name(&bus).send().await.unwrap();

    let mut writes = generate(&WorkloadSpec::new(300, 6_500, 17));
    // As many records as fit in 6 MB, the accounts first.
    let mut text = String::new();
    for keep in (1000..writes.len()).rev().step_by(100) {
        text = to_stream_event(&writes[..keep]).to_string();
        if text.len() <= 6 * 1024 * 1024 {
            writes.truncate(keep);
            break;
        }
    }
    assert!(
        text.len() > 5_500_000 && text.len() <= 6 * 1024 * 1024,
        "{} bytes",
        text.len()
    );
    let ledger = DynamoLedger::new(dynamo.clone(), &ledger_table);
    for write in &writes {
        if let LedgerWrite::Insert { item, .. } = write
            && let Ok(LedgerItem::Account(account)) = LedgerItem::decode(item)
        {
            ledger.put_account(&account).await.unwrap();
        }
    }
    let event: Value = serde_json::from_str(&text).unwrap();
    let records = event["Records"].as_array().unwrap().len();
    drop(text);

    let processor = run_binary(
        "processor",
        &[
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_url()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", moto_url()),
            ("TXN_NOTIFY_LEDGER_TABLE", ledger_table.clone()),
            ("TXN_NOTIFY_EVENT_BUS", bus.clone()),
        ],
        vec![event],
    )
    .await;
    match &processor.replies[0] {
        Reply::Response(body) => assert_eq!(body, &json!({"batchItemFailures": []})),
        other => panic!("{other:?}"),
    }
    let totals = emf_totals(&processor.stdout);
    assert_eq!(totals["RecordsReceived"], records as f64, "{totals:?}");
    assert!(totals["EventsPublished"] > records as f64 * 0.9, "{totals:?}");
    println!(
        "processor on a {records}-record batch of 6 MB: peak RSS {:.1} MiB",
        processor.peak_rss_kib as f64 / 1024.0
    );
    assert!(
        processor.peak_rss_kib < 128 * 1024,
        "the processor must fit a 128 MB function: peak RSS {} KiB",
        processor.peak_rss_kib
    );
}
