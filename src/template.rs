//! template.yaml, read in one place. Everything the embedded runtime and the cost model take
//! from the deployment comes from here, parsed out of the template compiled into the binary,
//! so that no setting is written twice: the bus's rules, patterns and queue targets; each
//! queue's visibility timeout and redrive policy; the archive's pattern; the stream event
//! source of the processor; the SQS event sources of the consumers; the functions' memory
//! sizes; the dashboard and the alarms.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use serde_yaml_ng::Value as Yaml;

use crate::pattern::{Pattern, Projection};

pub const TEMPLATE_YAML: &str = include_str!("../template.yaml");

/// The logical ids of the functions in template.yaml.
pub mod functions {
    pub const INGEST: &str = "IngestFunction";
    pub const PROCESSOR: &str = "ProcessorFunction";
    pub const NOTIFIER: &str = "NotifierFunction";
    pub const AUDITOR: &str = "AuditorFunction";
    pub const DIGEST_PLANNER: &str = "DigestPlannerFunction";
    pub const DIGEST_WORKER: &str = "DigestWorkerFunction";
    pub const FEEDBACK: &str = "FeedbackFunction";
}

/// The logical id of the queue the digest planner fills and the workers read.
pub const DIGEST_QUEUE: &str = "DigestQueue";

/// The logical id of the SES configuration set, which the embedded runtime uses as its name
/// (as it resolves `!Ref` in the rules' patterns).
pub const CONFIGURATION_SET: &str = "EmailConfigurationSet";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template.yaml is not YAML: {0}")]
    NotYaml(String),
    #[error("template.yaml: {resource}: {problem}")]
    Resource { resource: String, problem: String },
    #[error("template.yaml has no {0}")]
    Missing(String),
}

fn problem(resource: &str, problem: impl Into<String>) -> TemplateError {
    TemplateError::Resource {
        resource: resource.to_string(),
        problem: problem.into(),
    }
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    yaml: Yaml,
}

/// One rule of the bus and the queue it targets.
#[derive(Debug, Clone)]
pub struct RuleRoute {
    /// The rule's logical id (NotifyRule, AuditRule).
    pub name: String,
    /// On the account's default bus (no EventBusName: where SES publishes), else on ours.
    pub on_default_bus: bool,
    pub pattern: Pattern,
    /// The logical id of the queue it targets.
    pub queue: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    pub visibility_timeout: Duration,
    /// After this many receives a message moves to the dead-letter queue.
    pub max_receive_count: Option<u32>,
    pub dead_letter_queue: Option<String>,
}

/// The bus's routing: its rules, the queues they fill, the archive's pattern.
#[derive(Debug, Clone)]
pub struct Routes {
    pub rules: Vec<RuleRoute>,
    pub queues: BTreeMap<String, QueueSettings>,
    /// Events the archive keeps.
    pub archive: Option<Pattern>,
}

/// The DynamoDB stream event source of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSource {
    pub batch_size: usize,
    pub batching_window: Duration,
    pub max_retry_attempts: u32,
    pub max_record_age: Duration,
    pub bisect_on_error: bool,
}

/// An SQS event source: which function reads which queue, how many messages at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSource {
    /// The function's logical id (NotifierFunction).
    pub function: String,
    /// The queue's logical id (NotifyQueue).
    pub queue: String,
    pub batch_size: usize,
    pub batching_window: Duration,
}

/// A ScheduleV2 event of a function: EventBridge Scheduler's expression and its zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSource {
    /// The event's name in the template (SundayEvening).
    pub name: String,
    /// `cron(...)`, `rate(...)` or `at(...)`, as written.
    pub expression: String,
    /// ScheduleExpressionTimezone; Scheduler's default is UTC.
    pub time_zone: String,
    /// FlexibleTimeWindow Mode (Scheduler's default in SAM: OFF).
    pub flexible: bool,
    pub input: Option<String>,
}

/// The logical id behind `!GetAtt Name.Arn` (or a plain string).
fn target_of(value: &Yaml) -> Option<String> {
    match value {
        Yaml::Tagged(tagged) => tagged
            .value
            .as_str()
            .map(|text| text.trim_end_matches(".Arn").to_string())
            .or_else(|| tagged.value.as_sequence()?.first()?.as_str().map(str::to_string)),
        Yaml::String(text) => Some(text.trim_end_matches(".Arn").to_string()),
        _ => None,
    }
}

/// The value with each `!Ref Name` replaced by `Name`, a stand-in for what CloudFormation
/// puts there (the embedded runtime names its resources by their logical ids).
fn resolve_refs(value: &Yaml) -> Yaml {
    match value {
        Yaml::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.clone(),
        Yaml::Sequence(items) => Yaml::Sequence(items.iter().map(resolve_refs).collect()),
        Yaml::Mapping(mapping) => Yaml::Mapping(
            mapping
                .iter()
                .map(|(key, value)| (key.clone(), resolve_refs(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn pattern_of(name: &str, value: &Yaml) -> Result<Pattern, TemplateError> {
    let json = serde_json::to_value(resolve_refs(value)).map_err(|e| problem(name, format!("EventPattern: {e}")))?;
    Pattern::parse(&json).map_err(|e| problem(name, e.to_string()))
}

impl Template {
    /// The template compiled into this binary.
    pub fn builtin() -> &'static Template {
        static BUILTIN: OnceLock<Template> = OnceLock::new();
        BUILTIN.get_or_init(|| Template::parse(TEMPLATE_YAML).expect("template.yaml is checked by the tests"))
    }

    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let yaml: Yaml = serde_yaml_ng::from_str(text).map_err(|e| TemplateError::NotYaml(e.to_string()))?;
        if !yaml["Resources"].is_mapping() {
            return Err(TemplateError::Missing("Resources".into()));
        }
        Ok(Template { yaml })
    }

    /// (logical id, resource) of every resource of a type.
    fn resources_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Yaml)> + 'a {
        self.yaml["Resources"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter(move |(_, resource)| resource["Type"].as_str() == Some(kind))
            .map(|(name, resource)| (name.as_str().unwrap_or_default(), resource))
    }

    fn resource(&self, name: &str) -> Result<&Yaml, TemplateError> {
        let resource = &self.yaml["Resources"][name];
        if resource.is_null() {
            return Err(TemplateError::Missing(format!("resource {name}")));
        }
        Ok(resource)
    }

    pub fn routes(&self) -> Result<Routes, TemplateError> {
        let mut routes = Routes {
            rules: Vec::new(),
            queues: BTreeMap::new(),
            archive: None,
        };
        for (name, resource) in self.resources_of("AWS::Events::Rule") {
            let properties = &resource["Properties"];
            let pattern = pattern_of(name, &properties["EventPattern"])?;
            let bus = &properties["EventBusName"];
            let on_default_bus = bus.is_null() || bus.as_str() == Some("default");
            for target in properties["Targets"].as_sequence().into_iter().flatten() {
                let queue = target_of(&target["Arn"]).ok_or_else(|| problem(name, "a target without Arn"))?;
                routes.rules.push(RuleRoute {
                    name: name.to_string(),
                    on_default_bus,
                    pattern: pattern.clone(),
                    queue,
                });
            }
        }
        if let Some((name, archive)) = self.resources_of("AWS::Events::Archive").next() {
            routes.archive = Some(pattern_of(name, &archive["Properties"]["EventPattern"])?);
        }
        for (name, queue) in self.resources_of("AWS::SQS::Queue") {
            let properties = &queue["Properties"];
            let redrive = &properties["RedrivePolicy"];
            routes.queues.insert(
                name.to_string(),
                QueueSettings {
                    // SQS's default when the template sets none.
                    visibility_timeout: Duration::from_secs(properties["VisibilityTimeout"].as_u64().unwrap_or(30)),
                    max_receive_count: redrive["maxReceiveCount"].as_u64().map(|n| n as u32),
                    dead_letter_queue: target_of(&redrive["deadLetterTargetArn"]),
                },
            );
        }
        for rule in &routes.rules {
            if !routes.queues.contains_key(&rule.queue) {
                return Err(problem(
                    &rule.name,
                    format!("targets {}, which is not a queue of the template", rule.queue),
                ));
            }
        }
        Ok(routes)
    }

    /// The event sources of one type (DynamoDB, SQS) of every function: (function, source
    /// properties).
    fn event_sources<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Yaml)> + 'a {
        self.resources_of("AWS::Serverless::Function")
            .flat_map(move |(function, resource)| {
                resource["Properties"]["Events"]
                    .as_mapping()
                    .into_iter()
                    .flatten()
                    .filter(move |(_, event)| event["Type"].as_str() == Some(kind))
                    .map(move |(_, event)| (function, &event["Properties"]))
            })
    }

    /// The DynamoDB stream event source of `function`.
    pub fn stream_source(&self, function: &str) -> Result<StreamSource, TemplateError> {
        let (_, properties) = self
            .event_sources("DynamoDB")
            .find(|(name, _)| *name == function)
            .ok_or_else(|| TemplateError::Missing(format!("DynamoDB event source on {function}")))?;
        let number = |field: &str| {
            properties[field]
                .as_u64()
                .ok_or_else(|| problem(function, format!("the stream event source has no {field}")))
        };
        Ok(StreamSource {
            batch_size: number("BatchSize")? as usize,
            batching_window: Duration::from_secs(number("MaximumBatchingWindowInSeconds")?),
            max_retry_attempts: number("MaximumRetryAttempts")? as u32,
            max_record_age: Duration::from_secs(number("MaximumRecordAgeInSeconds")?),
            bisect_on_error: properties["BisectBatchOnFunctionError"].as_bool().unwrap_or(false),
        })
    }

    /// Every SQS event source, in the order of the template's functions.
    pub fn queue_sources(&self) -> Result<Vec<QueueSource>, TemplateError> {
        self.event_sources("SQS")
            .map(|(function, properties)| {
                Ok(QueueSource {
                    function: function.to_string(),
                    queue: target_of(&properties["Queue"])
                        .ok_or_else(|| problem(function, "an SQS event source without Queue"))?,
                    // Lambda's defaults when the template sets none.
                    batch_size: properties["BatchSize"].as_u64().unwrap_or(10) as usize,
                    batching_window: Duration::from_secs(
                        properties["MaximumBatchingWindowInSeconds"].as_u64().unwrap_or(0),
                    ),
                })
            })
            .collect()
    }

    /// The ScheduleV2 events of `function`, in the template's order.
    pub fn schedules(&self, function: &str) -> Result<Vec<ScheduleSource>, TemplateError> {
        let events = self.resource(function)?["Properties"]["Events"]
            .as_mapping()
            .cloned()
            .unwrap_or_default();
        let mut schedules = Vec::new();
        for (name, event) in &events {
            if event["Type"].as_str() != Some("ScheduleV2") {
                continue;
            }
            let name = name.as_str().unwrap_or_default().to_string();
            let properties = &event["Properties"];
            schedules.push(ScheduleSource {
                expression: properties["ScheduleExpression"]
                    .as_str()
                    .ok_or_else(|| problem(function, format!("the schedule {name} has no ScheduleExpression")))?
                    .to_string(),
                time_zone: properties["ScheduleExpressionTimezone"]
                    .as_str()
                    .unwrap_or("UTC")
                    .to_string(),
                flexible: properties["FlexibleTimeWindow"]["Mode"]
                    .as_str()
                    .is_some_and(|mode| mode != "OFF"),
                input: properties["Input"].as_str().map(str::to_string),
                name,
            });
        }
        Ok(schedules)
    }

    /// The memory size of a function, MB: its own, else the Globals'.
    pub fn memory_mb(&self, function: &str) -> Result<u64, TemplateError> {
        let resource = self.resource(function)?;
        resource["Properties"]["MemorySize"]
            .as_u64()
            .or_else(|| self.yaml["Globals"]["Function"]["MemorySize"].as_u64())
            .ok_or_else(|| problem(function, "no MemorySize, and none in Globals"))
    }

    /// The dashboard body, each `${Name}` (or `${Name.Attribute}`) replaced by `Name` as a
    /// stand-in for what CloudFormation puts there.
    pub fn dashboard_body(&self) -> Result<serde_json::Value, TemplateError> {
        let (name, dashboard) = self
            .resources_of("AWS::CloudWatch::Dashboard")
            .next()
            .ok_or_else(|| TemplateError::Missing("dashboard".into()))?;
        let body = match &dashboard["Properties"]["DashboardBody"] {
            Yaml::Tagged(tagged) => tagged.value.as_str(),
            other => other.as_str(),
        }
        .ok_or_else(|| problem(name, "no DashboardBody"))?;
        let mut resolved = String::with_capacity(body.len());
        let mut rest = body;
        while let Some(start) = rest.find("${") {
            resolved.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .map(|i| i + start)
                .ok_or_else(|| problem(name, "an unclosed ${ in the dashboard body"))?;
            let reference = &rest[start + 2..end];
            resolved.push_str(reference.split('.').next().unwrap_or(reference));
            rest = &rest[end + 1..];
        }
        resolved.push_str(rest);
        serde_json::from_str(&resolved).map_err(|e| problem(name, format!("the dashboard body is not JSON: {e}")))
    }

    pub fn alarm_count(&self) -> usize {
        self.resources_of("AWS::CloudWatch::Alarm").count()
    }
}

impl Routes {
    /// The routes of the template compiled into this binary.
    pub fn builtin() -> Routes {
        Template::builtin()
            .routes()
            .expect("template.yaml's routes are checked by the tests")
    }

    /// What the rules and the archive read of an event: routing its projection gives what
    /// routing the whole event gives.
    pub fn projection(&self) -> Projection {
        Projection::of(self.rules.iter().map(|rule| &rule.pattern).chain(self.archive.as_ref()))
    }

    /// Every dead-letter queue of the template: the redrive targets of its queues.
    pub fn dead_letter_queues(&self) -> std::collections::BTreeSet<&str> {
        self.queues
            .values()
            .filter_map(|settings| settings.dead_letter_queue.as_deref())
            .collect()
    }

    /// The rules (by logical id) of our bus whose pattern matches the event.
    pub fn matching<'a>(&'a self, event: &'a serde_json::Value) -> impl Iterator<Item = &'a RuleRoute> {
        self.matching_on(false, event)
    }

    /// The rules of the default bus (`true`) or of ours whose pattern matches the event.
    pub fn matching_on<'a>(
        &'a self,
        default_bus: bool,
        event: &'a serde_json::Value,
    ) -> impl Iterator<Item = &'a RuleRoute> {
        self.rules
            .iter()
            .filter(move |rule| rule.on_default_bus == default_bus && rule.pattern.matches(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail_type: &str) -> serde_json::Value {
        json!({"version": "0", "id": "1", "detail-type": detail_type, "source": "txn-notify",
               "account": "000000000000", "time": "2026-11-20T18:00:00Z", "region": "local",
               "resources": [], "detail": {}})
    }

    #[test]
    fn the_template_routes_emails_and_the_audit_trail() {
        let routes = Routes::builtin();
        let names = |detail_type: &str| -> Vec<String> {
            routes.matching(&event(detail_type)).map(|r| r.queue.clone()).collect()
        };
        assert_eq!(names("Transaction Recorded"), ["NotifyQueue", "AuditQueue"]);
        assert_eq!(names("Large Transaction"), ["AuditQueue"]);
        assert_eq!(names("Weekly Statement"), ["NotifyQueue", "AuditQueue"]);
        let notify = &routes.queues["NotifyQueue"];
        assert_eq!(notify.max_receive_count, Some(5));
        assert_eq!(notify.dead_letter_queue.as_deref(), Some("NotifyDLQ"));
        assert_eq!(notify.visibility_timeout, Duration::from_secs(180));
        assert!(routes.archive.as_ref().unwrap().matches(&event("Record Rejected")));
    }

    /// The template with `from` replaced by `to` exactly once.
    fn changed(text: &str, from: &str, to: &str) -> String {
        assert_eq!(text.matches(from).count(), 1, "{from:?} is in template.yaml once");
        text.replacen(from, to, 1)
    }

    #[test]
    fn every_setting_read_from_the_template_follows_its_text() {
        let builtin = Template::builtin();
        let stream = builtin.stream_source(functions::PROCESSOR).unwrap();
        assert_eq!(
            stream,
            StreamSource {
                batch_size: 100,
                batching_window: Duration::from_secs(1),
                max_retry_attempts: 10,
                max_record_age: Duration::from_secs(3600),
                bisect_on_error: true,
            }
        );
        let sources = builtin.queue_sources().unwrap();
        let batch = |function: &str| {
            sources
                .iter()
                .find(|s| s.function == function)
                .map(|s| (s.queue.clone(), s.batch_size))
        };
        assert_eq!(batch(functions::NOTIFIER), Some(("NotifyQueue".into(), 10)));
        assert_eq!(batch(functions::AUDITOR), Some(("AuditQueue".into(), 100)));
        assert_eq!(builtin.memory_mb(functions::NOTIFIER).unwrap(), 256, "from Globals");
        assert_eq!(builtin.memory_mb(functions::DIGEST_WORKER).unwrap(), 512, "its own");

        // A different template, different settings: nothing is a copy of the text.
        let text = changed(
            TEMPLATE_YAML,
            "BatchSize: 100\n            MaximumBatchingWindowInSeconds: 1\n            FunctionResponseTypes: [ReportBatchItemFailures]\n            BisectBatchOnFunctionError: true\n            MaximumRetryAttempts: 10",
            "BatchSize: 7\n            MaximumBatchingWindowInSeconds: 3\n            FunctionResponseTypes: [ReportBatchItemFailures]\n            BisectBatchOnFunctionError: true\n            MaximumRetryAttempts: 4",
        );
        let text = changed(
            &text,
            "Queue: !GetAtt NotifyQueue.Arn\n            BatchSize: 10",
            "Queue: !GetAtt NotifyQueue.Arn\n            BatchSize: 5",
        );
        let text = changed(&text, "    MemorySize: 256\n", "    MemorySize: 1024\n");
        let text = changed(
            &text,
            "NotifyQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 180",
            "NotifyQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 45",
        );
        let other = Template::parse(&text).unwrap();
        let stream = other.stream_source(functions::PROCESSOR).unwrap();
        assert_eq!(
            (
                stream.batch_size,
                stream.batching_window.as_secs(),
                stream.max_retry_attempts
            ),
            (7, 3, 4)
        );
        let sources = other.queue_sources().unwrap();
        assert_eq!(
            sources
                .iter()
                .find(|s| s.function == functions::NOTIFIER)
                .unwrap()
                .batch_size,
            5
        );
        assert_eq!(other.memory_mb(functions::PROCESSOR).unwrap(), 1024);
        assert_eq!(other.memory_mb(functions::DIGEST_WORKER).unwrap(), 512);
        assert_eq!(
            other.routes().unwrap().queues["NotifyQueue"].visibility_timeout,
            Duration::from_secs(45)
        );
    }

    #[test]
    fn a_template_without_what_is_asked_says_what_is_missing() {
        assert!(matches!(Template::parse("a: ["), Err(TemplateError::NotYaml(_))));
        assert_eq!(
            Template::parse("Resources: {}")
                .unwrap()
                .stream_source(functions::PROCESSOR),
            Err(TemplateError::Missing(
                "DynamoDB event source on ProcessorFunction".into()
            ))
        );
        let dangling = "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: {source: [x]}\n      Targets: [{Id: q, Arn: !GetAtt Gone.Arn}]\n";
        let error = Template::parse(dangling).unwrap().routes().unwrap_err();
        assert!(error.to_string().contains("Gone, which is not a queue"), "{error}");
    }
}
