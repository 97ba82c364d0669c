//! SQS SendMessageBatch, for the queues the use cases fill themselves (DigestQueue). The
//! use case packs at most 10 bodies a call and resends the entries that failed.
//!
//! | what came back | result |
//! |---|---|
//! | an entry listed in Successful | `Ok` |
//! | an entry listed in Failed with SenderFault | permanent failure of that entry (the same body fails again) |
//! | an entry listed in Failed, not the sender's fault | transient failure of that entry |
//! | an entry in neither list | transient failure of that entry (cannot be matched: sent again, the workers are idempotent) |
//! | the call failed as a whole: throttling, 5xx, no response | transient `PortError` |
//! | the call was refused: no such queue, access denied, too many entries | permanent `PortError` |

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::aws::failure::classify;
use crate::ports::{MAX_MESSAGES_PER_SEND, PortError, WorkQueue};

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        SqsQueue {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl WorkQueue for SqsQueue {
    async fn send_messages(&self, bodies: &[String]) -> Result<Vec<Result<(), PortError>>, PortError> {
        if bodies.is_empty() {
            return Ok(Vec::new());
        }
        if bodies.len() > MAX_MESSAGES_PER_SEND {
            return Err(PortError::permanent("SendMessageBatch takes at most 10 messages"));
        }
        let entries = bodies
            .iter()
            .enumerate()
            .map(|(n, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .message_body(body)
                    .build()
                    .map_err(|e| PortError::permanent(format!("SendMessageBatch: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify("SendMessageBatch", &e))?;
        let mut results: Vec<Result<(), PortError>> = (0..bodies.len())
            .map(|_| {
                Err(PortError::transient(
                    "SendMessageBatch: the entry is in no list of the answer",
                ))
            })
            .collect();
        for sent in output.successful() {
            if let Some(slot) = sent.id().parse::<usize>().ok().and_then(|n| results.get_mut(n)) {
                *slot = Ok(());
            }
        }
        for failed in output.failed() {
            if let Some(slot) = failed.id().parse::<usize>().ok().and_then(|n| results.get_mut(n)) {
                let message = format!(
                    "SendMessageBatch: {} {}",
                    failed.code(),
                    failed.message().unwrap_or_default()
                );
                *slot = Err(if failed.sender_fault() {
                    PortError::permanent(message)
                } else {
                    PortError::transient(message)
                });
            }
        }
        Ok(results)
    }
}
