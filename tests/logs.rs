//! What the processor logs: rejections and partial failures, never personal data or a card
//! number, whatever the records hold.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use txn_notify::local::memory::{MemoryBus, MemoryLedger};
use txn_notify::ports::PortError;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn logs_name_rejections_and_failures_but_no_personal_data() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events/mixed-batch.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let ledger = MemoryLedger::new();
        ledger.load_stream_images(&event);
        // The third call fails for good: a partial failure is logged too.
        let bus = MemoryBus::failing_calls(|call| (call >= 2).then(|| PortError::transient("ThrottlingException")));
        let processor = common::processor(ledger, bus);
        let outcome = runtime.block_on(common::run(&processor, &event));
        assert!(!outcome.response.batch_item_failures.is_empty());
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("record rejected") && logs.contains("bad_card_last4"),
        "{logs}"
    );
    assert!(logs.contains("batch partially failed"), "{logs}");
    for secret in ["example.com", "Dupont", "Marie", "Tanaka", "4111111111111111"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs:\n{logs}");
    }
    for line in logs.lines() {
        serde_json::from_str::<Value>(line).expect("every log line is JSON");
    }
}
