//! The metrics, end to end. The EMF our functions write, checked against the CloudWatch
//! Embedded Metric Format specification: the document structure (`tests/data/emf.schema.json`), the rules that
//! tie members together (every metric and dimension names a root member of the right type,
//! at most 100 values per metric, namespace and name rules, a timestamp in epoch
//! milliseconds that CloudWatch accepts), and ours on top (latencies at 1-second
//! resolution, one ColdStart per invocation). Every function runs through the same
//! `invoke_measured` as in Lambda, on its sample events, a 1,000-record batch included.
//! Then template.yaml's dashboard and alarms against what those invocations wrote: the
//! dashboard names every TxnNotify metric the code writes and no other.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use txn_notify::clock::FrozenClock;
use txn_notify::domain::Mailbox;
use txn_notify::lambda::handlers::Invoke;
use txn_notify::lambda::runtime::invoke_measured;
use txn_notify::local::memory::MemoryMailer;
use txn_notify::local::memory::MemoryQueue;
use txn_notify::local::memory::{MemoryAuditLog, MemoryBus, MemoryIdempotency, MemoryLedger, MemorySecrets};
use txn_notify::pipeline::feedback::{Feedback, FeedbackConfig};
use txn_notify::pipeline::ingest::{Ingest, IngestConfig};
use txn_notify::pipeline::notify::{Notifier, NotifyConfig};
use txn_notify::pipeline::{AuditConfig, Auditor};
use txn_notify::pipeline::{DigestPlanner, DigestWorker, PlannerConfig, WorkerConfig};
use txn_notify::pipeline::{Processor, ProcessorConfig};
use txn_notify::rules::Rules;
use txn_notify::template::CONFIGURATION_SET;

/// A CloudWatch Logs event is at most 256 KiB in the Lambda log path.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
const MAX_VALUES_PER_METRIC: usize = 100;

fn events(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events").join(path)
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn sample_ledger() -> MemoryLedger {
    let ledger = MemoryLedger::new();
    for item in read(&events("ledger/sample.json"))["Items"].as_array().unwrap() {
        ledger.put(serde_json::from_value(item.clone()).unwrap());
    }
    ledger
}

fn schema() -> jsonschema::Validator {
    let schema = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/emf.schema.json"));
    jsonschema::draft7::new(&schema).unwrap()
}

/// Every way the document breaks the specification (or our rules), empty when it holds.
fn violations(document: &Value, validator: &jsonschema::Validator, now: DateTime<Utc>) -> Vec<String> {
    let mut found: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if !found.is_empty() {
        return found;
    }
    if document.to_string().len() > MAX_DOCUMENT_BYTES {
        found.push("the document is larger than a log event".into());
    }
    let timestamp = document["_aws"]["Timestamp"].as_i64().unwrap();
    let age_ms = now.timestamp_millis() - timestamp;
    if !(-2 * 3_600_000..=14 * 86_400_000).contains(&age_ms) {
        found.push(format!(
            "Timestamp {timestamp} is not epoch milliseconds within 14 days before and 2 hours after now"
        ));
    }
    for directive in document["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
        let namespace = directive["Namespace"].as_str().unwrap();
        if namespace.starts_with("AWS/") {
            found.push(format!("namespace {namespace} is reserved for AWS"));
        }
        for set in directive["Dimensions"].as_array().unwrap() {
            for key in set.as_array().unwrap() {
                let key = key.as_str().unwrap();
                match document.get(key) {
                    Some(Value::String(value)) if !value.is_empty() && value.len() <= 1024 => {}
                    other => found.push(format!("dimension {key} must be a root string member, found {other:?}")),
                }
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            match document.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values)) if values.iter().all(Value::is_number) => {
                    if values.len() > MAX_VALUES_PER_METRIC {
                        found.push(format!("{name} has {} values, at most 100", values.len()));
                    }
                }
                other => found.push(format!(
                    "metric {name} must be a root number or array of numbers, found {other:?}"
                )),
            }
            if metric["Unit"] == "Milliseconds" && metric["StorageResolution"] != 1 {
                found.push(format!("latency {name} must have StorageResolution 1"));
            }
        }
    }
    found
}

/// Runs a use case as Lambda would (a warm invocation unless `cold`) and returns its
/// EMF documents. The payload is the event's text: text that is not JSON is answered first,
/// with an error and nothing else.
async fn documents_of(function: &'static str, use_case: &impl Invoke, payload: Value, cold: bool) -> Vec<Value> {
    for not_json in ["", "not JSON", "{\"Records\": [", "[1, 2] and more"] {
        let (reply, _) = invoke_measured(function, use_case, not_json, "req-not-json", cold, None).await;
        assert!(reply.is_err(), "{function} took {not_json:?}: {reply:?}");
    }
    let (_, metrics) = invoke_measured(function, use_case, &payload.to_string(), "req-emf-1", cold, None).await;
    metrics.documents()
}

fn creation_times() -> Vec<i64> {
    read(&events("batch-1000.json"))["Records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["dynamodb"]["ApproximateCreationDateTime"].as_i64())
        .collect()
}

fn batch_processed_at() -> DateTime<Utc> {
    DateTime::from_timestamp(creation_times().into_iter().max().unwrap() + 1, 0).unwrap()
}

/// Every function on its sample events: (function, the documents of one invocation).
async fn every_invocation() -> Vec<(&'static str, Vec<Value>)> {
    let now = Utc::now();
    let rules = Arc::new(Rules::builtin());
    // The processor runs just after the big batch's last write, as it would in production.
    let processed_at = batch_processed_at();
    let sender = Mailbox::new(Some("txn-notify"), "alerts@txn-notify.example").unwrap();
    let mut invocations = Vec::new();

    let processor = Processor::new(
        sample_ledger(),
        MemoryBus::new(),
        FrozenClock::at(processed_at),
        Arc::clone(&rules),
        ProcessorConfig::new("txn-notify"),
    );
    for (file, cold) in [("batch-1000.json", true), ("mixed-batch.json", false)] {
        invocations.push((
            "processor",
            documents_of("processor", &processor, read(&events(file)), cold).await,
        ));
    }
    let deliveries = read(&events("consumers/sqs-notify-queue.json"));
    let audited = read(&events("consumers/sqs-every-detail-type.json"));
    let notifier = Notifier::new(
        sample_ledger(),
        MemoryMailer::new(),
        txn_notify::local::memory::MemoryBus::new(),
        MemoryIdempotency::new(),
        MemoryAuditLog::new(),
        txn_notify::local::embedded::FixedSecret::new(b"metrics-test-secret"),
        FrozenClock::at(now),
        NotifyConfig::new(sender),
    );
    invocations.push(("notifier", documents_of("notifier", &notifier, deliveries, true).await));
    let auditor = Auditor::new(MemoryAuditLog::new(), FrozenClock::at(now), AuditConfig::default());
    invocations.push(("auditor", documents_of("auditor", &auditor, audited, true).await));
    let feedback_batch = read(&events("feedback/sqs-feedback-batch.json"));
    let feedback = Feedback::new(
        sample_ledger(),
        common::sent_notifications_for(&feedback_batch).await,
        MemoryBus::new(),
        MemoryIdempotency::new(),
        FrozenClock::at(now),
        FeedbackConfig::new(CONFIGURATION_SET, "txn-notify"),
    );
    invocations.push((
        "feedback",
        documents_of("feedback", &feedback, feedback_batch, true).await,
    ));
    let planner = DigestPlanner::new(
        sample_ledger(),
        MemoryQueue::new(),
        FrozenClock::at(now),
        PlannerConfig::default(),
    );
    let schedule = read(&events("scheduled/weekly-digest.json"));
    invocations.push((
        "digest-planner",
        documents_of("digest-planner", &planner, schedule, true).await,
    ));
    let worker = DigestWorker::new(
        sample_ledger(),
        MemoryBus::new(),
        FrozenClock::at(now),
        Arc::clone(&rules),
        WorkerConfig::new("txn-notify"),
    );
    let pages = read(&events("digest/sqs-digest-pages.json"));
    invocations.push((
        "digest-worker",
        documents_of("digest-worker", &worker, pages, true).await,
    ));
    let signed_at = "2026-11-20T18:00:10Z".parse().unwrap();
    let ingest = Ingest::new(
        sample_ledger(),
        MemoryAuditLog::new(),
        MemorySecrets::local(),
        FrozenClock::at(signed_at),
        IngestConfig::default(),
    );
    invocations.push((
        "ingest",
        documents_of("ingest", &ingest, read(&events("api/post-transaction.json")), true).await,
    ));
    invocations
}

#[tokio::test]
async fn every_function_writes_emf_that_meets_the_specification() {
    let validator = schema();
    let now = Utc::now();
    for (function, documents) in every_invocation().await {
        assert!(!documents.is_empty(), "{function} wrote no metrics");
        for document in &documents {
            let problems = violations(document, &validator, now);
            assert!(problems.is_empty(), "{function}: {problems:?}\n{document}");
            assert_eq!(document["Function"], function);
            assert_eq!(document["requestId"], "req-emf-1", "the request id is searchable");
            assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Namespace"], "TxnNotify");
        }
        let cold_starts: Vec<&Value> = documents.iter().filter_map(|d| d.get("ColdStart")).collect();
        assert_eq!(cold_starts.len(), 1, "{function}: one ColdStart per invocation");
    }
}

#[tokio::test]
async fn a_thousand_record_batch_splits_its_latencies_into_documents_of_at_most_100_values() {
    let invocations = every_invocation().await;
    let (_, documents) = &invocations[0];
    let mut values: BTreeMap<String, usize> = BTreeMap::new();
    for document in documents {
        for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            if let Some(list) = document[name].as_array() {
                assert!(list.len() <= MAX_VALUES_PER_METRIC);
                *values.entry(name.to_string()).or_default() += list.len();
            }
        }
    }
    let received: u64 = documents.iter().filter_map(|d| d["RecordsReceived"].as_u64()).sum();
    assert_eq!(received, 1000);
    // One stream lag per record the stream could still hold (written within 24 h): the
    // accounts opened the day before are older than that, and are not a lag.
    let processed_at = batch_processed_at().timestamp();
    let measurable = creation_times()
        .into_iter()
        .filter(|created| processed_at - created <= 24 * 3600)
        .count();
    assert!(measurable > 900 && measurable < 1000, "{measurable}");
    assert_eq!(
        values.get("StreamLag"),
        Some(&measurable),
        "one stream lag per record of the last 24 h, none dropped: {values:?}"
    );
    assert!(values["EndToEndLatency"] > 100, "{values:?}");
    assert!(documents.len() >= 10, "{} documents", documents.len());
}

#[test]
fn the_checks_catch_documents_that_break_the_specification() {
    let validator = schema();
    let now = Utc::now();
    let good = json!({
        "Function": "processor",
        "RecordsReceived": 3,
        "_aws": {"Timestamp": now.timestamp_millis(), "CloudWatchMetrics": [{
            "Namespace": "TxnNotify", "Dimensions": [["Function"]],
            "Metrics": [{"Name": "RecordsReceived", "Unit": "Count"}]}]}
    });
    assert!(violations(&good, &validator, now).is_empty());
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut document = good.clone();
        edit(&mut document);
        violations(&document, &validator, now)
    };
    let too_many_metrics: Vec<Value> = (0..101).map(|i| json!({"Name": format!("M{i}")})).collect();
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "101 metrics",
            broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"] = json!(too_many_metrics)),
        ),
        (
            "31 dimensions",
            broken(&|d| {
                let keys: Vec<String> = (0..31).map(|i| format!("D{i}")).collect();
                for key in &keys {
                    d[key] = json!("x");
                }
                d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([keys]);
            }),
        ),
        (
            "a unit CloudWatch does not know",
            broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("ms")),
        ),
        (
            "seconds, not milliseconds",
            broken(&|d| d["_aws"]["Timestamp"] = json!(now.timestamp())),
        ),
        (
            "a missing metric member",
            broken(&|d| {
                d.as_object_mut().unwrap().remove("RecordsReceived");
            }),
        ),
        ("a numeric dimension", broken(&|d| d["Function"] = json!(7))),
        (
            "101 values",
            broken(&|d| d["RecordsReceived"] = json!((0..101).collect::<Vec<i32>>())),
        ),
        (
            "an AWS namespace",
            broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!("AWS/Lambda")),
        ),
        (
            "a namespace with a comma",
            broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!("Txn,Notify")),
        ),
        (
            "StorageResolution 5",
            broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["StorageResolution"] = json!(5)),
        ),
        (
            "a latency at 60-second resolution",
            broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Milliseconds")),
        ),
    ];
    for (case, problems) in cases {
        assert!(!problems.is_empty(), "{case} was not caught");
    }
}

#[test]
fn the_embedded_runtime_writes_the_same_emf_as_lambda() {
    use chrono::{Datelike, Duration, Timelike};
    use txn_notify::local::tools::simulate::{Quiet, SimulateOptions, simulate};
    let dir = std::env::temp_dir().join(format!("txn-notify-emf-{}", std::process::id()));
    // A Sunday afternoon at least three days back: the whole Monday window comes (every
    // function, the digest worker among them, runs whatever the hour of the test), and the
    // run's clock, which goes on two days past its start, stays behind now.
    let three_days_ago = Utc::now() - Duration::days(3);
    let sunday = three_days_ago - Duration::days(i64::from(three_days_ago.weekday().num_days_from_sunday()));
    let starts_at = sunday
        .with_hour(16)
        .and_then(|t| t.with_minute(5))
        .and_then(|t| t.with_second(0))
        .unwrap();
    let options = SimulateOptions {
        accounts: 10,
        transactions: 300,
        seed: 42,
        faults: 0.0,
        crash_after: None,
        data_dir: dir.clone(),
        starts_at: Some(starts_at),
        shards: 1,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let report = runtime.block_on(simulate(&options, &Quiet)).unwrap();
    assert_eq!((report.lost, report.duplicated), (0, 0), "{:?}", report.examples);
    assert!(
        report.statements_published > 0,
        "the Monday window published no statement"
    );
    let validator = schema();
    let now = Utc::now();
    let text = std::fs::read_to_string(dir.join("metrics.emf")).unwrap();
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        let document: Value = serde_json::from_str(line).unwrap();
        let problems = violations(&document, &validator, now);
        assert!(problems.is_empty(), "{problems:?}\n{document}");
        let function = document["Function"].as_str().unwrap().to_string();
        for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap() {
            names
                .entry(function.clone())
                .or_default()
                .insert(metric["Name"].as_str().unwrap().to_string());
        }
    }
    let expected = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        names.keys().cloned().collect::<Vec<_>>(),
        [
            "auditor",
            "digest-planner",
            "digest-worker",
            "feedback",
            "notifier",
            "processor"
        ]
    );
    for (function, must) in [
        (
            "processor",
            expected(&[
                "ColdStart",
                "ProcessingLatency",
                "RecordsReceived",
                "EventsPublished",
                "StreamLag",
                "EndToEndLatency",
            ]),
        ),
        (
            "notifier",
            expected(&["ColdStart", "ProcessingLatency", "EmailsSent", "DuplicatesSkipped"]),
        ),
        (
            "auditor",
            expected(&["ColdStart", "ProcessingLatency", "AuditItemsWritten"]),
        ),
        (
            "feedback",
            expected(&[
                "ColdStart",
                "ProcessingLatency",
                "RecordsReceived",
                "AddressesMarkedUndeliverable",
                "NotificationsUndeliverable",
            ]),
        ),
        // simulate's Monday morning: the schedule's runs, then the workers on their pages.
        (
            "digest-planner",
            expected(&[
                "ColdStart",
                "ProcessingLatency",
                "DigestAccountsRead",
                "DigestPagesQueued",
            ]),
        ),
        (
            "digest-worker",
            expected(&[
                "ColdStart",
                "ProcessingLatency",
                "RecordsReceived",
                "StatementsPublished",
                "EventsPublished",
            ]),
        ),
    ] {
        assert!(names[function].is_superset(&must), "{function}: {:?}", names[function]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------ dashboard and alarms

fn template() -> serde_yaml_ng::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The `!Sub` string of a property.
fn sub_string(value: &serde_yaml_ng::Value) -> String {
    match value {
        serde_yaml_ng::Value::Tagged(tagged) if tagged.tag == "!Sub" => tagged.value.as_str().unwrap().to_string(),
        other => panic!("expected a !Sub string, found {other:?}"),
    }
}

/// The dashboard body with every `${...}` replaced by its name, as CloudFormation would
/// put a value there; also returns the names it referred to.
fn dashboard() -> (Value, BTreeSet<String>) {
    let template = template();
    let body = sub_string(&template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]);
    let mut references = BTreeSet::new();
    let mut resolved = String::new();
    let mut rest = body.as_str();
    while let Some(start) = rest.find("${") {
        resolved.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 2..end];
        references.insert(name.to_string());
        resolved.push_str(&name.replace(['.', ':'], "-"));
        rest = &rest[end + 1..];
    }
    resolved.push_str(rest);
    let body: Value = serde_json::from_str(&resolved).unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}"));
    (body, references)
}

/// (a dimension or function, MetricName) pairs.
type MetricNames = BTreeSet<(String, String)>;

/// The second dimensions the code writes besides Function.
const SECOND_DIMENSIONS: [&str; 2] = ["DetailType", "EventType"];

/// What the code writes: (Function, MetricName), and (dimension, MetricName) for the names
/// written per DetailType or per SES EventType.
async fn written_by_the_code() -> (MetricNames, MetricNames) {
    let mut by_function = BTreeSet::new();
    let mut by_dimension = BTreeSet::new();
    for (function, documents) in every_invocation().await {
        for document in documents {
            let directive = &document["_aws"]["CloudWatchMetrics"][0];
            let dimensions = directive["Dimensions"][0].as_array().unwrap();
            let second = SECOND_DIMENSIONS.iter().find(|d| dimensions.contains(&json!(d)));
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap().to_string();
                match second {
                    Some(dimension) => by_dimension.insert((dimension.to_string(), name)),
                    None => by_function.insert((function.to_string(), name)),
                };
            }
        }
    }
    (by_function, by_dimension)
}

/// What the dashboard shows of TxnNotify: (Function, MetricName), and the (dimension,
/// MetricName) its SEARCH expressions take per DetailType or EventType.
fn on_the_dashboard(body: &Value) -> (MetricNames, MetricNames) {
    let mut by_function = BTreeSet::new();
    let mut by_dimension = BTreeSet::new();
    for widget in body["widgets"].as_array().unwrap() {
        let Some(metrics) = widget["properties"]["metrics"].as_array() else {
            continue;
        };
        for metric in metrics {
            if let Some(expression) = metric["expression"].as_str() {
                let dimension = SECOND_DIMENSIONS
                    .iter()
                    .find(|d| expression.contains(&format!("{{TxnNotify,{d},Function}}")))
                    .unwrap_or_else(|| panic!("{expression}"));
                let name = expression
                    .split("MetricName=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                by_dimension.insert((dimension.to_string(), name.to_string()));
                continue;
            }
            let parts = metric.as_array().unwrap();
            assert!(
                parts.iter().all(|p| p != "."),
                "no '.' shorthand, so each line stands alone: {metric}"
            );
            if parts[0] == "TxnNotify" {
                assert_eq!(parts[2], "Function", "{metric}");
                by_function.insert((
                    parts[3].as_str().unwrap().to_string(),
                    parts[1].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    (by_function, by_dimension)
}

#[tokio::test]
async fn the_dashboard_shows_every_metric_the_code_writes_and_no_other() {
    let (body, _) = dashboard();
    let (shown, shown_by_dimension) = on_the_dashboard(&body);
    let (written, written_by_dimension) = written_by_the_code().await;
    let missing: Vec<_> = written.difference(&shown).collect();
    let unknown: Vec<_> = shown.difference(&written).collect();
    assert!(missing.is_empty(), "written but not on the dashboard: {missing:?}");
    assert!(unknown.is_empty(), "on the dashboard but never written: {unknown:?}");
    assert_eq!(shown_by_dimension, written_by_dimension);
}

#[test]
fn the_dashboard_covers_the_design_catalog_and_every_function() {
    let (body, references) = dashboard();
    let (shown, by_dimension) = on_the_dashboard(&body);
    let names: BTreeSet<&str> = shown.iter().map(|(_, name)| name.as_str()).collect();
    // docs/metrics.md's catalog.
    for name in [
        "RecordsReceived",
        "RecordsProcessed",
        "RecordsRejected",
        "RecordsRetried",
        "EventsPublished",
        "PutEventsFailedEntries",
        "BatchSize",
        "ProcessingLatency",
        "EndToEndLatency",
        "StreamLag",
        "EmailsSent",
        "EmailsSuppressed",
        "DuplicatesSkipped",
        "SesThrottled",
        "AuditItemsWritten",
        "ColdStart",
        "EmailsRejected",
        "AddressesMarkedUndeliverable",
        "NotificationsUndeliverable",
    ] {
        assert!(names.contains(name), "{name} is not on the dashboard");
    }
    assert!(by_dimension.contains(&("DetailType".into(), "EventsPublished".into())));
    assert!(by_dimension.contains(&("EventType".into(), "FeedbackReceived".into())));
    let text = body.to_string();
    for aws in [
        "IteratorAge",
        "Errors",
        "Throttles",
        "Duration",
        "ApproximateNumberOfMessagesVisible",
    ] {
        assert!(text.contains(&format!("\"{aws}\"")), "{aws} is not on the dashboard");
    }
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    for reference in &references {
        let resource = reference.split('.').next().unwrap();
        assert!(
            resource.starts_with("AWS::") || resources.contains_key(resource),
            "the dashboard refers to ${{{reference}}}, which is not a resource"
        );
    }
    for function in [
        "ProcessorFunction",
        "NotifierFunction",
        "AuditorFunction",
        "DigestPlannerFunction",
        "DigestWorkerFunction",
        "IngestFunction",
        "FeedbackFunction",
    ] {
        assert!(references.contains(function), "no Lambda metrics for {function}");
    }
    assert!(
        text.contains("\"Reputation.BounceRate\"") && text.contains("\"Reputation.ComplaintRate\""),
        "SES's reputation is on the dashboard"
    );
    for queue in DEAD_LETTER_QUEUES {
        assert!(
            references.contains(&format!("{queue}.QueueName")),
            "no depth for {queue}"
        );
    }
}

/// Every dead-letter queue of template.yaml: each has a depth on the dashboard and an alarm.
const DEAD_LETTER_QUEUES: [&str; 6] = [
    "NotifyDLQ",
    "AuditDLQ",
    "RoutingDLQ",
    "DigestDLQ",
    "DigestQueueDLQ",
    "FeedbackDLQ",
];

/// The alarms: (logical id, namespace, metric, the dimension value, statistic, threshold),
/// one row per metric an alarm watches (an alarm on metric math has several).
fn alarms() -> Vec<(String, String, String, String, String, f64)> {
    let template = template();
    let dimension_of = |id: &str, dimensions: &serde_yaml_ng::Value| match &dimensions[0]["Value"] {
        // An account-wide metric (SES's reputation).
        serde_yaml_ng::Value::Null => String::new(),
        serde_yaml_ng::Value::String(value) => value.clone(),
        serde_yaml_ng::Value::Tagged(tagged) => tagged.value.as_str().unwrap().to_string(),
        other => panic!("{id}: {other:?}"),
    };
    let mut rows = Vec::new();
    for (id, alarm) in template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
    {
        let p = &alarm["Properties"];
        let id = id.as_str().unwrap().to_string();
        for actions in ["AlarmActions", "OKActions"] {
            let action = format!("{:?}", p[actions][0]);
            assert!(
                action.contains("AlarmTopic"),
                "{id} {actions} do not go to AlarmTopic: {action}"
            );
        }
        assert_eq!(p["TreatMissingData"], "notBreaching", "{id}");
        let threshold = p["Threshold"].as_f64().unwrap();
        match p["Metrics"].as_sequence() {
            None => rows.push((
                id.clone(),
                p["Namespace"].as_str().unwrap().to_string(),
                p["MetricName"].as_str().unwrap().to_string(),
                dimension_of(&id, &p["Dimensions"]),
                p["Statistic"].as_str().unwrap().to_string(),
                threshold,
            )),
            Some(metrics) => {
                assert!(
                    metrics.iter().filter(|m| m["ReturnData"] == true).count() == 1,
                    "{id}: one expression decides"
                );
                for stat in metrics.iter().map(|m| &m["MetricStat"]).filter(|m| !m.is_null()) {
                    rows.push((
                        id.clone(),
                        stat["Metric"]["Namespace"].as_str().unwrap().to_string(),
                        stat["Metric"]["MetricName"].as_str().unwrap().to_string(),
                        dimension_of(&id, &stat["Metric"]["Dimensions"]),
                        stat["Stat"].as_str().unwrap().to_string(),
                        threshold,
                    ));
                }
            }
        }
    }
    rows
}

#[tokio::test]
async fn the_alarms_watch_errors_lag_rejections_dead_letters_throttling_and_the_digest() {
    let alarms = alarms();
    let has = |namespace: &str, metric: &str, dimension: &str, threshold: f64| {
        alarms.iter().any(|(_, ns, name, dim, _, t)| {
            ns == namespace && name == metric && dim.starts_with(dimension) && (*t - threshold).abs() < f64::EPSILON
        })
    };
    assert!(
        has("AWS/Lambda", "Errors", "ProcessorFunction", 0.0),
        "processor errors"
    );
    assert!(
        has("AWS/Lambda", "IteratorAge", "ProcessorFunction", 60_000.0),
        "stream lag over 60 s"
    );
    assert!(
        has("TxnNotify", "RecordsRejected", "processor", 0.0),
        "any Record Rejected"
    );
    for queue in DEAD_LETTER_QUEUES {
        assert!(
            has("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, 0.0),
            "{queue} depth above 0"
        );
    }
    // SES reviews an account at these rates: the alarm fires when one is reached.
    for (metric, threshold) in [("Reputation.BounceRate", 0.05), ("Reputation.ComplaintRate", 0.001)] {
        let alarm = alarms
            .iter()
            .find(|(_, ns, name, ..)| ns == "AWS/SES" && name == metric)
            .unwrap_or_else(|| panic!("no alarm on {metric}"));
        assert!((alarm.5 - threshold).abs() < 1e-12, "{metric}: {}", alarm.5);
        let comparison = &template()["Resources"][alarm.0.as_str()]["Properties"]["ComparisonOperator"];
        assert_eq!(
            comparison, "GreaterThanOrEqualToThreshold",
            "{metric}: at the rate, not only above it"
        );
    }
    assert!(has("TxnNotify", "SesThrottled", "notifier", 0.0), "SES throttling");
    for function in ["DigestPlannerFunction", "DigestWorkerFunction"] {
        assert!(has("AWS/Lambda", "Errors", function, 0.0), "digest failure: {function}");
    }
    assert!(
        has("TxnNotify", "RecordsRetried", "digest-worker", 0.0),
        "digest pages retried"
    );
    // An alarm on our namespace watches a metric the code writes for that function.
    let (written, _) = written_by_the_code().await;
    for (id, namespace, metric, function, _, _) in &alarms {
        if namespace == "TxnNotify" {
            assert!(
                written.contains(&(function.clone(), metric.clone())),
                "{id} watches {function}/{metric}, never written"
            );
        }
    }
}
