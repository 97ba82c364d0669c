//! `invoke feedback`: the feedback function on an SQS batch of SES's email events (or one
//! bare event), as FeedbackQueue delivers them.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value, json};

use super::args::InvokeArgs;
use super::input::{Recorded, now_of, open_store, read_json, reply_json, runtime, seeded_ledger};
use crate::clock::FrozenClock;
use crate::domain::{Account, Decision, DeliveryState, Notification, NotificationEmail, Recipient};
use crate::local::embedded::bus::EmbeddedBus;
use crate::local::memory::{MemoryAuditLog, MemoryBus, MemoryIdempotency};
use crate::pipeline::consumer::messages_of;
use crate::pipeline::feedback::{Feedback, FeedbackConfig, FeedbackStats, SesFeedback};
use crate::ports::{BusEntry, Ledger, NotificationLog};
use crate::template::Routes;

/// In memory, the ledger is seeded as for the notifier and each email the events name is
/// taken as just sent (a notification in state `sent`), so that the run shows what the
/// events change; with `--data-dir`, the store's own accounts and notifications.
pub fn run(args: &InvokeArgs) -> Result<ExitCode, String> {
    let payload = read_json(&args.event)?;
    let config = FeedbackConfig::new(&args.configuration_set, &args.bus);
    let clock = FrozenClock::at(now_of(args));
    let runtime = runtime()?;
    let named = named_emails(&payload, &args.configuration_set);
    let (reply, stats, accounts, notifications, published) = match &args.data_dir {
        Some(dir) => {
            let store = open_store(dir)?;
            let bus = Recorded::new(EmbeddedBus::new(Arc::clone(&store), Routes::builtin()));
            let feedback = Feedback::new(
                Arc::clone(&store),
                Arc::clone(&store),
                bus,
                Arc::clone(&store),
                clock,
                config,
            );
            let (reply, stats) = runtime.block_on(feedback.handle(payload)).map_err(|e| e.to_string())?;
            let (accounts, notifications) = runtime.block_on(after(&store, &store, &named))?;
            (reply, stats, accounts, notifications, feedback.bus.accepted())
        }
        None => {
            let ledger = seeded_ledger(args.ledger.as_ref())?;
            let log = MemoryAuditLog::new();
            runtime.block_on(taken_as_sent(&log, &named, now_of(args)))?;
            let feedback = Feedback::new(
                ledger,
                log,
                Recorded::new(MemoryBus::new()),
                MemoryIdempotency::new(),
                clock,
                config,
            );
            let (reply, stats) = runtime.block_on(feedback.handle(payload)).map_err(|e| e.to_string())?;
            let (accounts, notifications) =
                runtime.block_on(after(&feedback.ledger, &feedback.notifications, &named))?;
            (reply, stats, accounts, notifications, feedback.bus.accepted())
        }
    };
    report(
        args.json,
        &reply_json(&reply),
        &stats,
        &accounts,
        &notifications,
        &published,
    );
    Ok(ExitCode::SUCCESS)
}

/// An email an event of the batch is about: (event_id, account_id, message_id, template, feedback).
struct Named {
    event_id: String,
    account_id: String,
    message_id: String,
    template: String,
    feedback: SesFeedback,
}

/// The emails of our configuration set the batch's events are about.
fn named_emails(payload: &Value, configuration_set: &str) -> Vec<Named> {
    let Ok((_, messages)) = messages_of(payload.clone()) else {
        return Vec::new();
    };
    messages
        .into_iter()
        .filter_map(|m| m.delivery().ok())
        .filter_map(|d| SesFeedback::from_event(&d.detail_type, d.detail.get()).ok())
        .filter(|f| f.configuration_set.as_deref() == Some(configuration_set))
        .filter_map(|f| {
            Some(Named {
                event_id: f.event_id.clone()?,
                account_id: f.account_id.clone()?,
                message_id: f.message_id.clone(),
                template: f.template.clone().unwrap_or_else(|| "transaction".into()),
                feedback: f,
            })
        })
        .collect()
}

async fn taken_as_sent(
    log: &MemoryAuditLog,
    named: &[Named],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let mut by_event: BTreeMap<&str, Notification> = BTreeMap::new();
    for email in named {
        let notification = by_event.entry(&email.event_id).or_insert_with(|| Notification {
            event_id: email.event_id.clone(),
            account_id: email.account_id.clone(),
            detail_type: email
                .feedback
                .detail_type
                .map_or("Transaction Recorded", |d| d.as_str())
                .to_string(),
            occurred_at: email.feedback.timestamp,
            transaction_id: email.feedback.transaction_id.clone(),
            decision: Decision::Sent,
            reason: None,
            emails: Vec::new(),
            decided_at: email.feedback.timestamp,
            expires_at: (now + crate::domain::audit::RETENTION).timestamp(),
        });
        if !notification
            .emails
            .iter()
            .any(|e| e.message_id.as_deref() == Some(&email.message_id))
        {
            notification.emails.push(NotificationEmail {
                template: email.template.clone(),
                to: Recipient::Account,
                message_id: Some(email.message_id.clone()),
                delivery_state: DeliveryState::Sent,
                delivery_state_at: email.feedback.timestamp,
            });
        }
    }
    for notification in by_event.values() {
        log.record_notification(notification).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The accounts and the notifications the batch named, as they are after it.
async fn after<L: Ledger, N: NotificationLog>(
    ledger: &L,
    log: &N,
    named: &[Named],
) -> Result<(Vec<Account>, Vec<Notification>), String> {
    let mut accounts = Vec::new();
    let mut account_ids: Vec<&str> = named.iter().map(|n| n.account_id.as_str()).collect();
    account_ids.sort();
    account_ids.dedup();
    for account_id in account_ids {
        if let Some(account) = ledger.get_account(account_id).await.map_err(|e| e.to_string())? {
            accounts.push(account);
        }
    }
    let mut notifications = Vec::new();
    let mut event_ids: Vec<(&str, &str)> = named
        .iter()
        .map(|n| (n.account_id.as_str(), n.event_id.as_str()))
        .collect();
    event_ids.sort();
    event_ids.dedup();
    for (account_id, event_id) in event_ids {
        let page = log
            .notifications(&crate::ports::NotificationQuery {
                account_id,
                limit: 100,
                after: None,
            })
            .await
            .map_err(|e| e.to_string())?;
        notifications.extend(page.notifications.into_iter().filter(|n| n.event_id == event_id));
    }
    Ok((accounts, notifications))
}

fn report(
    as_json: bool,
    response: &Value,
    stats: &FeedbackStats,
    accounts: &[Account],
    notifications: &[Notification],
    published: &[BusEntry],
) {
    let email_status = |a: &Account| {
        a.email_status
            .as_ref()
            .map(|s| json!({"state": s.state.as_str(), "reason": s.reason.as_str(), "since": crate::domain::time::format_rfc3339(&s.since)}))
    };
    if as_json {
        let accounts: Vec<Value> = accounts
            .iter()
            .map(|a| json!({"account_id": a.account_id, "email_status": email_status(a)}))
            .collect();
        let events: Vec<Value> = published
            .iter()
            .map(|e| json!({"DetailType": e.detail_type, "Detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null)}))
            .collect();
        println!(
            "{}",
            json!({"response": response, "stats": stats, "accounts": accounts, "notifications": notifications, "published": events})
        );
        return;
    }
    println!(
        "feedback: {} messages: {} states moved, {} unchanged, {} addresses marked undeliverable, {} notifications undeliverable, {} skipped, {} to retry, {} malformed",
        stats.received,
        stats.moved,
        stats.unchanged,
        stats.addresses_marked,
        stats.undeliverable,
        stats.skipped(),
        stats.retried,
        stats.malformed
    );
    for notification in notifications {
        for email in &notification.emails {
            println!(
                "  {} {:<10} {}",
                notification.event_id,
                email.delivery_state.as_str(),
                email.message_id.as_deref().unwrap_or("-")
            );
        }
    }
    for account in accounts {
        let status = account.email_status.as_ref().map_or("deliverable".to_string(), |s| {
            format!("undeliverable ({})", s.reason.as_str())
        });
        println!("  account {}: {status}", account.account_id);
    }
    for event in published {
        println!("published {}: {}", event.detail_type, event.detail);
    }
    println!("response: {response}");
}
