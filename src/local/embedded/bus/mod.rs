//! The embedded buses: PutEvents onto the rules of template.yaml (`routes`), each matching
//! rule's SQS queue in the store, an archive of the events its pattern selects, and replays
//! of that archive that carry `replay-name` as EventBridge's do. An entry for the bus named
//! `default` goes to the rules of the default bus (where SES publishes its email events),
//! any other to ours; only ours is archived. `queue_runner` delivers the
//! queues to the consumers as Lambda's SQS event source does.

pub(crate) mod queue_runner;

pub use queue_runner::deliver;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::store::EmbeddedStore;
use crate::ports::{BusEntry, Clock, EntryResult, EventBus, PortError};
use crate::template::Routes;

pub const LOCAL_ACCOUNT: &str = "000000000000";
pub const LOCAL_REGION: &str = "local";
/// The account's default bus, as EventBridge names it.
pub const DEFAULT_BUS: &str = "default";

pub struct EmbeddedBus<C> {
    store: Arc<EmbeddedStore<C>>,
    routes: Routes,
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
        EmbeddedBus { store, routes }
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

    fn route(&self, default_bus: bool, event: &Value) -> Result<(), PortError> {
        let body = event.to_string();
        if !default_bus && self.routes.archive.as_ref().is_some_and(|p| p.matches(event)) {
            self.store.archive_event(self.store.clock().now(), &body)?;
        }
        for rule in self.routes.matching_on(default_bus, event) {
            self.store.enqueue(&rule.queue, &body)?;
        }
        Ok(())
    }
}

impl<C: Clock> EventBus for EmbeddedBus<C> {
    async fn put_events(&self, entries: &[&BusEntry]) -> Result<Vec<EntryResult>, PortError> {
        crate::ports::check_put_events_call(entries)?;
        let now = self.store.clock().now();
        let mut results = Vec::with_capacity(entries.len());
        for entry in entries {
            let detail = match entry.accepted_detail() {
                Ok(detail) => detail,
                Err(refused) => {
                    results.push(refused);
                    continue;
                }
            };
            let id = envelope_id();
            let event = entry.envelope_around(detail, &id, LOCAL_ACCOUNT, LOCAL_REGION, now);
            results.push(match self.route(entry.event_bus_name == DEFAULT_BUS, &event) {
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
