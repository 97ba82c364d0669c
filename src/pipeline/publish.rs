//! Publishing to EventBridge: packing entries into PutEvents calls, resending only the
//! failed entries with capped exponential backoff and jitter, and keeping per-account order.
//!
//! Order: an entry of an account is never sent before every earlier entry of that account
//! (from an earlier record) has been accepted. Entries of one record (a Transaction Recorded
//! and its alerts) describe one fact and may share a call.

use std::borrow::Cow;
use std::collections::VecDeque;

use crate::domain::events::{BusEvent, EVENT_SOURCE};
use crate::ports::{BusEntry, Clock, EntryResult, EventBus, FailureKind};

use std::time::Duration;

use super::retry::{Deadline, RetryPolicy};

pub use crate::ports::{MAX_ENTRIES_PER_CALL, MAX_REQUEST_BYTES};

/// How far past the head of the queue a call looks for entries it may take.
const LOOKAHEAD: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishLimits {
    pub max_entries: usize,
    /// Sum of the entry sizes of one call, as `BusEntry::size` computes them.
    pub max_request_bytes: usize,
}

impl Default for PublishLimits {
    fn default() -> Self {
        PublishLimits {
            max_entries: MAX_ENTRIES_PER_CALL,
            max_request_bytes: MAX_REQUEST_BYTES,
        }
    }
}

/// The PutEvents entry of one of our events.
pub fn entry_for(event: &BusEvent, event_bus_name: &str) -> BusEntry {
    BusEntry {
        source: Cow::Borrowed(EVENT_SOURCE),
        detail_type: Cow::Borrowed(event.detail_type().as_str()),
        detail: event.detail_json(),
        event_bus_name: event_bus_name.to_string(),
        resources: Vec::new(),
        // EventBridge stamps the time it received the event; the detail's occurred_at
        // says when the fact happened.
        time: None,
    }
}

/// The entries of one stream record, in the order they must be published.
#[derive(Debug, Clone, Default)]
pub struct EntryGroup {
    /// The account the record is about; None: no ordering constraint.
    pub account: Option<String>,
    pub entries: Vec<BusEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishOutcome {
    /// The first group not fully published: it and every later group must be retried.
    pub first_unpublished: Option<usize>,
    pub calls: u32,
    pub entries_accepted: usize,
    /// Entry results that came back failed (each failed send counts once).
    pub failed_entries: usize,
    /// Sends of entries that had failed before.
    pub resent_entries: usize,
    pub last_error: Option<String>,
    /// Calls were left unmade because the invocation's deadline was near.
    pub stopped_by_deadline: bool,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    group: usize,
    entry: usize,
    attempts: u32,
}

pub async fn publish<B: EventBus, C: Clock>(
    bus: &B,
    clock: &C,
    policy: &RetryPolicy,
    limits: &PublishLimits,
    groups: &[EntryGroup],
) -> PublishOutcome {
    publish_until(bus, clock, policy, limits, groups, &Deadline::none()).await
}

/// `publish`, starting no call (first sends and resends alike) that the deadline leaves no
/// time for: the groups not yet published are reported as the first unpublished onwards.
pub async fn publish_until<B: EventBus, C: Clock>(
    bus: &B,
    clock: &C,
    policy: &RetryPolicy,
    limits: &PublishLimits,
    groups: &[EntryGroup],
    deadline: &Deadline,
) -> PublishOutcome {
    let mut outcome = PublishOutcome::default();
    let mut queue: VecDeque<Pending> = groups
        .iter()
        .enumerate()
        .flat_map(|(group, g)| {
            (0..g.entries.len()).map(move |entry| Pending {
                group,
                entry,
                attempts: 0,
            })
        })
        .collect();
    let mut cut: Option<usize> = None;
    let mut consecutive_failures = 0u32;
    let mut rng = fastrand::Rng::new();
    let entry = |p: &Pending| &groups[p.group].entries[p.entry];

    while !queue.is_empty() {
        if !deadline.allows_call(clock.now(), Duration::ZERO) {
            stop_for_deadline(&mut outcome, &mut cut, &queue);
            break;
        }
        let window: Vec<Pending> = queue.drain(..queue.len().min(LOOKAHEAD)).collect();
        let chosen = pack_call(groups, &window, limits);
        let call: Vec<&BusEntry> = chosen.iter().map(|&i| entry(&window[i])).collect();
        if call.is_empty() {
            // Only an entry larger than a whole call can get here; the processor rejects those.
            outcome.last_error = Some("an entry exceeds the PutEvents request size".into());
            cut = Some(cut.map_or(window[0].group, |c| c.min(window[0].group)));
            queue.clear();
            break;
        }
        outcome.calls += 1;
        outcome.resent_entries += chosen.iter().filter(|&&i| window[i].attempts > 0).count();
        let mut accepted = vec![false; window.len()];
        let mut any_failed = false;
        let mut give_up_from: Option<usize> = None;
        match bus.put_events(&call).await {
            Ok(results) if results.len() == chosen.len() => {
                for (&i, result) in chosen.iter().zip(&results) {
                    match result {
                        EntryResult::Accepted { .. } => {
                            accepted[i] = true;
                            outcome.entries_accepted += 1;
                        }
                        EntryResult::Failed {
                            error_code,
                            error_message,
                        } => {
                            any_failed = true;
                            outcome.failed_entries += 1;
                            outcome.last_error = Some(format!("{error_code}: {error_message}"));
                        }
                    }
                }
            }
            Ok(results) => {
                any_failed = true;
                outcome.last_error = Some(format!(
                    "PutEvents returned {} results for {} entries",
                    results.len(),
                    chosen.len()
                ));
            }
            Err(error) => {
                any_failed = true;
                outcome.last_error = Some(error.message.clone());
                if error.kind == FailureKind::Permanent {
                    // The same call fails again: stop at the first pending record.
                    give_up_from = Some(window[0].group);
                }
            }
        }
        let mut window = window;
        for &i in &chosen {
            if !accepted[i] {
                window[i].attempts += 1;
                if window[i].attempts >= policy.max_attempts {
                    give_up_from = Some(give_up_from.map_or(window[i].group, |g| g.min(window[i].group)));
                }
            }
        }
        for (i, pending) in window.into_iter().enumerate().rev() {
            if !accepted[i] {
                queue.push_front(pending);
            }
        }
        if let Some(group) = give_up_from {
            let first = cut.map_or(group, |c| c.min(group));
            cut = Some(first);
            queue.retain(|p| p.group < first);
        }
        if any_failed {
            tracing::warn!(
                call = outcome.calls,
                entries = chosen.len(),
                gave_up = give_up_from.is_some(),
                error = outcome.last_error.as_deref().unwrap_or("-"),
                "PutEvents call had failures; resending the failed entries"
            );
            consecutive_failures += 1;
            if !queue.is_empty() {
                let delay = policy.delay(consecutive_failures, &mut rng);
                if !deadline.allows_call(clock.now(), delay) {
                    stop_for_deadline(&mut outcome, &mut cut, &queue);
                    break;
                }
                clock.sleep(delay).await;
            }
        } else {
            consecutive_failures = 0;
        }
    }
    outcome.first_unpublished = cut;
    outcome
}

fn stop_for_deadline(outcome: &mut PublishOutcome, cut: &mut Option<usize>, queue: &VecDeque<Pending>) {
    if let Some(first) = queue.iter().map(|p| p.group).min() {
        *cut = Some(cut.map_or(first, |c| c.min(first)));
    }
    outcome.stopped_by_deadline = true;
    outcome.last_error = Some(format!(
        "stopped before the invocation's deadline{}",
        outcome
            .last_error
            .as_deref()
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default()
    ));
}

/// Picks the entries of the next call from the head of the queue: in queue order, within
/// the limits, and with no two records of the same account (the later one waits).
fn pack_call(groups: &[EntryGroup], window: &[Pending], limits: &PublishLimits) -> Vec<usize> {
    let mut chosen = Vec::with_capacity(limits.max_entries);
    let mut bytes = 0usize;
    // Accounts in this call with their record, and accounts that must wait for the next call.
    let mut in_call: Vec<(&str, usize)> = Vec::new();
    let mut waiting: Vec<&str> = Vec::new();
    for (i, pending) in window.iter().enumerate() {
        if chosen.len() == limits.max_entries {
            break;
        }
        let group = &groups[pending.group];
        let account = group.account.as_deref();
        if let Some(account) = account {
            if waiting.contains(&account) {
                continue;
            }
            if in_call.iter().any(|&(a, g)| a == account && g != pending.group) {
                waiting.push(account);
                continue;
            }
        }
        let size = group.entries[pending.entry].size();
        if bytes + size > limits.max_request_bytes {
            match account {
                Some(account) => {
                    waiting.push(account);
                    continue;
                }
                // Without an account there is no order to keep, but stop to keep packing simple.
                None => break,
            }
        }
        chosen.push(i);
        bytes += size;
        if let Some(account) = account
            && !in_call.iter().any(|&(a, _)| a == account)
        {
            in_call.push((account, pending.group));
        }
    }
    chosen
}
