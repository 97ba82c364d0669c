//! The embedded buses: PutEvents onto the rules of template.yaml (`routes`), each matching
//! rule's SQS queue in the store, an archive of the events its pattern selects, and replays
//! of that archive that carry `replay-name` as EventBridge's do. An entry for the bus named
//! `default` goes to the rules of the default bus (where SES publishes its email events),
//! any other to ours; only ours is archived. `queue_runner` delivers the
//! queues to the consumers as Lambda's SQS event source does.

pub(crate) mod queue_runner;

pub use queue_runner::{Batch, deliver};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::store::EmbeddedStore;
use crate::domain::time::format_rfc3339;
use crate::pattern::Projection;
use crate::ports::{BusEntry, Clock, EntryResult, EventBus, PortError};
use crate::template::Routes;

pub const LOCAL_ACCOUNT: &str = "000000000000";
pub const LOCAL_REGION: &str = "local";
/// The account's default bus, as EventBridge names it.
pub const DEFAULT_BUS: &str = "default";

pub struct EmbeddedBus<C> {
    store: Arc<EmbeddedStore<C>>,
    routes: Routes,
    /// What the rules and the archive read of an event.
    reads: Projection,
}

fn envelope_id() -> String {
    let mut rng = fastrand::Rng::new();
    let (a, b) = (rng.u64(..), rng.u64(..));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

impl<C: Clock> EmbeddedBus<C> {
    pub fn new(store: Arc<EmbeddedStore<C>>, routes: Routes) -> Self {
        let reads = routes.projection();
        EmbeddedBus { store, routes, reads }
    }

    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    pub fn store(&self) -> &EmbeddedStore<C> {
        &self.store
    }

    /// Re-delivers the archived events of [from, to) to the rules (all, or those named),
    /// each with a new id and `replay-name`. Returns how many deliveries were made.
    pub fn replay(
        &self,
        name: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        rules: &[String],
    ) -> Result<usize, PortError> {
        let mut deliveries = 0;
        for mut event in self.store.archived_events(from, to)? {
            event["id"] = json!(envelope_id());
            event["replay-name"] = json!(name);
            for rule in self.routes.matching(&event) {
                if rules.is_empty() || rules.iter().any(|r| r == &rule.name) {
                    self.store.enqueue(&rule.queue, &event.to_string())?;
                    deliveries += 1;
                }
            }
        }
        tracing::info!(replay = name, deliveries, "archive replayed");
        Ok(deliveries)
    }

    /// Archives and enqueues the event's text where its rules send it, matched on `view`:
    /// the event, or the part of it the rules read.
    fn route(&self, default_bus: bool, view: &Value, body: &str) -> Result<(), PortError> {
        if !default_bus && self.routes.archive.as_ref().is_some_and(|p| p.matches(view)) {
            self.store.archive_event(self.store.clock().now(), body)?;
        }
        for rule in self.routes.matching_on(default_bus, view) {
            self.store.enqueue(&rule.queue, body)?;
        }
        Ok(())
    }

    /// The entry's event as its text, and the part of it the rules read, with no tree of
    /// the rest; None when its detail is not one JSON object a `Value` holds (the entry is
    /// then refused, or delivered with a null detail, as `accepted_detail` says).
    fn read_entry(&self, entry: &BusEntry, id: &str, now: DateTime<Utc>) -> Option<(String, Value)> {
        if !entry.detail.trim_start().starts_with('{') {
            return None;
        }
        // Checked on its own, so that nothing after its end can reach the envelope.
        let detail = match self.reads.field("detail") {
            Some(reads) => reads.project(&entry.detail),
            None => Projection::default().project(&entry.detail),
        }
        .ok()?;
        let mut view = Map::new();
        let mut keep = |name: &str, value: &dyn Fn() -> Value| {
            if self.reads.field(name).is_some() {
                view.insert(name.to_string(), value());
            }
        };
        keep("version", &|| json!("0"));
        keep("id", &|| json!(id));
        keep("detail-type", &|| json!(entry.detail_type));
        keep("source", &|| json!(entry.source));
        keep("account", &|| json!(LOCAL_ACCOUNT));
        keep("time", &|| json!(format_rfc3339(&entry.time.unwrap_or(now))));
        keep("region", &|| json!(LOCAL_REGION));
        keep("resources", &|| json!(entry.resources));
        if self.reads.field("detail").is_some() {
            view.insert("detail".to_string(), detail);
        }
        let text = entry.envelope_text(id, LOCAL_ACCOUNT, LOCAL_REGION, now);
        Some((text, Value::Object(view)))
    }
}

impl<C: Clock> EventBus for EmbeddedBus<C> {
    async fn put_events(&self, entries: &[&BusEntry]) -> Result<Vec<EntryResult>, PortError> {
        crate::ports::check_put_events_call(entries)?;
        let now = self.store.clock().now();
        let mut results = Vec::with_capacity(entries.len());
        for entry in entries {
            if let Some(missing) = entry.missing_argument() {
                results.push(missing);
                continue;
            }
            let id = envelope_id();
            let default_bus = entry.event_bus_name == DEFAULT_BUS;
            let routed = match self.read_entry(entry, &id, now) {
                Some((body, view)) => self.route(default_bus, &view, &body),
                None => match entry.accepted_detail() {
                    Ok(detail) => {
                        let event = entry.envelope_around(detail, &id, LOCAL_ACCOUNT, LOCAL_REGION, now);
                        self.route(default_bus, &event, &event.to_string())
                    }
                    Err(refused) => {
                        results.push(refused);
                        continue;
                    }
                },
            };
            results.push(match routed {
                Ok(()) => EntryResult::Accepted { event_id: id },
                Err(error) if error.is_transient() => EntryResult::Failed {
                    error_code: "InternalFailure".into(),
                    error_message: error.message,
                },
                Err(error) => return Err(error),
            });
        }
        Ok(results)
    }
}
