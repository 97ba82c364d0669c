//! The `txn-notify` binary as a user runs it: output shapes, exit codes, determinism
//! across processes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn txn_notify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_txn-notify"))
        .args(args)
        .env_remove("TXN_NOTIFY_RULES")
        .env_remove("TXN_NOTIFY_EVENT_BUS")
        .output()
        .expect("the binary runs")
}

fn stdout_json(output: &Output) -> Value {
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(text.trim().lines().count(), 1, "exactly one JSON line: {text}");
    serde_json::from_str(&text).unwrap()
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("txn-notify-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn assert_invoke_output(value: &Value, records: usize) {
    let object = value.as_object().unwrap();
    assert_eq!(object.keys().collect::<Vec<_>>(), ["published", "response"]);
    assert_eq!(value["response"], serde_json::json!({"batchItemFailures": []}));
    let published = value["published"].as_array().unwrap();
    assert!(
        !published.is_empty() && published.len() >= records / 2,
        "{} events for {records} records",
        published.len()
    );
    for event in published {
        let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Detail", "DetailType", "EventBusName", "Source"]);
        assert_eq!(event["Source"], "txn-notify");
        assert_eq!(event["EventBusName"], "txn-notify");
        assert!(event["Detail"].is_object());
    }
}

#[test]
fn invoke_processor_works_on_every_sample_event() {
    let mut files = 0;
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        files += 1;
        let output = txn_notify(&["invoke", "processor", "--event", path.to_str().unwrap(), "--json"]);
        assert!(
            output.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let records = serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap()).unwrap()["Records"]
            .as_array()
            .unwrap()
            .len();
        assert_invoke_output(&stdout_json(&output), records);
    }
    assert!(files >= 4, "events/ holds the four samples");
}

#[test]
fn invoke_processor_handles_a_generated_batch_of_ten_thousand_records() {
    let file = temp_file("batch-10000.json");
    let generated = txn_notify(&[
        "events",
        "generate",
        "--accounts",
        "500",
        "--transactions",
        "10000",
        "--seed",
        "5",
        "--max-records",
        "10000",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(generated.status.success());
    let records = serde_json::from_str::<Value>(&std::fs::read_to_string(&file).unwrap()).unwrap()["Records"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(records, 10_000);
    let output = txn_notify(&["invoke", "processor", "--event", file.to_str().unwrap(), "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let value = stdout_json(&output);
    assert_invoke_output(&value, records);
    let rejected = value["published"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["DetailType"] == "Record Rejected")
        .count();
    assert!(
        rejected >= 40,
        "about 5 per mille of the transactions are malformed: {rejected}"
    );
}

#[test]
fn two_processes_publish_exactly_the_same_events() {
    let path = events_dir().join("batch-1000.json");
    let run = || {
        txn_notify(&[
            "invoke",
            "processor",
            "--event",
            path.to_str().unwrap(),
            "--json",
            "--now",
            "2026-11-21T00:00:00Z",
        ])
        .stdout
    };
    let (first, second) = (run(), run());
    assert!(!first.is_empty());
    assert_eq!(first, second);
}

#[test]
fn the_human_report_counts_what_happened() {
    let path = events_dir().join("mixed-batch.json");
    let output = txn_notify(&["invoke", "processor", "--event", path.to_str().unwrap()]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("processor: 20 records: 12 processed, 3 ignored, 5 rejected, 0 to retry"),
        "{text}"
    );
    assert!(text.contains("response: {\"batchItemFailures\":[]}"), "{text}");
    assert!(
        !text.contains("example.com") && !text.contains("Dupont"),
        "no personal data in the report"
    );
}

#[test]
fn invoke_rejects_files_that_are_not_stream_events() {
    let not_json = temp_file("not.json");
    std::fs::write(&not_json, "{ nope").unwrap();
    let not_stream = temp_file("not-stream.json");
    std::fs::write(&not_stream, "[1, 2, 3]").unwrap();
    let mut shapes = Vec::new();
    for (name, text, says) in [
        ("empty-object.json", "{}", "no \"Records\" list"),
        (
            "records-string.json",
            r#"{"Records": "x"}"#,
            "\"Records\" is not a list",
        ),
        (
            "records-object.json",
            r#"{"Records": {"a": 1}}"#,
            "\"Records\" is not a list",
        ),
        ("records-null.json", r#"{"Records": null}"#, "no \"Records\" list"),
        ("sqs.json", r#"{"records": []}"#, "no \"Records\" list"),
    ] {
        let path = temp_file(name);
        std::fs::write(&path, text).unwrap();
        let output = txn_notify(&["invoke", "processor", "--event", path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("not a DynamoDB stream event") && stderr.contains(says),
            "{text}: {stderr}"
        );
        assert!(!String::from_utf8_lossy(&output.stdout).contains("0 records"), "{text}");
        shapes.push(path);
    }
    // An empty list is a batch with nothing to do.
    let empty = temp_file("empty-batch.json");
    std::fs::write(&empty, r#"{"Records": []}"#).unwrap();
    assert_eq!(
        txn_notify(&["invoke", "processor", "--event", empty.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    for path in [
        not_json.to_str().unwrap(),
        not_stream.to_str().unwrap(),
        "/nonexistent/event.json",
    ] {
        let output = txn_notify(&["invoke", "processor", "--event", path, "--json"]);
        assert_eq!(output.status.code(), Some(2), "{path}");
        let value = stdout_json(&output);
        assert!(value["error"].as_str().is_some_and(|e| !e.is_empty()), "{value}");
        let output = txn_notify(&["invoke", "processor", "--event", path]);
        assert_eq!(output.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&output.stderr).starts_with("txn-notify: "));
    }
}

#[test]
fn invoke_uses_a_rules_file_when_given_one() {
    let rules = temp_file("no-alerts.toml");
    std::fs::write(&rules, "version = 1\n[categories]\ndefault = \"other\"\n").unwrap();
    let path = events_dir().join("mixed-batch.json");
    let output = txn_notify(&[
        "invoke",
        "processor",
        "--event",
        path.to_str().unwrap(),
        "--json",
        "--rules",
        rules.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let value = stdout_json(&output);
    let types: std::collections::BTreeSet<&str> = value["published"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["DetailType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        ["Account Opened", "Record Rejected", "Transaction Recorded"]
    );
    let bad = temp_file("bad.toml");
    std::fs::write(&bad, "version = 7").unwrap();
    let output = txn_notify(&[
        "invoke",
        "processor",
        "--event",
        path.to_str().unwrap(),
        "--rules",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn rules_check_answers_with_exit_codes() {
    let default = txn_notify(&["rules", "default"]);
    let file = temp_file("default.toml");
    std::fs::write(&file, &default.stdout).unwrap();
    let ok = txn_notify(&["rules", "check", file.to_str().unwrap(), "--json"]);
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(stdout_json(&ok)["valid"], true);

    let bad = temp_file("bad-rules.toml");
    std::fs::write(
        &bad,
        "version = 1\n[categories]\ndefault = \"snacks\"\n[[categories.by_mcc]]\ncategory = \"fuel\"\nmcc = [\"99\"]\n",
    )
    .unwrap();
    let output = txn_notify(&["rules", "check", bad.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let value = stdout_json(&output);
    assert_eq!(value["valid"], false);
    let paths: Vec<&str> = value["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/categories/default") && paths.contains(&"/categories/by_mcc/0/mcc/0"),
        "{paths:?}"
    );
    let human = txn_notify(&["rules", "check", bad.to_str().unwrap()]);
    assert_eq!(human.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&human.stderr).contains("/categories/default"));

    let missing = txn_notify(&["rules", "check", "/nonexistent/rules.toml"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn events_generate_is_deterministic_per_seed() {
    let run = |seed: &str| {
        txn_notify(&[
            "events",
            "generate",
            "--accounts",
            "10",
            "--transactions",
            "200",
            "--seed",
            seed,
        ])
        .stdout
    };
    assert_eq!(run("3"), run("3"));
    assert_ne!(run("3"), run("4"));
    let value: Value = serde_json::from_slice(&run("3")).unwrap();
    assert!(value["Records"].as_array().unwrap().len() >= 210);
}

#[test]
fn pattern_answers_match_no_match_and_invalid_with_exit_codes() {
    let pattern = temp_file("pattern.json");
    std::fs::write(
        &pattern,
        r#"{"source":["txn-notify"],"detail":{"severity":[{"anything-but":"info"}]}}"#,
    )
    .unwrap();
    let matching = temp_file("event-match.json");
    std::fs::write(
        &matching,
        r#"{"source":"txn-notify","detail-type":"Large Transaction","detail":{"severity":"critical"}}"#,
    )
    .unwrap();
    let other = temp_file("event-other.json");
    std::fs::write(
        &other,
        r#"{"source":"txn-notify","detail-type":"Top-up Completed","detail":{"severity":"info"}}"#,
    )
    .unwrap();
    let invalid = temp_file("pattern-invalid.json");
    std::fs::write(&invalid, r#"{"detail":{"severity":[{"anything-but":[]}]}}"#).unwrap();
    let not_json = temp_file("not-json.json");
    std::fs::write(&not_json, "{").unwrap();
    let run = |p: &PathBuf, e: &PathBuf, json: bool| {
        let mut args = vec![
            "pattern",
            "--pattern",
            p.to_str().unwrap(),
            "--event",
            e.to_str().unwrap(),
        ];
        if json {
            args.push("--json");
        }
        txn_notify(&args)
    };

    let yes = run(&pattern, &matching, false);
    assert_eq!(
        (yes.status.code(), String::from_utf8_lossy(&yes.stdout).trim()),
        (Some(0), "match")
    );
    let no = run(&pattern, &other, false);
    assert_eq!(
        (no.status.code(), String::from_utf8_lossy(&no.stdout).trim()),
        (Some(1), "no match")
    );
    assert_eq!(
        stdout_json(&run(&pattern, &matching, true)),
        serde_json::json!({"match": true})
    );
    let no_json = run(&pattern, &other, true);
    assert_eq!(
        (no_json.status.code(), stdout_json(&no_json)),
        (Some(1), serde_json::json!({"match": false}))
    );

    let bad = run(&invalid, &matching, true);
    assert_eq!(bad.status.code(), Some(2));
    let error = stdout_json(&bad)["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("detail.severity[0].anything-but") && error.contains("empty arrays"),
        "{error}"
    );
    let bad_human = run(&invalid, &matching, false);
    assert_eq!(bad_human.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_human.stderr).contains("detail.severity[0].anything-but"));
    for (p, e) in [(&not_json, &matching), (&pattern, &not_json)] {
        let output = run(p, e, true);
        assert_eq!(output.status.code(), Some(2));
        assert!(stdout_json(&output)["error"].is_string());
    }
}

#[test]
fn invoke_auditor_writes_one_record_per_event() {
    let path = events_dir().join("consumers/sqs-every-detail-type.json");
    let output = txn_notify(&["invoke", "auditor", "--event", path.to_str().unwrap(), "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let value = stdout_json(&output);
    assert_eq!(value["response"], serde_json::json!({"batchItemFailures": []}));
    assert_eq!(value["audit"]["written"], 14);
    let types: std::collections::BTreeSet<&str> = value["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["detail_type"].as_str().unwrap())
        .collect();
    assert_eq!(types.len(), 14, "one record per detail-type");
    let bare = events_dir().join("consumers/eventbridge-transaction-recorded.json");
    let output = txn_notify(&["invoke", "auditor", "--event", bare.to_str().unwrap(), "--json"]);
    assert!(output.status.success());
    let value = stdout_json(&output);
    assert_eq!(
        (value["response"].clone(), value["audit"]["written"].clone()),
        (serde_json::Value::Null, serde_json::json!(1))
    );
    let stream = events_dir().join("mixed-batch.json");
    let output = txn_notify(&["invoke", "auditor", "--event", stream.to_str().unwrap(), "--json"]);
    let value = stdout_json(&output);
    assert_eq!(
        value["audit"]["malformed"], 20,
        "stream records are not EventBridge events: all reported"
    );
}

fn ledger_seed() -> String {
    events_dir().join("ledger/sample.json").to_str().unwrap().to_string()
}

#[test]
fn invoke_notifier_writes_each_email_as_an_eml_file() {
    let path = events_dir().join("consumers/sqs-every-detail-type.json");
    let outbox = temp_file("outbox");
    let _ = std::fs::remove_dir_all(&outbox);
    let args = [
        "invoke",
        "notifier",
        "--event",
        path.to_str().unwrap(),
        "--ledger",
        &ledger_seed(),
        "--outbox",
        outbox.to_str().unwrap(),
        "--json",
    ];
    let output = txn_notify(&args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let value = stdout_json(&output);
    assert_eq!(value["response"], serde_json::json!({"batchItemFailures": []}));
    let emails = value["emails"].as_array().unwrap();
    // Account Opened, Transaction Recorded and Weekly Statement are emailed; the alerts and
    // Record Rejected are not.
    assert_eq!(emails.len(), 3, "{value}");
    for email in emails {
        assert!(email["to"].as_str().unwrap().ends_with("@example.com"));
        let file = std::fs::read(email["file"].as_str().unwrap()).unwrap();
        let message = mail_parser::MessageParser::default().parse(&file).unwrap();
        assert_eq!(message.subject(), email["subject"].as_str());
        assert!(mail_parser::MimeHeaders::is_content_type(
            &message,
            "multipart",
            "alternative"
        ));
        assert_eq!((message.text_body_count(), message.html_body_count()), (1, 1));
    }
}

#[test]
fn invoke_ingest_answers_each_sample_request_like_api_gateway() {
    let api = events_dir().join("api");
    let mut statuses = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&api).unwrap() {
        let path = entry.unwrap().path();
        let args = [
            "invoke",
            "ingest",
            "--event",
            path.to_str().unwrap(),
            "--ledger",
            &ledger_seed(),
            "--now",
            "2026-11-20T18:00:10Z",
            "--json",
        ];
        let output = txn_notify(&args);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let response = stdout_json(&output);
        assert!(response["body"].is_string() && response["headers"]["content-type"].is_string());
        statuses.insert(
            path.file_name().unwrap().to_str().unwrap().to_string(),
            response["statusCode"].clone(),
        );
        if path.to_str().unwrap().contains("unsubscribe") {
            // Not signed: the token is the credential, and it lasts 180 days.
            let late = [
                "invoke",
                "ingest",
                "--event",
                path.to_str().unwrap(),
                "--ledger",
                &ledger_seed(),
                "--now",
                "2027-06-01T00:00:00Z",
                "--json",
            ];
            assert_eq!(stdout_json(&txn_notify(&late))["statusCode"], 410);
            continue;
        }
        // The samples were signed at 18:00:00: ten minutes later, the signature has expired.
        let late = [
            "invoke",
            "ingest",
            "--event",
            path.to_str().unwrap(),
            "--now",
            "2026-11-20T18:10:00Z",
            "--json",
        ];
        assert_eq!(stdout_json(&txn_notify(&late))["statusCode"], 401);
    }
    assert_eq!(
        serde_json::to_value(&statuses).unwrap(),
        serde_json::json!({
            "get-account.json": 200, "get-transactions.json": 200, "patch-account.json": 200, "post-account.json": 201,
            "post-top-up.json": 201, "post-transaction.json": 201, "get-notifications.json": 200,
            "get-unsubscribe.json": 200, "post-unsubscribe.json": 200,
        })
    );
}

/// A scheduled event of the weekly schedule at `time` (the sample's, with another hour).
fn scheduled_event_at(time: &str) -> PathBuf {
    let sample = std::fs::read_to_string(events_dir().join("scheduled/weekly-digest.json")).unwrap();
    let mut event: Value = serde_json::from_str(&sample).unwrap();
    event["time"] = Value::String(time.into());
    let path = temp_file(&format!("scheduled-{}.json", time.replace(':', "")));
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

fn invoke_digest_at(time: &str) -> Value {
    let path = scheduled_event_at(time);
    let output = txn_notify(&[
        "invoke",
        "digest",
        "--event",
        path.to_str().unwrap(),
        "--ledger",
        &ledger_seed(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    stdout_json(&output)
}

fn statement_accounts(value: &Value) -> Vec<(String, String, u64)> {
    value["published"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["DetailType"], "Weekly Statement", "{p}");
            let detail = &p["Detail"];
            (
                detail["account_id"].as_str().unwrap().to_string(),
                detail["week"]["start"].as_str().unwrap().to_string(),
                detail["transaction_count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn invoke_digest_sends_each_zone_its_statements_in_the_hour_of_its_monday_six_am() {
    // The sample ledger: acc-fr-001 (Europe/Paris, 5 transactions in the week of 16 November),
    // acc-gb-002 (Europe/London, 2), acc-jp-003 (Asia/Tokyo, none that week).
    // Monday 23 November 2026, 06:00 in Paris (UTC+1) is 05:00 UTC.
    let paris = invoke_digest_at("2026-11-23T05:00:00Z");
    assert_eq!(paris["plan"]["accounts_read"], 1, "{paris}");
    assert_eq!(
        paris["plan"]["zones"],
        serde_json::json!([{"zone": "Europe/Paris", "accounts": 1}])
    );
    assert_eq!(
        statement_accounts(&paris),
        vec![("acc-fr-001".to_string(), "2026-11-16".to_string(), 5)]
    );
    // 05:59:59 is still the 05:00 run: the same statement, the same event_id.
    let still_paris = invoke_digest_at("2026-11-23T05:59:59Z");
    assert_eq!(statement_accounts(&still_paris), statement_accounts(&paris));
    assert_eq!(
        paris["published"][0]["Detail"]["event_id"], still_paris["published"][0]["Detail"]["event_id"],
        "a rerun of the same hour publishes the same event_id"
    );
    // At 06:00 UTC it is London's turn (UTC+0 in November).
    let london = invoke_digest_at("2026-11-23T06:00:00Z");
    assert_eq!(
        statement_accounts(&london),
        vec![("acc-gb-002".to_string(), "2026-11-16".to_string(), 2)]
    );
    // Tokyo's Monday 06:00 (UTC+9) is Sunday 21:00 UTC: its account is due, but had no
    // transaction that week, so it gets no statement.
    let tokyo = invoke_digest_at("2026-11-22T21:00:00Z");
    assert_eq!(tokyo["plan"]["accounts_read"], 1, "{tokyo}");
    assert_eq!(tokyo["workers"]["accounts_without_transactions"], 1, "{tokyo}");
    assert!(statement_accounts(&tokyo).is_empty());
    // An hour with no zone at Monday 06:00 among the accounts: nothing.
    let none = invoke_digest_at("2026-11-23T12:00:00Z");
    assert_eq!(none["plan"]["accounts_read"], 0, "{none}");
    assert!(statement_accounts(&none).is_empty());
}

#[test]
fn invoke_digest_refuses_an_event_that_is_not_a_planner_run() {
    let path = temp_file("digest-with-detail.json");
    std::fs::write(
        &path,
        r#"{"time": "2026-11-23T05:00:00Z", "detail": {"segment": 0, "total_segments": 4}}"#,
    )
    .unwrap();
    let output = txn_notify(&["invoke", "digest", "--event", path.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`detail` must be empty"), "{stderr}");
}

#[test]
fn invoke_digest_worker_answers_an_sqs_batch_of_pages() {
    let path = events_dir().join("digest/sqs-digest-pages.json");
    let output = txn_notify(&[
        "invoke",
        "digest-worker",
        "--event",
        path.to_str().unwrap(),
        "--ledger",
        &ledger_seed(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let value = stdout_json(&output);
    assert_eq!(value["response"], serde_json::json!({"batchItemFailures": []}));
    // The Paris page names an account the ledger does not hold: no statement, no failure.
    assert_eq!(value["workers"]["accounts_not_due"], 1, "{value}");
    let mut accounts = statement_accounts(&value);
    accounts.sort();
    assert_eq!(
        accounts,
        vec![
            ("acc-fr-001".to_string(), "2026-11-16".to_string(), 5),
            ("acc-gb-002".to_string(), "2026-11-16".to_string(), 2),
        ]
    );
    // A page that is not a page is that message's failure alone.
    let mut batch: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    batch["Records"][0]["body"] = Value::String("{\"zone\": \"Europe/London\"}".into());
    let broken = temp_file("digest-pages-broken.json");
    std::fs::write(&broken, batch.to_string()).unwrap();
    let output = txn_notify(&[
        "invoke",
        "digest-worker",
        "--event",
        broken.to_str().unwrap(),
        "--ledger",
        &ledger_seed(),
        "--json",
    ]);
    let value = stdout_json(&output);
    assert_eq!(
        value["response"]["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": batch["Records"][0]["messageId"]}])
    );
    assert_eq!(value["malformed"], 1);
    assert_eq!(
        statement_accounts(&value),
        vec![("acc-fr-001".to_string(), "2026-11-16".to_string(), 5)]
    );
}

#[test]
fn simulate_then_replay_its_archive_from_the_command_line() {
    let dir = temp_file("simulate-data");
    let output = txn_notify(&[
        "simulate",
        "--accounts",
        "8",
        "--transactions",
        "150",
        "--faults",
        "0.05",
        "--shards",
        "2",
        "--data-dir",
        dir.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = stdout_json(&output);
    assert_eq!(
        (report["lost"].as_u64(), report["duplicated"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(report["emails_sent"].as_u64().unwrap() > 50);
    assert_eq!(report["shards"], 2);
    for shard in ["shard-0", "shard-1"] {
        assert!(dir.join(shard).join("outbox/index.html").exists(), "{shard}");
        assert!(dir.join(shard).join("metrics.emf").exists(), "{shard}");
    }
    assert!(!dir.join("txn-notify.db").exists(), "no store beside the shards");

    for refused in [
        txn_notify(&["simulate", "--faults", "1.5", "--json"]),
        txn_notify(&["simulate", "--shards", "0", "--json"]),
        txn_notify(&["simulate", "--shards", "65", "--json"]),
    ] {
        assert_eq!(refused.status.code(), Some(2), "a usage error");
    }

    // The dashboard draws every shard's metrics.
    let drawn = txn_notify(&["dashboard", "--data-dir", dir.to_str().unwrap()]);
    assert!(drawn.status.success(), "{}", String::from_utf8_lossy(&drawn.stderr));
    // Nothing opens a store at the top of a sharded folder (it would be a new, empty one).
    let refused = txn_notify(&[
        "invoke",
        "auditor",
        "--event",
        events_dir()
            .join("consumers/sqs-every-detail-type.json")
            .to_str()
            .unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr).to_string() + &String::from_utf8_lossy(&refused.stdout);
    assert!(
        said.contains("split into 2 shards") && said.contains("shard-0"),
        "{said}"
    );
    assert!(!dir.join("txn-notify.db").exists());

    // Replaying the whole archive redoes nothing; an audit item lost meanwhile (in one
    // shard) is written again.
    let db = rusqlite::Connection::open(dir.join("shard-1/txn-notify.db")).unwrap();
    db.execute(
        "DELETE FROM audit WHERE event_id = (SELECT MIN(event_id) FROM audit)",
        [],
    )
    .unwrap();
    drop(db);
    let replay = |rules: &[&str]| {
        let mut args = vec![
            "replay",
            "--data-dir",
            dir.to_str().unwrap(),
            "--from",
            "2000-01-01T00:00:00Z",
            "--to",
            "2100-01-01T00:00:00Z",
            "--json",
        ];
        for rule in rules {
            args.extend(["--rule", rule]);
        }
        let output = txn_notify(&args);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
        stdout_json(&output)
    };
    let audit_only = replay(&["AuditRule"]);
    assert_eq!(audit_only["deliveries"].as_u64(), report["audit_items"].as_u64());
    assert_eq!(
        (
            audit_only["new_emails"].as_u64(),
            audit_only["new_audit_items"].as_u64()
        ),
        (Some(0), Some(1))
    );
    let everything = replay(&[]);
    assert!(everything["deliveries"].as_u64().unwrap() > audit_only["deliveries"].as_u64().unwrap());
    assert_eq!(
        (
            everything["new_emails"].as_u64(),
            everything["new_audit_items"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let unknown = txn_notify(&[
        "replay",
        "--data-dir",
        dir.to_str().unwrap(),
        "--from",
        "2000-01-01T00:00:00Z",
        "--to",
        "2100-01-01T00:00:00Z",
        "--rule",
        "NoSuchRule",
        "--json",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
}

/// An API Gateway request for POST /v1/accounts that opens `account_id`, signed with the
/// local secret at the samples' time.
fn signed_account_request(account_id: &str) -> PathBuf {
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(events_dir().join("api/post-account.json")).unwrap()).unwrap();
    let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    body["account_id"] = account_id.into();
    body["preferences"]["muted_categories"] = serde_json::json!([]);
    let body = body.to_string();
    let signature = txn_notify::pipeline::ingest::auth::sign(
        txn_notify::local::memory::LOCAL_SIGNING_SECRET.as_bytes(),
        1_795_197_600,
        "POST",
        "/v1/accounts",
        body.as_bytes(),
    );
    event["body"] = body.into();
    event["headers"]["x-signature"] = signature.into();
    let path = temp_file(&format!("open-{account_id}.json"));
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

#[test]
fn invoke_with_a_data_dir_keeps_state_in_the_embedded_store_between_processes() {
    let dir = temp_file("data-dir-store");
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.to_str().unwrap();
    let open = signed_account_request("acc-fr-001");
    let ingest = [
        "invoke",
        "ingest",
        "--data-dir",
        dir_arg,
        "--event",
        open.to_str().unwrap(),
        "--now",
        "2026-11-20T18:00:10Z",
        "--json",
    ];
    assert_eq!(stdout_json(&txn_notify(&ingest))["statusCode"], 201);
    assert_eq!(
        stdout_json(&txn_notify(&ingest))["statusCode"],
        200,
        "the second process finds the account the first one wrote"
    );

    // The notifier reads the profile from the store and sends into its outbox; a second
    // delivery of the same messages finds the idempotency records and sends nothing.
    let deliveries = events_dir().join("consumers/sqs-every-detail-type.json");
    let notify = [
        "invoke",
        "notifier",
        "--data-dir",
        dir_arg,
        "--event",
        deliveries.to_str().unwrap(),
        "--json",
    ];
    let first = stdout_json(&txn_notify(&notify));
    let sent = first["stats"]["sent"].as_u64().unwrap();
    assert!(sent >= 1, "{first}");
    assert_eq!(first["emails"].as_array().unwrap().len() as u64, sent);
    for email in first["emails"].as_array().unwrap() {
        let file = email["file"].as_str().unwrap();
        assert!(
            file.starts_with(dir_arg) && std::path::Path::new(file).exists(),
            "{file}"
        );
    }
    assert!(dir.join("outbox/index.html").exists());
    let second = stdout_json(&txn_notify(&notify));
    assert_eq!(second["stats"]["sent"], 0, "{second}");
    assert_eq!(second["stats"]["duplicates"].as_u64().unwrap(), sent, "{second}");

    // The auditor writes into the store's audit items, once.
    let audit = [
        "invoke",
        "auditor",
        "--data-dir",
        dir_arg,
        "--event",
        deliveries.to_str().unwrap(),
        "--json",
    ];
    assert_eq!(stdout_json(&txn_notify(&audit))["audit"]["written"], 14);
    let again = stdout_json(&txn_notify(&audit));
    assert_eq!(
        (again["audit"]["written"].clone(), again["audit"]["duplicates"].clone()),
        (0.into(), 14.into())
    );

    // The processor publishes onto the store's bus: template.yaml's AuditRule takes every
    // event, so the audit queue holds one message per published event.
    let stream = events_dir().join("mixed-batch.json");
    let output = txn_notify(&[
        "invoke",
        "processor",
        "--data-dir",
        dir_arg,
        "--event",
        stream.to_str().unwrap(),
        "--json",
    ]);
    let value = stdout_json(&output);
    let published = value["published"].as_array().unwrap().len() as u64;
    assert!(published > 0, "{value}");
    let store = txn_notify::local::embedded::store::EmbeddedStore::open(&dir, txn_notify::clock::SystemClock).unwrap();
    let depth = store.queue_depth("AuditQueue").unwrap();
    assert_eq!(depth.visible, published);
}

#[test]
fn cost_prints_every_line_and_the_figures_of_docs_cost_md_are_the_commands() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cost.md")).unwrap();
    let usd = |picodollars: u64| {
        let cents = (u128::from(picodollars) + 5_000_000_000) / 10_000_000_000;
        let whole = (cents / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("${grouped}.{:02}", cents % 100)
    };
    for per_day in ["10000", "100000", "1000000"] {
        let output = txn_notify(&["cost", "--transactions-per-day", per_day, "--json"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let value = stdout_json(&output);
        for design in ["lambda", "pipes"] {
            let estimate = &value[design];
            let lines = estimate["lines"].as_array().unwrap();
            let sum: u64 = lines.iter().map(|l| l["picodollars"].as_u64().unwrap()).sum();
            assert_eq!(sum, estimate["total_picodollars"].as_u64().unwrap());
            let total = usd(sum);
            assert!(
                doc.contains(&total),
                "docs/cost.md lacks {design} {per_day}/day: {total}"
            );
        }
        let services: std::collections::BTreeSet<&str> = value["lambda"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["service"].as_str().unwrap())
            .collect();
        for service in ["Lambda", "DynamoDB", "EventBridge", "SQS", "SES", "CloudWatch"] {
            assert!(services.contains(service), "{service}");
        }
    }
    let bad = txn_notify(&["cost", "--transactions-per-day", "1000", "--alert-rate", "-1"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let batch = events_dir().join("batch-1000.json");
    // Far more than a pipe holds, so the command writes after its reader is gone.
    for args in [
        vec!["invoke", "processor", "--event", batch.to_str().unwrap(), "--json"],
        vec![
            "events",
            "generate",
            "--accounts",
            "50",
            "--transactions",
            "3000",
            "--seed",
            "1",
        ],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_txn-notify"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.is_empty(), "{args:?} printed: {stderr}");
        assert!(
            output.status.success() || output.status.signal() == Some(libc::SIGPIPE),
            "{args:?}: {:?}",
            output.status
        );
    }
}

/// A sample's ApproximateCreationDateTime is when DynamoDB wrote the item: at or just after
/// the item's own date (booked_at, created_at), never a year away from it.
#[test]
fn sample_stream_records_were_written_when_their_items_say() {
    let mut checked = 0;
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for record in event["Records"].as_array().into_iter().flatten() {
            let dynamodb = &record["dynamodb"];
            let Some(written) = dynamodb["ApproximateCreationDateTime"].as_i64() else {
                continue;
            };
            let image = if dynamodb["NewImage"].is_object() {
                &dynamodb["NewImage"]
            } else {
                &dynamodb["OldImage"]
            };
            let date = ["booked_at", "created_at"]
                .iter()
                .find_map(|field| image[field]["S"].as_str())
                .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok());
            let Some(date) = date else { continue };
            let after = written - date.timestamp();
            assert!(
                (-300..=3 * 86_400).contains(&after),
                "{}: written {after} s after its item's date",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 1000, "{checked}");
}

/// `bench processor` on a generated batch: its counts are the processor's own (as `invoke
/// processor` reports them for the same file), its rates are positive, and the process's
/// peak RSS is reported.
#[test]
fn bench_processor_measures_the_processor_on_any_stream_event_file() {
    let file = temp_file("bench-batch.json");
    let generated = txn_notify(&[
        "events",
        "generate",
        "--accounts",
        "40",
        "--transactions",
        "800",
        "--seed",
        "9",
        "--compact",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(generated.status.success(), "{generated:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.trim().lines().count(), 1, "--compact writes one line");
    let records = serde_json::from_str::<Value>(&text).unwrap()["Records"]
        .as_array()
        .unwrap()
        .len();

    let invoked = stdout_json(&txn_notify(&[
        "invoke",
        "processor",
        "--event",
        file.to_str().unwrap(),
        "--json",
    ]));
    let published = invoked["published"].as_array().unwrap().len();

    let output = txn_notify(&[
        "bench",
        "processor",
        "--event",
        file.to_str().unwrap(),
        "--iterations",
        "3",
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let figures = stdout_json(&output);
    assert_eq!(figures["records"], records as u64, "{figures}");
    assert_eq!(
        figures["events"], published as u64,
        "the same events as invoke publishes: {figures}"
    );
    assert_eq!(figures["iterations"], 3);
    let calls = figures["put_events_calls"].as_u64().unwrap();
    assert!(
        calls as usize >= published.div_ceil(10) && (calls as usize) <= published,
        "{figures}"
    );
    assert!(figures["records_per_second"].as_u64().unwrap() > 0, "{figures}");
    assert!(figures["events_per_second"].as_u64().unwrap() > 0, "{figures}");
    assert!(figures["peak_rss_bytes"].as_u64().unwrap() > 1_000_000, "{figures}");

    let human = txn_notify(&[
        "bench",
        "processor",
        "--event",
        file.to_str().unwrap(),
        "--iterations",
        "1",
    ]);
    let human = String::from_utf8(human.stdout).unwrap();
    assert!(
        human.contains(&format!("{records} records")) && human.contains("records/s"),
        "{human}"
    );
}

#[test]
fn bench_processor_refuses_what_is_not_a_stream_event() {
    let file = temp_file("bench-not-a-batch.json");
    for (text, says) in [
        (r#"{"Records": "x"}"#, "not a list"),
        ("{}", "no \"Records\""),
        ("not json", "not JSON"),
    ] {
        std::fs::write(&file, text).unwrap();
        let output = txn_notify(&["bench", "processor", "--event", file.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(says), "{text}: {stderr}");
    }
    let missing = txn_notify(&["bench", "processor", "--event", "/nonexistent/batch.json", "--json"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stdout_json(&missing)["error"].as_str().unwrap().contains("cannot read"));
}
