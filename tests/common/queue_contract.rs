//! What SQS does with a consumer's queue, and the embedded store's queues must do too:
//! run on the embedded store and (in tests/emulators) on moto's SQS, through the same
//! scenario. The queue under test has a visibility timeout of `VISIBILITY` and a redrive
//! policy of `MAX_RECEIVES` to its dead-letter queue.
//!
//! Left out on purpose: a delete with a stale receipt. SQS documents that such a request
//! "succeeds, but the message might not be deleted"; the embedded store never deletes then.

use std::collections::BTreeSet;
use std::time::Duration;

pub const VISIBILITY: Duration = Duration::from_secs(1);
pub const MAX_RECEIVES: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub receipt: String,
    pub body: String,
    pub receive_count: u32,
}

/// One queue with its dead-letter queue, as each side offers it.
#[allow(async_fn_in_trait)]
pub trait QueueUnderTest {
    async fn send(&self, body: &str);
    /// At most `max` visible messages.
    async fn receive(&self, max: usize) -> Vec<Received>;
    async fn delete(&self, receipt: &str);
    /// The bodies the dead-letter queue holds now.
    async fn dead_letters(&self) -> BTreeSet<String>;
    /// Lets `by` pass: a clock moved on, or a real wait.
    async fn wait(&self, by: Duration);
}

fn bodies(received: &[Received]) -> BTreeSet<String> {
    received.iter().map(|r| r.body.clone()).collect()
}

pub async fn queue_contract<Q: QueueUnderTest>(queue: &Q) {
    let past_visibility = VISIBILITY + Duration::from_millis(600);
    for body in ["m1", "m2", "m3"] {
        queue.send(body).await;
    }

    // A receive takes what is visible, each message once, and hides it.
    let first = queue.receive(10).await;
    assert_eq!(bodies(&first), BTreeSet::from(["m1".into(), "m2".into(), "m3".into()]));
    assert!(first.iter().all(|r| r.receive_count == 1), "{first:?}");
    assert!(queue.receive(10).await.is_empty(), "received messages are invisible");

    // What is deleted is gone; what is not comes back after the visibility timeout.
    let m1 = first.iter().find(|r| r.body == "m1").unwrap();
    queue.delete(&m1.receipt).await;
    queue.wait(past_visibility).await;
    let second = queue.receive(10).await;
    assert_eq!(bodies(&second), BTreeSet::from(["m2".into(), "m3".into()]));
    assert!(second.iter().all(|r| r.receive_count == 2), "{second:?}");
    assert!(queue.dead_letters().await.is_empty());

    // A batch is at most what was asked for.
    queue.wait(past_visibility).await;
    queue.send("m4").await;
    let one = queue.receive(1).await;
    assert_eq!(one.len(), 1, "{one:?}");
    assert_eq!(
        one[0].body, "m4",
        "m2 and m3 are past their receives, so only m4 is receivable"
    );

    // Past `MAX_RECEIVES` receives, the next receive moves a message to the dead-letter
    // queue instead of handing it out.
    let rest = queue.receive(10).await;
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(queue.dead_letters().await, BTreeSet::from(["m2".into(), "m3".into()]));
    queue.delete(&one[0].receipt).await;
    queue.wait(past_visibility).await;
    assert!(queue.receive(10).await.is_empty(), "nothing left");
}
