//! EventBridge PutEvents. The publisher (`pipeline::publish`) packs the calls (≤ 10 entries,
//! ≤ 1 MB) and resends failed entries with backoff; this adapter sends one call and reports
//! each entry's fate in order.
//!
//! | what came back | result |
//! |---|---|
//! | every entry has an EventId | `Accepted` each |
//! | some entries carry an ErrorCode (InternalFailure, ThrottlingException, …) | `Failed` for those, with the code |
//! | the call failed as a whole: throttling, 5xx, no response | transient `PortError` (nothing was accepted) |
//! | the call was refused: ValidationException (11 entries, too large), AccessDenied, no such bus | permanent `PortError` |

pub(crate) mod replay;

pub use replay::EventBridgeReplays;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::aws::failure::classify;
use crate::ports::{BusEntry, EntryResult, EventBus, PortError};

#[derive(Clone)]
pub struct EventBridgeBus {
    client: Client,
}

impl EventBridgeBus {
    pub fn new(client: Client) -> Self {
        EventBridgeBus { client }
    }
}

fn request_entry(entry: &BusEntry) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .source(entry.source.as_ref())
        .detail_type(entry.detail_type.as_ref())
        .detail(&entry.detail)
        .event_bus_name(&entry.event_bus_name)
        .set_resources((!entry.resources.is_empty()).then(|| entry.resources.clone()))
        .set_time(
            entry
                .time
                .map(|t| aws_sdk_eventbridge::primitives::DateTime::from_millis(t.timestamp_millis())),
        )
        .build()
}

impl EventBus for EventBridgeBus {
    async fn put_events(&self, entries: &[&BusEntry]) -> Result<Vec<EntryResult>, PortError> {
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries.iter().map(|e| request_entry(e)).collect()))
            .send()
            .await
            .map_err(|e| classify("PutEvents", &e))?;
        let results = output.entries.unwrap_or_default();
        if results.len() != entries.len() {
            // EventBridge answers one result per entry, in order; anything else cannot be
            // matched up, so nothing is taken as accepted.
            return Err(PortError::transient(format!(
                "PutEvents: {} results for {} entries",
                results.len(),
                entries.len()
            )));
        }
        Ok(results
            .into_iter()
            .map(|result| match (result.event_id, result.error_code) {
                (_, Some(error_code)) => EntryResult::Failed {
                    error_code,
                    error_message: result.error_message.unwrap_or_default(),
                },
                (Some(event_id), None) => EntryResult::Accepted { event_id },
                (None, None) => EntryResult::Failed {
                    error_code: "InternalFailure".into(),
                    error_message: "no EventId and no ErrorCode".into(),
                },
            })
            .collect())
    }
}
