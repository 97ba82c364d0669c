//! The routing of template.yaml, read from the template itself (compiled in), so the
//! embedded bus routes with exactly the event patterns production uses: each
//! `AWS::Events::Rule` with its pattern and its SQS target, each queue's visibility timeout
//! and redrive policy, and the archive's pattern.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_yaml_ng::Value as Yaml;

use crate::pattern::Pattern;

pub const TEMPLATE: &str = include_str!("../../../template.yaml");

#[derive(Debug, Clone)]
pub struct RuleRoute {
    /// The rule's logical id in template.yaml (NotifyRule, AuditRule).
    pub name: String,
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

#[derive(Debug, Clone)]
pub struct Routes {
    pub rules: Vec<RuleRoute>,
    pub queues: BTreeMap<String, QueueSettings>,
    /// Events the archive keeps.
    pub archive: Option<Pattern>,
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

fn pattern_of(name: &str, value: &Yaml) -> Result<Pattern, String> {
    let json = serde_json::to_value(value).map_err(|e| format!("{name}: EventPattern: {e}"))?;
    Pattern::parse(&json).map_err(|e| format!("{name}: {e}"))
}

impl Routes {
    /// The routes of the template compiled into this binary.
    pub fn builtin() -> Routes {
        Routes::from_template(TEMPLATE).expect("template.yaml's routes are checked by the tests")
    }

    pub fn from_template(text: &str) -> Result<Routes, String> {
        let template: Yaml = serde_yaml_ng::from_str(text).map_err(|e| format!("template.yaml: {e}"))?;
        let resources = template["Resources"]
            .as_mapping()
            .ok_or("template.yaml has no Resources")?;
        let mut routes = Routes {
            rules: Vec::new(),
            queues: BTreeMap::new(),
            archive: None,
        };
        for (name, resource) in resources {
            let name = name.as_str().unwrap_or_default().to_string();
            let properties = &resource["Properties"];
            match resource["Type"].as_str() {
                Some("AWS::Events::Rule") => {
                    let pattern = pattern_of(&name, &properties["EventPattern"])?;
                    for target in properties["Targets"].as_sequence().into_iter().flatten() {
                        let queue = target_of(&target["Arn"]).ok_or_else(|| format!("{name}: a target without Arn"))?;
                        routes.rules.push(RuleRoute {
                            name: name.clone(),
                            pattern: pattern.clone(),
                            queue,
                        });
                    }
                }
                Some("AWS::Events::Archive") => {
                    routes.archive = Some(pattern_of(&name, &properties["EventPattern"])?);
                }
                Some("AWS::SQS::Queue") => {
                    let redrive = &properties["RedrivePolicy"];
                    routes.queues.insert(
                        name,
                        QueueSettings {
                            visibility_timeout: Duration::from_secs(
                                properties["VisibilityTimeout"].as_u64().unwrap_or(30),
                            ),
                            max_receive_count: redrive["maxReceiveCount"].as_u64().map(|n| n as u32),
                            dead_letter_queue: target_of(&redrive["deadLetterTargetArn"]),
                        },
                    );
                }
                _ => {}
            }
        }
        for rule in &routes.rules {
            if !routes.queues.contains_key(&rule.queue) {
                return Err(format!(
                    "{} targets {}, which is not a queue of the template",
                    rule.name, rule.queue
                ));
            }
        }
        Ok(routes)
    }

    /// The rules (by logical id) whose pattern matches the event.
    pub fn matching<'a>(&'a self, event: &serde_json::Value) -> impl Iterator<Item = &'a RuleRoute> {
        self.rules.iter().filter(move |rule| rule.pattern.matches(event))
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
}
