//! CloudWatch Embedded Metric Format: the metrics of one invocation as EMF documents, one
//! JSON object per line on stdout, which CloudWatch Logs turns into metrics of namespace
//! `TxnNotify` with the dimension `Function` (and `Function, DetailType` for events by
//! detail-type, `Function, EventType` for SES feedback by its event type).
//!
//! Written here rather than through `metrics_cloudwatch_embedded`: that exporter keeps at
//! most 100 histogram values between flushes (a 1,000-record batch has 1,000 latencies),
//! has no StorageResolution, and needs a global recorder, where a per-invocation document
//! is what Lambda wants.
//!
//! | rule of the EMF specification | here |
//! |---|---|
//! | at most 100 metrics per document | a handful per function |
//! | at most 100 values per metric in a document | longer value lists continue in further documents |
//! | at most 30 dimensions (9 per dimension set on CloudWatch) | one or two |
//! | Timestamp in epoch milliseconds | the invocation's end |
//! | latencies at 1-second resolution | `StorageResolution: 1` on millisecond metrics |

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "TxnNotify";
pub const MAX_VALUES_PER_METRIC: usize = 100;

/// The metrics of one invocation of one function.
#[derive(Debug, Clone)]
pub struct Invocation {
    function: &'static str,
    timestamp_ms: i64,
    counts: BTreeMap<&'static str, u64>,
    milliseconds: BTreeMap<&'static str, Vec<i64>>,
    /// (metric, dimension, its value) → count.
    by_dimension: BTreeMap<(&'static str, &'static str, String), u64>,
    properties: Map<String, Value>,
}

impl Invocation {
    pub fn new(function: &'static str, at: DateTime<Utc>) -> Self {
        Invocation {
            function,
            timestamp_ms: at.timestamp_millis(),
            counts: BTreeMap::new(),
            milliseconds: BTreeMap::new(),
            by_dimension: BTreeMap::new(),
            properties: Map::new(),
        }
    }

    pub fn count(&mut self, name: &'static str, value: u64) -> &mut Self {
        *self.counts.entry(name).or_default() += value;
        self
    }

    /// Durations in milliseconds, each kept (CloudWatch computes p50 and p99 from them).
    pub fn milliseconds(&mut self, name: &'static str, values: impl IntoIterator<Item = i64>) -> &mut Self {
        self.milliseconds
            .entry(name)
            .or_default()
            .extend(values.into_iter().map(|v| v.max(0)));
        self
    }

    pub fn count_by_detail_type(&mut self, name: &'static str, detail_type: &str, value: u64) -> &mut Self {
        self.count_by(name, "DetailType", detail_type, value)
    }

    /// A count under a second dimension besides `Function`.
    pub fn count_by(&mut self, name: &'static str, dimension: &'static str, value_of: &str, value: u64) -> &mut Self {
        *self
            .by_dimension
            .entry((name, dimension, value_of.to_string()))
            .or_default() += value;
        self
    }

    /// A field that is searchable in Logs Insights but is not a metric (the request id).
    pub fn property(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        self.properties.insert(name.to_string(), value.into());
        self
    }

    fn document(&self, dimensions: &[&str], metrics: Vec<Value>, values: Map<String, Value>) -> Value {
        let mut document = self.properties.clone();
        document.insert("Function".into(), json!(self.function));
        document.extend(values);
        document.insert(
            "_aws".into(),
            json!({
                "Timestamp": self.timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [dimensions],
                    "Metrics": metrics,
                }],
            }),
        );
        Value::Object(document)
    }

    /// The EMF documents, in order; none when nothing was recorded.
    pub fn documents(&self) -> Vec<Value> {
        let mut documents = Vec::new();
        let chunks = self
            .milliseconds
            .values()
            .map(|v| v.len().div_ceil(MAX_VALUES_PER_METRIC))
            .max()
            .unwrap_or(0)
            .max(usize::from(!self.counts.is_empty()));
        for chunk in 0..chunks {
            let mut metrics = Vec::new();
            let mut values = Map::new();
            if chunk == 0 {
                for (name, value) in &self.counts {
                    metrics.push(json!({ "Name": name, "Unit": "Count" }));
                    values.insert(name.to_string(), json!(value));
                }
            }
            for (name, all) in &self.milliseconds {
                let part: Vec<i64> = all
                    .iter()
                    .skip(chunk * MAX_VALUES_PER_METRIC)
                    .take(MAX_VALUES_PER_METRIC)
                    .copied()
                    .collect();
                if part.is_empty() {
                    continue;
                }
                metrics.push(json!({ "Name": name, "Unit": "Milliseconds", "StorageResolution": 1 }));
                values.insert(name.to_string(), json!(part));
            }
            documents.push(self.document(&["Function"], metrics, values));
        }
        for ((name, dimension, value_of), value) in &self.by_dimension {
            let mut values = Map::new();
            values.insert(dimension.to_string(), json!(value_of));
            values.insert(name.to_string(), json!(value));
            documents.push(self.document(
                &["Function", dimension],
                vec![json!({ "Name": name, "Unit": "Count" })],
                values,
            ));
        }
        documents
    }

    /// Writes the documents to stdout, one per line.
    pub fn flush(&self) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for document in self.documents() {
            let _ = writeln!(out, "{document}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 18, 0, 0).unwrap()
    }

    #[test]
    fn counts_and_latencies_share_one_document_with_the_function_dimension() {
        let mut invocation = Invocation::new("processor", at());
        invocation
            .count("RecordsReceived", 3)
            .count("RecordsReceived", 2)
            .milliseconds("EndToEndLatency", [12, -4])
            .property("requestId", "r-1");
        let documents = invocation.documents();
        assert_eq!(documents.len(), 1);
        let document = &documents[0];
        assert_eq!(document["RecordsReceived"], 5);
        assert_eq!(
            document["EndToEndLatency"],
            json!([12, 0]),
            "negative durations (clock skew) are 0"
        );
        assert_eq!(document["Function"], "processor");
        assert_eq!(document["requestId"], "r-1");
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(document["_aws"]["Timestamp"], at().timestamp_millis());
        assert_eq!(directive["Namespace"], "TxnNotify");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert!(
            directive["Metrics"]
                .as_array()
                .unwrap()
                .contains(&json!({"Name": "EndToEndLatency", "Unit": "Milliseconds", "StorageResolution": 1}))
        );
    }

    #[test]
    fn long_value_lists_continue_in_further_documents() {
        let mut invocation = Invocation::new("processor", at());
        invocation.count("BatchSize", 250).milliseconds("StreamLag", 0..250);
        let documents = invocation.documents();
        assert_eq!(documents.len(), 3);
        let lengths: Vec<usize> = documents
            .iter()
            .map(|d| d["StreamLag"].as_array().unwrap().len())
            .collect();
        assert_eq!(lengths, [100, 100, 50]);
        assert_eq!(documents[0]["BatchSize"], 250);
        assert!(documents[1].get("BatchSize").is_none(), "a count is reported once");
    }

    #[test]
    fn events_by_detail_type_get_their_own_dimension_set() {
        let mut invocation = Invocation::new("processor", at());
        invocation
            .count_by_detail_type("EventsPublished", "Large Transaction", 2)
            .count_by_detail_type("EventsPublished", "Transaction Recorded", 5);
        let documents = invocation.documents();
        assert_eq!(documents.len(), 2);
        assert_eq!(documents[0]["DetailType"], "Large Transaction");
        assert_eq!(documents[0]["EventsPublished"], 2);
        assert_eq!(
            documents[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "DetailType"]])
        );
    }

    #[test]
    fn nothing_recorded_writes_nothing() {
        assert!(Invocation::new("auditor", at()).documents().is_empty());
    }
}
