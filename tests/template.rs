//! template.yaml against what the code needs and what the issue promises, without AWS:
//! every function is built the same way, every variable a binary requires is set, the event
//! sources report partial failures with finite retries, and no role grants a `*` action.

use serde_yaml_ng::Value;

fn template() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn functions(template: &Value) -> Vec<(String, Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, r)| (k.as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// The names a binary passes to `Settings::required(...)`.
fn required_variables(binary: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/bin/{binary}.rs"));
    let source = std::fs::read_to_string(path).unwrap();
    source
        .split("Settings::required(\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn every_function_is_an_arm64_cargo_lambda_build_of_one_of_our_binaries() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"][0], "arm64");
    let mut binaries: Vec<String> = functions(&template)
        .iter()
        .map(|(name, function)| {
            assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
            let binary = function["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(format!("src/bin/{binary}.rs"))
                    .exists(),
                "{name} builds {binary}, which is not in src/bin"
            );
            binary
        })
        .collect();
    binaries.sort();
    assert_eq!(
        binaries,
        [
            "auditor",
            "digest-planner",
            "digest-worker",
            "feedback",
            "ingest",
            "notifier",
            "processor"
        ]
    );
}

#[test]
fn every_variable_a_binary_requires_is_set_for_its_function() {
    let template = template();
    let global = template["Globals"]["Function"]["Environment"]["Variables"].clone();
    for (name, function) in functions(&template) {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let own = &function["Properties"]["Environment"]["Variables"];
        let required = required_variables(binary);
        assert!(
            !required.is_empty(),
            "{binary} reads its settings through Settings::required"
        );
        for variable in required {
            assert!(
                !own[variable.as_str()].is_null() || !global[variable.as_str()].is_null(),
                "{name} ({binary}) requires {variable}, which the template does not set"
            );
        }
    }
}

#[test]
fn event_sources_report_partial_failures_and_give_up_in_time() {
    let template = template();
    let mut sources = 0;
    for (name, function) in functions(&template) {
        let Some(events) = function["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            let properties = &event["Properties"];
            match event["Type"].as_str().unwrap() {
                "DynamoDB" => {
                    sources += 1;
                    assert_eq!(
                        properties["FunctionResponseTypes"][0], "ReportBatchItemFailures",
                        "{name}"
                    );
                    assert_eq!(properties["BisectBatchOnFunctionError"], true, "{name}");
                    let retries = properties["MaximumRetryAttempts"].as_i64().unwrap();
                    let age = properties["MaximumRecordAgeInSeconds"].as_i64().unwrap();
                    assert!(
                        (0..=10_000).contains(&retries) && (60..=604_800).contains(&age),
                        "{name}"
                    );
                    assert!(!properties["DestinationConfig"]["OnFailure"]["Destination"].is_null());
                }
                "SQS" => {
                    sources += 1;
                    assert_eq!(
                        properties["FunctionResponseTypes"][0], "ReportBatchItemFailures",
                        "{name}"
                    );
                }
                _ => {}
            }
        }
    }
    assert_eq!(sources, 5, "the stream and the four queues");
    for queue in ["NotifyQueue", "AuditQueue", "FeedbackQueue", "DigestQueue"] {
        let redrive = &template["Resources"][queue]["Properties"]["RedrivePolicy"];
        assert!(redrive["maxReceiveCount"].as_i64().unwrap() >= 1, "{queue} has a DLQ");
    }
}

#[test]
fn no_role_grants_a_wildcard_action_or_resource() {
    let template = template();
    let mut roles = 0;
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        roles += 1;
        for policy in resource["Properties"]["Policies"].as_sequence().unwrap() {
            for statement in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
                let actions: Vec<&str> = match &statement["Action"] {
                    Value::String(action) => vec![action.as_str()],
                    Value::Sequence(list) => list.iter().map(|a| a.as_str().unwrap()).collect(),
                    other => panic!("{name:?}: unexpected Action {other:?}"),
                };
                assert!(actions.iter().all(|a| !a.contains('*')), "{name:?} grants {actions:?}");
                assert_ne!(statement["Resource"], "*", "{name:?} names no resource");
            }
        }
    }
    assert_eq!(roles, 7, "one role per function");
}

#[test]
fn no_replay_can_reach_past_what_the_notifier_remembers() {
    let template = template();
    let retention = &template["Parameters"]["ArchiveRetentionDays"];
    let longest = retention["MaxValue"]
        .as_i64()
        .expect("ArchiveRetentionDays has a MaxValue");
    let remembered = txn_notify::pipeline::IdempotencyConfig::default()
        .completed_ttl
        .num_days();
    assert!(
        longest <= remembered,
        "the archive may keep {longest} days but sent emails are remembered {remembered} days"
    );
    assert!(retention["Default"].as_i64().unwrap() <= longest);
}

#[test]
fn every_data_store_outlives_a_delete_or_a_replacement_of_the_stack() {
    let template = template();
    let stores: Vec<(String, &Value)> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| {
            matches!(
                r["Type"].as_str(),
                Some("AWS::DynamoDB::Table" | "AWS::SecretsManager::Secret" | "AWS::S3::Bucket")
            )
        })
        .map(|(k, r)| (k.as_str().unwrap().to_string(), r))
        .collect();
    let mut names: Vec<&str> = stores.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "AuditTable",
            "FailedBatchesBucket",
            "IdempotencyTable",
            "LedgerTable",
            "SigningSecret"
        ]
    );
    for (name, resource) in stores {
        assert_eq!(resource["DeletionPolicy"], "Retain", "{name}");
        assert_eq!(resource["UpdateReplacePolicy"], "Retain", "{name}");
    }
}

#[test]
fn the_http_api_routes_are_the_ones_ingest_serves_with_the_same_parameter_names() {
    let template = template();
    let mut routes: Vec<(String, String)> = template["Resources"]["IngestFunction"]["Properties"]["Events"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|event| event["Type"] == "HttpApi")
        .map(|event| {
            (
                event["Properties"]["Method"].as_str().unwrap().to_string(),
                event["Properties"]["Path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    routes.sort();
    let mut served: Vec<(String, String)> = txn_notify::pipeline::ingest::routes::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    served.sort();
    assert_eq!(routes, served);
}

#[test]
fn the_api_samples_carry_route_keys_and_path_parameters_as_api_gateway_sends_them() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events/api");
    let routes: Vec<String> = txn_notify::pipeline::ingest::routes::ROUTES
        .iter()
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let key = event["routeKey"].as_str().unwrap();
        assert!(routes.iter().any(|r| r == key), "{}: {key}", path.display());
        assert_eq!(event["requestContext"]["routeKey"], key);
        let raw_path = event["rawPath"].as_str().unwrap();
        if key.contains('{') {
            let template_path = key.split(' ').nth(1).unwrap();
            let mut filled = template_path.to_string();
            for (name, value) in event["pathParameters"].as_object().unwrap() {
                filled = filled.replace(&format!("{{{name}}}"), value.as_str().unwrap());
            }
            assert_eq!(filled, raw_path, "{}", path.display());
        } else {
            assert!(event.get("pathParameters").is_none(), "{}", path.display());
        }
        seen.push(key.to_string());
    }
    seen.sort();
    let mut expected = routes.clone();
    expected.sort();
    assert_eq!(seen, expected, "one sample per route");
}

/// The statements' unsubscribe links point at the stack's own API: the notifier's base URL is
/// the `ApiUrl` output, and the notifier may read the secret the tokens are signed with.
#[test]
fn the_notifier_links_to_the_api_and_may_sign_and_record() {
    let template = template();
    let notifier = &template["Resources"]["NotifierFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        notifier["TXN_NOTIFY_PUBLIC_API_URL"], template["Outputs"]["ApiUrl"]["Value"],
        "the notifier's base URL is the ApiUrl output"
    );
    let ingest = &template["Resources"]["IngestFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        notifier["TXN_NOTIFY_SIGNING_SECRET_ID"],
        ingest["TXN_NOTIFY_SIGNING_SECRET_ID"]
    );
    let statements = |role: &str| -> Vec<Value> {
        template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_sequence()
            .unwrap()
            .clone()
    };
    let grants = |role: &str, action: &str| -> Vec<Value> {
        statements(role)
            .into_iter()
            .filter(|s| {
                s["Action"] == action || s["Action"].as_sequence().is_some_and(|a| a.iter().any(|x| x == action))
            })
            .map(|s| s["Resource"].clone())
            .collect()
    };
    let audit_arn: Value = serde_yaml_ng::from_str("!GetAtt AuditTable.Arn").unwrap();
    assert!(grants("NotifierRole", "dynamodb:PutItem").contains(&audit_arn));
    assert!(!grants("NotifierRole", "secretsmanager:GetSecretValue").is_empty());
    let history: Value = serde_yaml_ng::from_str("!Sub \"${AuditTable.Arn}/index/by-account\"").unwrap();
    assert_eq!(
        grants("IngestRole", "dynamodb:Query").len(),
        2,
        "the ledger, and the audit index"
    );
    assert!(grants("IngestRole", "dynamodb:Query").contains(&history));
    assert!(
        !grants("IngestRole", "dynamodb:Query").contains(&audit_arn),
        "the history reads the index only"
    );
    let notify_types = &template["Resources"]["NotifyRule"]["Properties"]["EventPattern"]["detail-type"];
    assert!(
        notify_types
            .as_sequence()
            .unwrap()
            .iter()
            .any(|t| t == "Account Updated"),
        "Account Updated reaches the notifier"
    );
}

/// SES → the default bus → FeedbackRule → FeedbackQueue → the feedback function, and the
/// rights each step needs, no more.
#[test]
fn the_feedback_loop_runs_from_ses_through_the_default_bus_to_the_feedback_function() {
    let template = template();
    let resources = &template["Resources"];
    let reference = |text: &str| -> Value { serde_yaml_ng::from_str(text).unwrap() };
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };

    let set = &resources["EmailConfigurationSet"]["Properties"];
    assert_eq!(
        strings(&set["SuppressionOptions"]["SuppressedReasons"]),
        ["BOUNCE", "COMPLAINT"]
    );
    let destination = &resources["EmailEventsToDefaultBus"];
    assert_eq!(destination["Type"], "AWS::SES::ConfigurationSetEventDestination");
    assert_eq!(
        destination["Properties"]["ConfigurationSetName"],
        reference("!Ref EmailConfigurationSet")
    );
    let event_destination = &destination["Properties"]["EventDestination"];
    assert_eq!(event_destination["Enabled"], true);
    let mut types = strings(&event_destination["MatchingEventTypes"]);
    types.sort();
    assert_eq!(
        types,
        [
            "bounce",
            "complaint",
            "delivery",
            "deliveryDelay",
            "reject",
            "renderingFailure",
            "send"
        ]
    );
    let bus_arn = format!("{:?}", event_destination["EventBridgeDestination"]["EventBusArn"]);
    assert!(
        bus_arn.contains(":event-bus/default"),
        "SES publishes to the default bus only: {bus_arn}"
    );

    let rule = &resources["FeedbackRule"]["Properties"];
    assert!(rule["EventBusName"].is_null(), "the rule is on the default bus");
    assert_eq!(strings(&rule["EventPattern"]["source"]), ["aws.ses"]);
    assert_eq!(
        rule["EventPattern"]["detail"]["mail"]["tags"]["ses:configuration-set"][0],
        reference("!Ref EmailConfigurationSet"),
        "only our configuration set's events"
    );
    assert_eq!(rule["Targets"][0]["Arn"], reference("!GetAtt FeedbackQueue.Arn"));
    assert_eq!(
        rule["Targets"][0]["DeadLetterConfig"]["Arn"],
        reference("!GetAtt RoutingDLQ.Arn")
    );
    let policy = format!("{:?}", resources["RoutingQueuesPolicy"]["Properties"]);
    assert!(policy.contains("FeedbackRule.Arn") && policy.contains("FeedbackQueue.Arn"));
    assert_eq!(
        resources["FeedbackQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"],
        reference("!GetAtt FeedbackDLQ.Arn")
    );

    // The pattern, as the embedded bus reads it: SES's events of our set reach the queue,
    // those of another set and our own bus's events do not.
    let routes = txn_notify::template::Routes::builtin();
    let ses_event = |set: &str| {
        serde_json::json!({"version": "0", "id": "1", "detail-type": "Email Bounced", "source": "aws.ses",
            "account": "123456789012", "time": "2026-11-20T18:00:00Z", "region": "eu-west-1", "resources": [],
            "detail": {"eventType": "Bounce", "mail": {"tags": {"ses:configuration-set": [set]}}}})
    };
    let ours = ses_event(txn_notify::template::CONFIGURATION_SET);
    let queues: Vec<&str> = routes.matching_on(true, &ours).map(|r| r.queue.as_str()).collect();
    assert_eq!(queues, ["FeedbackQueue"]);
    assert_eq!(routes.matching_on(true, &ses_event("marketing")).count(), 0);
    assert_eq!(routes.matching_on(false, &ours).count(), 0, "not on our bus");

    let function = &resources["FeedbackFunction"]["Properties"];
    let queue_event = &function["Events"]["FeedbackQueue"]["Properties"];
    assert_eq!(queue_event["Queue"], reference("!GetAtt FeedbackQueue.Arn"));
    assert_eq!(queue_event["FunctionResponseTypes"][0], "ReportBatchItemFailures");
    assert_eq!(
        function["Environment"]["Variables"]["TXN_NOTIFY_SES_CONFIGURATION_SET"],
        resources["NotifierFunction"]["Properties"]["Environment"]["Variables"]["TXN_NOTIFY_SES_CONFIGURATION_SET"],
        "feedback knows the set the notifier sends with"
    );

    // Least privilege: what the role may do, on which resource.
    let mut grants: Vec<(String, String)> = Vec::new();
    for statement in resources["FeedbackRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap()
    {
        let actions = match &statement["Action"] {
            Value::String(action) => vec![action.clone()],
            other => strings(other),
        };
        for action in actions {
            grants.push((action, format!("{:?}", statement["Resource"])));
        }
    }
    let granted = |action: &str, resource: &str| grants.iter().any(|(a, r)| a == action && r.contains(resource));
    for (action, resource) in [
        ("sqs:ReceiveMessage", "FeedbackQueue"),
        ("sqs:DeleteMessage", "FeedbackQueue"),
        ("dynamodb:GetItem", "LedgerTable"),
        ("dynamodb:PutItem", "LedgerTable"),
        ("dynamodb:GetItem", "AuditTable"),
        ("dynamodb:UpdateItem", "AuditTable"),
        ("dynamodb:PutItem", "IdempotencyTable"),
        ("events:PutEvents", "EventBus"),
    ] {
        assert!(
            granted(action, resource),
            "feedback may {action} on {resource}: {grants:?}"
        );
    }
    for (action, _) in &grants {
        assert!(
            ![
                "dynamodb:Scan",
                "dynamodb:Query",
                "ses:SendEmail",
                "dynamodb:BatchWriteItem"
            ]
            .contains(&action.as_str()),
            "feedback needs no {action}"
        );
    }
    assert!(grants.iter().all(|(_, r)| !r.contains("SigningSecret")), "no secret");
    let notifier = format!("{:?}", resources["NotifierRole"]["Properties"]);
    assert!(
        notifier.contains("events:PutEvents") && notifier.contains("EventBus.Arn"),
        "the notifier publishes Notification Undeliverable"
    );
}

/// SES's reputation: the alarms fire at the rates where SES reviews the account.
#[test]
fn the_reputation_alarms_fire_where_ses_reviews_the_account() {
    let template = template();
    for (alarm, metric, threshold) in [
        ("SesBounceRateAlarm", "Reputation.BounceRate", 0.05),
        ("SesComplaintRateAlarm", "Reputation.ComplaintRate", 0.001),
    ] {
        let p = &template["Resources"][alarm]["Properties"];
        assert_eq!(p["Namespace"], "AWS/SES", "{alarm}");
        assert_eq!(p["MetricName"], metric, "{alarm}");
        assert!((p["Threshold"].as_f64().unwrap() - threshold).abs() < 1e-12, "{alarm}");
        assert_eq!(p["ComparisonOperator"], "GreaterThanOrEqualToThreshold", "{alarm}");
        assert!(
            p["Dimensions"].is_null(),
            "{alarm}: the account's rate, as SES reviews it"
        );
    }
    let dlq = &template["Resources"]["FeedbackDLQDepthAlarm"]["Properties"];
    assert_eq!(
        dlq["Dimensions"][0]["Value"],
        serde_yaml_ng::from_str::<Value>("!GetAtt FeedbackDLQ.QueueName").unwrap()
    );
}

/// Every IAM action a role of the template grants, with the role's name.
fn granted_actions(template: &Value) -> Vec<(String, String, Value)> {
    let mut granted = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in resource["Properties"]["Policies"].as_sequence().unwrap() {
            for statement in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
                let actions: Vec<String> = match &statement["Action"] {
                    Value::String(action) => vec![action.clone()],
                    Value::Sequence(list) => list.iter().map(|a| a.as_str().unwrap().to_string()).collect(),
                    other => panic!("{name:?}: unexpected Action {other:?}"),
                };
                for action in actions {
                    granted.push((
                        name.as_str().unwrap().to_string(),
                        action,
                        statement["Resource"].clone(),
                    ));
                }
            }
        }
    }
    granted
}

#[test]
fn weekly_statements_run_every_hour_of_the_monday_window_from_an_index_never_a_scan() {
    let template = template();
    let resources = &template["Resources"];
    let reference = |text: &str| -> Value { serde_yaml_ng::from_str(text).unwrap() };

    // The sparse index: only items with statement_zone are in it.
    let table = &resources["LedgerTable"]["Properties"];
    let index = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|i| i["IndexName"] == "accounts-by-zone")
        .expect("the accounts-by-zone index");
    assert_eq!(index["KeySchema"][0]["AttributeName"], "statement_zone");
    assert_eq!(index["KeySchema"][0]["KeyType"], "HASH");
    assert_eq!(index["KeySchema"][1]["AttributeName"], "account_id");
    assert_eq!(index["KeySchema"][1]["KeyType"], "RANGE");
    assert_eq!(index["Projection"]["ProjectionType"], "KEYS_ONLY");
    let defined: Vec<(&str, &str)> = table["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["AttributeName"].as_str().unwrap(),
                d["AttributeType"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(defined.contains(&("statement_zone", "S")) && defined.contains(&("account_id", "S")));

    // The planner: two schedules in UTC, on the hour, flexible window off, retried, with a
    // DLQ for what Scheduler cannot deliver, and the scheduled time as the run's hour.
    let planner = &resources["DigestPlannerFunction"]["Properties"];
    let schedules: Vec<&Value> = planner["Events"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|e| e["Type"] == "ScheduleV2")
        .collect();
    assert_eq!(schedules.len(), 2);
    let mut expressions = Vec::new();
    for schedule in schedules {
        let p = &schedule["Properties"];
        expressions.push(p["ScheduleExpression"].as_str().unwrap().to_string());
        assert_eq!(p["ScheduleExpressionTimezone"], "UTC");
        assert_eq!(p["FlexibleTimeWindow"]["Mode"], "OFF");
        assert!(p["RetryPolicy"]["MaximumRetryAttempts"].as_u64().unwrap() >= 1);
        assert_eq!(p["DeadLetterConfig"]["Arn"], reference("!GetAtt DigestDLQ.Arn"));
        let input: serde_json::Value = serde_json::from_str(p["Input"].as_str().unwrap()).unwrap();
        assert_eq!(input["time"], "<aws.scheduler.scheduled-time>");
        assert_eq!(input["detail"], serde_json::json!({}));
    }
    expressions.sort();
    assert_eq!(expressions, ["cron(0 0-18 ? * MON *)", "cron(0 16-23 ? * SUN *)"]);
    let on_failure = &planner["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
    assert_eq!(on_failure["Destination"], reference("!GetAtt DigestDLQ.Arn"));
    assert_eq!(
        planner["Environment"]["Variables"]["TXN_NOTIFY_DIGEST_QUEUE_URL"],
        reference("!Ref DigestQueue")
    );

    // The workers: DigestQueue's event source, partial failures, a concurrency parameter,
    // a visibility timeout of six times the function's timeout, and a DLQ.
    let worker = &resources["DigestWorkerFunction"]["Properties"];
    let source = &worker["Events"]["DigestQueue"]["Properties"];
    assert_eq!(source["Queue"], reference("!GetAtt DigestQueue.Arn"));
    assert_eq!(source["FunctionResponseTypes"][0], "ReportBatchItemFailures");
    assert_eq!(
        source["ScalingConfig"]["MaximumConcurrency"],
        reference("!Ref DigestWorkerMaximumConcurrency")
    );
    let parameter = &template["Parameters"]["DigestWorkerMaximumConcurrency"];
    assert!(
        parameter["MinValue"].as_u64().unwrap() >= 2,
        "Lambda's floor for MaximumConcurrency"
    );
    let queue = &resources["DigestQueue"]["Properties"];
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * worker["Timeout"].as_u64().unwrap());
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"],
        reference("!GetAtt DigestQueueDLQ.Arn")
    );
    assert!(
        worker["Events"].as_mapping().unwrap().len() == 1,
        "the workers run on pages only"
    );

    // Least privilege: no role may Scan; the planner reads the index alone and publishes
    // nothing; the workers read the table and publish, and queue nothing.
    let granted = granted_actions(&template);
    assert!(
        granted.iter().all(|(_, action, _)| action != "dynamodb:Scan"),
        "a role grants Scan: {:?}",
        granted.iter().filter(|g| g.1 == "dynamodb:Scan").collect::<Vec<_>>()
    );
    let of = |role: &str| -> Vec<(String, Value)> {
        granted
            .iter()
            .filter(|(name, _, _)| name == role)
            .map(|(_, action, resource)| (action.clone(), resource.clone()))
            .collect()
    };
    let planner_grants = of("DigestPlannerRole");
    let dynamodb: Vec<_> = planner_grants
        .iter()
        .filter(|(a, _)| a.starts_with("dynamodb:"))
        .collect();
    assert_eq!(dynamodb.len(), 1, "{planner_grants:?}");
    assert_eq!(dynamodb[0].0, "dynamodb:Query");
    assert_eq!(
        dynamodb[0].1,
        reference("!Sub \"${LedgerTable.Arn}/index/accounts-by-zone\"")
    );
    assert!(planner_grants.iter().all(|(a, _)| !a.starts_with("events:")));
    let worker_grants = of("DigestWorkerRole");
    let worker_actions: Vec<&str> = worker_grants.iter().map(|(a, _)| a.as_str()).collect();
    for needed in [
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "events:PutEvents",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
    ] {
        assert!(worker_actions.contains(&needed), "{needed}: {worker_actions:?}");
    }
    assert!(!worker_actions.contains(&"sqs:SendMessage"), "{worker_actions:?}");
}
