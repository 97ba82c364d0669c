//! A bus in memory: keeps what it accepted and the calls it was sent, fails on demand.

use std::sync::Mutex;

use crate::ports::{BusEntry, EntryResult, EventBus, PortError};

type EntryFault = Box<dyn Fn(u32, &BusEntry) -> Option<String> + Send + Sync>;
type CallFault = Box<dyn Fn(u32) -> Option<PortError> + Send + Sync>;

/// A bus that keeps what it accepted, in order, and every call it was sent.
#[derive(Default)]
pub struct MemoryBus {
    published: Mutex<Vec<BusEntry>>,
    calls: Mutex<Vec<Vec<BusEntry>>>,
    log_calls: bool,
    /// Accept without keeping (benchmarks: only the calls are counted).
    discard: bool,
    entry_fault: Option<EntryFault>,
    call_fault: Option<CallFault>,
}

impl MemoryBus {
    pub fn new() -> Self {
        MemoryBus::default()
    }

    /// A bus that checks every call's limits as EventBridge would, accepts it, and keeps
    /// nothing but the number of calls: what a benchmark of its caller needs.
    pub fn discarding() -> Self {
        MemoryBus {
            discard: true,
            ..MemoryBus::default()
        }
    }

    /// Fails an entry of call number n (0-based) with the returned error code.
    pub fn failing_entries(fault: impl Fn(u32, &BusEntry) -> Option<String> + Send + Sync + 'static) -> Self {
        MemoryBus {
            entry_fault: Some(Box::new(fault)),
            ..MemoryBus::default()
        }
    }

    /// Fails call number n (0-based) as a whole.
    pub fn failing_calls(fault: impl Fn(u32) -> Option<PortError> + Send + Sync + 'static) -> Self {
        MemoryBus {
            call_fault: Some(Box::new(fault)),
            ..MemoryBus::default()
        }
    }

    pub fn published(&self) -> Vec<BusEntry> {
        self.published.lock().expect("bus lock").clone()
    }

    /// The entries published so far, taken out of the bus.
    pub fn take_published(&self) -> Vec<BusEntry> {
        std::mem::take(&mut *self.published.lock().expect("bus lock"))
    }

    /// Also keep a copy of every call's entries (see `calls`).
    pub fn logging_calls(mut self) -> Self {
        self.log_calls = true;
        self
    }

    /// The entries of every call made, failed calls and entries included (when logging).
    pub fn calls(&self) -> Vec<Vec<BusEntry>> {
        self.calls.lock().expect("bus lock").clone()
    }

    pub fn call_count(&self) -> usize {
        self.calls.lock().expect("bus lock").len()
    }
}

impl EventBus for MemoryBus {
    async fn put_events(&self, entries: &[&BusEntry]) -> Result<Vec<EntryResult>, PortError> {
        let call_index = {
            let mut calls = self.calls.lock().expect("bus lock");
            calls.push(if self.log_calls {
                entries.iter().map(|e| (*e).clone()).collect()
            } else {
                Vec::new()
            });
            (calls.len() - 1) as u32
        };
        if let Some(error) = self.call_fault.as_ref().and_then(|fault| fault(call_index)) {
            return Err(error);
        }
        crate::ports::check_put_events_call(entries)?;
        let mut published = self.published.lock().expect("bus lock");
        let results = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                // A benchmark's bus counts the calls of what it measures, nothing else.
                if !self.discard
                    && let Some(refused) = entry.refusal()
                {
                    return refused;
                }
                match self.entry_fault.as_ref().and_then(|fault| fault(call_index, entry)) {
                    Some(error_code) => EntryResult::Failed {
                        error_code,
                        error_message: "injected failure".into(),
                    },
                    None => {
                        if !self.discard {
                            published.push((*entry).clone());
                        }
                        EntryResult::Accepted {
                            event_id: accepted_event_id(call_index, i),
                        }
                    }
                }
            })
            .collect();
        Ok(results)
    }
}

/// `{call}-{entry}`: the id the bus gives an accepted entry, written without `format!` (a
/// benchmark's bus answers thousands of entries per batch).
fn accepted_event_id(call_index: u32, entry_index: usize) -> String {
    let mut id = String::with_capacity(12);
    id.push_str(itoa::Buffer::new().format(call_index));
    id.push('-');
    id.push_str(itoa::Buffer::new().format(entry_index));
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_ids_read_call_dash_entry() {
        for (call, entry) in [(0, 0), (7, 9), (10, 10), (1290, 9), (u32::MAX, usize::MAX)] {
            assert_eq!(accepted_event_id(call, entry), format!("{call}-{entry}"));
        }
    }
}
