//! The `WorkQueue` port on a queue of the embedded store (DigestQueue): each body is one
//! message, visible at once, received by the runtime as Lambda's SQS event source would.

use std::sync::Arc;

use crate::local::embedded::store::EmbeddedStore;
use crate::ports::{Clock, MAX_MESSAGES_PER_SEND, PortError, WorkQueue};

pub struct StoreQueue<C> {
    store: Arc<EmbeddedStore<C>>,
    queue: String,
}

impl<C> StoreQueue<C> {
    /// The queue of that logical id in template.yaml.
    pub fn new(store: Arc<EmbeddedStore<C>>, queue: impl Into<String>) -> Self {
        StoreQueue {
            store,
            queue: queue.into(),
        }
    }
}

impl<C: Clock> WorkQueue for StoreQueue<C> {
    async fn send_messages(&self, bodies: &[String]) -> Result<Vec<Result<(), PortError>>, PortError> {
        if bodies.len() > MAX_MESSAGES_PER_SEND {
            return Err(PortError::permanent("SendMessageBatch takes at most 10 messages"));
        }
        self.store.enqueue_all(&self.queue, bodies)?;
        Ok(bodies.iter().map(|_| Ok(())).collect())
    }
}
