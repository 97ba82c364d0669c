//! What every `EventBus` must do, as EventBridge's PutEvents does it: run against the
//! in-memory bus, the embedded bus and (in tests/emulators) moto's EventBridge. `delivered`
//! lists the detail-types that reached the bus's rules so far (in any order).
//!
//! Left out because moto does not check it: the 1 MB limit of a call (the publisher packs
//! under it, and the embedded buses refuse more with `check_put_events_call`).

use std::future::Future;

use serde_json::json;

use txn_notify::ports::{BusEntry, EntryResult, EventBus};

pub fn contract_entry(bus: &str, detail_type: &str, n: usize) -> BusEntry {
    BusEntry {
        source: "txn-notify".into(),
        detail_type: detail_type.to_string().into(),
        detail: json!({"event_id": format!("contract-{n}"), "account_id": "acc-1"}).to_string(),
        event_bus_name: bus.into(),
        resources: Vec::new(),
        time: None,
    }
}

pub async fn bus_contract<B, F, Fut>(bus: &B, bus_name: &str, delivered: F)
where
    B: EventBus,
    F: Fn() -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    // More than ten entries: the whole call is refused, and for good.
    let eleven: Vec<BusEntry> = (0..11).map(|n| contract_entry(bus_name, "Eleven", n)).collect();
    let refs: Vec<&BusEntry> = eleven.iter().collect();
    let error = bus.put_events(&refs).await.unwrap_err();
    assert!(!error.is_transient(), "{error}");
    assert!(error.message.contains("ValidationException"), "{error}");
    assert!(delivered().await.is_empty(), "nothing of a refused call is delivered");

    // A bad entry fails alone, with EventBridge's code, in its place.
    let first = contract_entry(bus_name, "First", 1);
    let mut no_source = contract_entry(bus_name, "No Source", 2);
    no_source.source = "".into();
    let no_detail_type = contract_entry(bus_name, "", 3);
    let mut not_json = contract_entry(bus_name, "Not JSON", 4);
    not_json.detail = "{not json".into();
    let last = contract_entry(bus_name, "Last", 5);
    let results = bus
        .put_events(&[&first, &no_source, &no_detail_type, &not_json, &last])
        .await
        .unwrap();
    let codes: Vec<&str> = results
        .iter()
        .map(|r| match r {
            EntryResult::Accepted { .. } => "accepted",
            EntryResult::Failed { error_code, .. } => error_code.as_str(),
        })
        .collect();
    assert_eq!(
        codes,
        [
            "accepted",
            "InvalidArgument",
            "InvalidArgument",
            "MalformedDetail",
            "accepted"
        ]
    );
    let ids: Vec<&str> = results
        .iter()
        .filter_map(|r| match r {
            EntryResult::Accepted { event_id } => Some(event_id.as_str()),
            EntryResult::Failed { .. } => None,
        })
        .collect();
    assert!(ids.iter().all(|id| !id.is_empty()) && ids[0] != ids[1], "{ids:?}");

    let mut types = delivered().await;
    types.sort();
    assert_eq!(types, ["First", "Last"], "only the accepted entries are delivered");
}
