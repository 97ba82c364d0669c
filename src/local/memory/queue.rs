//! A queue in memory: what `invoke digest` fills without `--data-dir`, and a test double
//! that fails on demand like SendMessageBatch.

use std::sync::Mutex;

use crate::ports::{MAX_MESSAGES_PER_SEND, PortError, WorkQueue};

#[derive(Default)]
pub struct MemoryQueue {
    messages: Mutex<Vec<String>>,
    faults: Mutex<QueueFaults>,
}

/// Faults the next sends will meet.
#[derive(Debug, Default, Clone)]
pub struct QueueFaults {
    /// This many next calls fail as a whole, transiently.
    pub failing_calls: u32,
    /// This many next calls send only their first body; the others fail transiently.
    pub partial_calls: u32,
    /// Every call is refused (AccessDenied, no such queue).
    pub always_fail: bool,
}

impl MemoryQueue {
    pub fn new() -> Self {
        MemoryQueue::default()
    }

    pub fn inject(&self, faults: QueueFaults) {
        *self.faults.lock().expect("queue lock") = faults;
    }

    /// The bodies sent so far, in order.
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().expect("queue lock").clone()
    }

    /// Takes every body sent so far, as a consumer would.
    pub fn drain(&self) -> Vec<String> {
        std::mem::take(&mut *self.messages.lock().expect("queue lock"))
    }
}

impl WorkQueue for MemoryQueue {
    async fn send_messages(&self, bodies: &[String]) -> Result<Vec<Result<(), PortError>>, PortError> {
        if bodies.len() > MAX_MESSAGES_PER_SEND {
            return Err(PortError::permanent("SendMessageBatch takes at most 10 messages"));
        }
        let partial = {
            let mut faults = self.faults.lock().expect("queue lock");
            if faults.always_fail {
                return Err(PortError::permanent("AccessDenied: injected"));
            }
            if faults.failing_calls > 0 {
                faults.failing_calls -= 1;
                return Err(PortError::transient("ServiceUnavailable: injected"));
            }
            let partial = faults.partial_calls > 0;
            faults.partial_calls = faults.partial_calls.saturating_sub(1);
            partial
        };
        let mut messages = self.messages.lock().expect("queue lock");
        Ok(bodies
            .iter()
            .enumerate()
            .map(|(n, body)| {
                if partial && n > 0 {
                    return Err(PortError::transient("InternalError: injected"));
                }
                messages.push(body.clone());
                Ok(())
            })
            .collect())
    }
}
