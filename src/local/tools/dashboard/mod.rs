//! `txn-notify dashboard`: template.yaml's CloudWatch dashboard (its `DashboardBody`,
//! compiled in) drawn as a local HTML page from the EMF documents an embedded run wrote to
//! `metrics.emf`. Each widget keeps its title, lines, labels and statistics (Sum, Average,
//! Minimum, Maximum, SampleCount, pNN); the SEARCH over detail-types becomes one line per
//! (detail-type, function). Time buckets scale to the run: a minute of CloudWatch is too
//! coarse for a simulation that lasts seconds, so the page uses about 60 buckets over the
//! run (one second at least). Lines of `AWS/*` namespaces (Lambda errors, IteratorAge, DLQ
//! depths) exist only in CloudWatch; the page names them under their widget.

mod page;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::template::{Template, TemplateError};

/// One metric value list of one EMF document.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at_ms: i64,
    pub name: String,
    pub function: String,
    pub detail_type: Option<String>,
    pub values: Vec<f64>,
}

/// The samples of an EMF file, one document per line; lines that are not EMF are skipped
/// and counted.
pub fn read_samples(text: &str) -> (Vec<Sample>, usize) {
    let mut samples = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(document) = serde_json::from_str::<Value>(line) else {
            skipped += 1;
            continue;
        };
        let (Some(at_ms), Some(directives)) = (
            document["_aws"]["Timestamp"].as_i64(),
            document["_aws"]["CloudWatchMetrics"].as_array(),
        ) else {
            skipped += 1;
            continue;
        };
        let function = document["Function"].as_str().unwrap_or("").to_string();
        let detail_type = document["DetailType"].as_str().map(str::to_string);
        for directive in directives {
            for metric in directive["Metrics"].as_array().into_iter().flatten() {
                let Some(name) = metric["Name"].as_str() else { continue };
                let values: Vec<f64> = match &document[name] {
                    Value::Number(n) => n.as_f64().into_iter().collect(),
                    Value::Array(list) => list.iter().filter_map(Value::as_f64).collect(),
                    _ => continue,
                };
                samples.push(Sample {
                    at_ms,
                    name: name.to_string(),
                    function: function.clone(),
                    detail_type: detail_type.clone(),
                    values,
                });
            }
        }
    }
    (samples, skipped)
}

/// A statistic of CloudWatch's over the values of one bucket.
fn statistic(stat: &str, values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    match stat {
        "Sum" => Some(values.iter().sum()),
        "Average" => Some(values.iter().sum::<f64>() / values.len() as f64),
        "Maximum" => values.iter().copied().reduce(f64::max),
        "Minimum" => values.iter().copied().reduce(f64::min),
        "SampleCount" => Some(values.len() as f64),
        percentile if percentile.starts_with('p') => {
            let p: f64 = percentile[1..].parse().ok()?;
            values.sort_by(|a, b| a.total_cmp(b));
            let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
            Some(values[rank.clamp(1, values.len()) - 1])
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub label: String,
    /// (bucket start in epoch ms, value)
    pub points: Vec<(i64, f64)>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Panel {
    Text {
        markdown: String,
    },
    Chart {
        title: String,
        unit: Option<String>,
        series: Vec<Series>,
        /// Lines whose metrics only CloudWatch has.
        cloudwatch_only: Vec<String>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub start_ms: i64,
    pub end_ms: i64,
    pub bucket_ms: i64,
    pub documents: usize,
    pub panels: Vec<Panel>,
}

/// A bucket width near a 60th of the span, rounded up to a whole second.
fn bucket_width(span_ms: i64) -> i64 {
    let raw = (span_ms / 60).max(1000);
    (raw + 999) / 1000 * 1000
}

/// Draws the dashboard's widgets from the samples.
pub fn build(body: &Value, samples: &[Sample]) -> Page {
    let start_ms = samples.iter().map(|s| s.at_ms).min().unwrap_or(0);
    let end_ms = samples.iter().map(|s| s.at_ms).max().unwrap_or(0);
    let bucket_ms = bucket_width(end_ms - start_ms);
    let bucket = |at: i64| start_ms + (at - start_ms) / bucket_ms * bucket_ms;
    let series_of = |label: String, stat: &str, keep: &dyn Fn(&Sample) -> bool| {
        let mut buckets: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        for sample in samples.iter().filter(|s| keep(s)) {
            buckets.entry(bucket(sample.at_ms)).or_default().extend(&sample.values);
        }
        let points = buckets
            .into_iter()
            .filter_map(|(at, mut values)| statistic(stat, &mut values).map(|v| (at, v)))
            .collect();
        Series { label, points }
    };
    let mut panels = Vec::new();
    for widget in body["widgets"].as_array().into_iter().flatten() {
        let properties = &widget["properties"];
        if widget["type"] == "text" {
            panels.push(Panel::Text {
                markdown: properties["markdown"].as_str().unwrap_or("").to_string(),
            });
            continue;
        }
        let default_stat = properties["stat"].as_str().unwrap_or("Average");
        let mut series = Vec::new();
        let mut cloudwatch_only = Vec::new();
        for line in properties["metrics"].as_array().into_iter().flatten() {
            if let Some(expression) = line["expression"].as_str() {
                let Some(name) = search_metric_name(expression) else {
                    cloudwatch_only.push(expression.to_string());
                    continue;
                };
                let stat = expression.split('\'').nth(3).unwrap_or("Sum").to_string();
                let mut keys: Vec<(String, String)> = samples
                    .iter()
                    .filter(|s| s.name == name)
                    .filter_map(|s| Some((s.detail_type.clone()?, s.function.clone())))
                    .collect();
                keys.sort();
                keys.dedup();
                for (detail_type, function) in keys {
                    series.push(series_of(format!("{detail_type} ({function})"), &stat, &|s| {
                        s.name == name
                            && s.function == function
                            && s.detail_type.as_deref() == Some(detail_type.as_str())
                    }));
                }
                continue;
            }
            let Some(parts) = line.as_array() else { continue };
            let text = |i: usize| parts.get(i).and_then(Value::as_str).unwrap_or("");
            let options = parts.last().filter(|v| v.is_object());
            let stat = options
                .and_then(|o| o["stat"].as_str())
                .unwrap_or(default_stat)
                .to_string();
            let label = options
                .and_then(|o| o["label"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| format!("{} {}", text(3), text(1)));
            if text(0) != crate::telemetry::emf::NAMESPACE {
                cloudwatch_only.push(format!("{label} ({} {})", text(0), text(1)));
                continue;
            }
            let (name, function) = (text(1).to_string(), text(3).to_string());
            series.push(series_of(label, &stat, &|s| {
                s.name == name && s.function == function && s.detail_type.is_none()
            }));
        }
        panels.push(Panel::Chart {
            title: properties["title"].as_str().unwrap_or("").to_string(),
            unit: properties["yAxis"]["left"]["label"].as_str().map(str::to_string),
            series,
            cloudwatch_only,
        });
    }
    Page {
        start_ms,
        end_ms,
        bucket_ms,
        documents: 0,
        panels,
    }
}

/// `MetricName="X"` of a SEARCH expression over our namespace.
fn search_metric_name(expression: &str) -> Option<String> {
    if !expression.contains(crate::telemetry::emf::NAMESPACE) {
        return None;
    }
    let rest = expression.split("MetricName=\"").nth(1)?;
    Some(rest.split('"').next()?.to_string())
}

/// Why the dashboard page could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("cannot read {}: {source} (run `txn-notify simulate --data-dir {}` or `dev` there first)", .path.display(), .path.parent().unwrap_or(std::path::Path::new(".")).display())]
    NoMetrics {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("the page does not render: {0}")]
    Render(#[from] minijinja::Error),
    #[error(transparent)]
    Shards(#[from] crate::local::embedded::shards::ShardsError),
}

/// The page for the `metrics.emf` of a data folder (of each of its shards, together).
pub fn render_folder(dir: &Path) -> Result<String, DashboardError> {
    let mut text = String::new();
    for folder in crate::local::embedded::shards::store_folders(dir)? {
        let path = folder.join("metrics.emf");
        text += &std::fs::read_to_string(&path).map_err(|source| DashboardError::NoMetrics {
            path: path.clone(),
            source,
        })?;
    }
    let (samples, _) = read_samples(&text);
    let mut page = build(&Template::builtin().dashboard_body()?, &samples);
    page.documents = text.lines().filter(|l| !l.trim().is_empty()).count();
    Ok(page::html(&page, &dir.display().to_string())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(at_ms: i64, function: &str, name: &str, value: Value) -> String {
        json!({
            "Function": function, name: value,
            "_aws": {"Timestamp": at_ms, "CloudWatchMetrics": [{"Namespace": "TxnNotify",
                "Dimensions": [["Function"]], "Metrics": [{"Name": name, "Unit": "Count"}]}]}
        })
        .to_string()
    }

    #[test]
    fn the_template_dashboard_parses_and_names_its_widgets() {
        let body = Template::builtin().dashboard_body().unwrap();
        let widgets = body["widgets"].as_array().unwrap();
        assert!(widgets.len() >= 10);
        assert!(
            body.to_string().contains("\"ProcessorFunction\""),
            "${{...}} resolved to names"
        );
    }

    #[test]
    fn lines_take_their_statistic_per_bucket() {
        let text = [
            document(0, "processor", "RecordsReceived", json!(3)),
            document(500, "processor", "RecordsReceived", json!(4)),
            document(59_000, "processor", "RecordsReceived", json!(10)),
            document(500, "notifier", "RecordsReceived", json!(100)),
            "not json".to_string(),
        ]
        .join("\n");
        let (samples, skipped) = read_samples(&text);
        assert_eq!(skipped, 1);
        let body = json!({"widgets": [{"type": "metric", "properties": {"title": "t", "stat": "Sum", "metrics": [
            ["TxnNotify", "RecordsReceived", "Function", "processor", {"label": "sum"}],
            ["TxnNotify", "RecordsReceived", "Function", "processor", {"stat": "Maximum", "label": "max"}],
            ["AWS/Lambda", "Errors", "FunctionName", "ProcessorFunction", {"label": "errors"}]
        ]}}]});
        let page = build(&body, &samples);
        assert_eq!(page.bucket_ms, 1000);
        let Panel::Chart {
            series,
            cloudwatch_only,
            ..
        } = &page.panels[0]
        else {
            panic!()
        };
        assert_eq!(series[0].points, [(0, 7.0), (59_000, 10.0)]);
        assert_eq!(series[1].points, [(0, 4.0), (59_000, 10.0)]);
        assert_eq!(cloudwatch_only, &["errors (AWS/Lambda Errors)"]);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(statistic("p50", &mut values), Some(50.0));
        assert_eq!(statistic("p99", &mut values), Some(99.0));
        assert_eq!(statistic("SampleCount", &mut values), Some(100.0));
        assert_eq!(statistic("Sum", &mut []), None);
    }
}
