//! What every `NotificationLog` must do (domain::notification's rules): run against the
//! in-memory audit log, the embedded store and (in tests/emulators) DynamoDB Local, with the
//! auditor's records in the same trail so that the history shows only notifications.
//! Account ids are prefixed so that one table can hold several runs.

use chrono::{DateTime, Duration, TimeZone, Utc};

use txn_notify::domain::{
    AuditRecord, Decision, DeliveryState, HistoryPosition, Notification, NotificationEmail, Recipient,
};
use txn_notify::ports::{AuditLog, DeliveryUpdate, NotificationLog, NotificationQuery, PutOutcome};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 18, 0, 0).unwrap()
}

pub fn sent(event_id: &str, account_id: &str, occurred_at: DateTime<Utc>, message_id: &str) -> Notification {
    Notification {
        event_id: event_id.into(),
        account_id: account_id.into(),
        detail_type: "Transaction Recorded".into(),
        occurred_at,
        transaction_id: Some(format!("t-{event_id}")),
        decision: Decision::Sent,
        reason: None,
        emails: vec![NotificationEmail {
            template: "transaction".into(),
            to: Recipient::Account,
            message_id: Some(message_id.into()),
            delivery_state: DeliveryState::Sent,
            delivery_state_at: occurred_at + Duration::seconds(2),
        }],
        decided_at: occurred_at + Duration::seconds(2),
        expires_at: (occurred_at + Duration::days(396)).timestamp(),
    }
}

pub fn suppressed(event_id: &str, account_id: &str, occurred_at: DateTime<Utc>, reason: &str) -> Notification {
    Notification {
        decision: Decision::Suppressed,
        reason: Some(reason.into()),
        emails: Vec::new(),
        ..sent(event_id, account_id, occurred_at, "-")
    }
}

fn audit_record(event_id: &str, account_id: &str, occurred_at: DateTime<Utc>) -> AuditRecord {
    AuditRecord {
        event_id: event_id.into(),
        account_id: Some(account_id.into()),
        occurred_at: Some(occurred_at),
        detail_type: "Large Transaction".into(),
        source: "txn-notify".into(),
        detail: serde_json::json!({ "event_id": event_id }),
        replay_name: None,
        received_at: occurred_at,
        expires_at: (occurred_at + Duration::days(396)).timestamp(),
    }
}

/// Every page of the account's history, `limit` at a time (at most 50 pages).
pub async fn history<L: NotificationLog>(log: &L, account_id: &str, limit: u32) -> Vec<Notification> {
    let mut all = Vec::new();
    let mut after: Option<HistoryPosition> = None;
    for _ in 0..50 {
        let page = log
            .notifications(&NotificationQuery {
                account_id,
                limit,
                after: after.as_ref(),
            })
            .await
            .unwrap();
        assert!(page.notifications.len() <= limit as usize, "a page holds at most limit");
        assert_eq!(page.undecodable, 0);
        all.extend(page.notifications);
        match page.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
    panic!("the history of {account_id} never ended");
}

pub async fn notification_contract<L: NotificationLog + AuditLog>(log: &L, prefix: &str) {
    let account = format!("{prefix}-acc-history");
    let other = format!("{prefix}-acc-other");
    let event = |n: usize| format!("{prefix}-ev-{n:03}");

    // 23 notifications, some at the same instant, some a fraction of a second apart, with
    // the auditor's records (and an alert of each) in between, and another account's.
    let mut expected = Vec::new();
    for n in 0..23 {
        let occurred_at = at() + Duration::minutes((n / 3) as i64) + Duration::milliseconds((n % 2 * 500) as i64);
        let notification = if n % 4 == 0 {
            suppressed(&event(n), &account, occurred_at, "muted_category")
        } else {
            sent(&event(n), &account, occurred_at, &format!("ses-{n}"))
        };
        assert_eq!(
            log.record_notification(&notification).await.unwrap(),
            PutOutcome::Written
        );
        log.put_if_absent(&audit_record(&event(n), &account, occurred_at))
            .await
            .unwrap();
        log.put_if_absent(&audit_record(&format!("{}-alert", event(n)), &account, occurred_at))
            .await
            .unwrap();
        expected.push(notification);
    }
    log.record_notification(&sent(&format!("{prefix}-ev-other"), &other, at(), "ses-other"))
        .await
        .unwrap();

    for limit in [1, 7, 10, 100] {
        let found = history(log, &account, limit).await;
        let ids: Vec<&str> = found.iter().map(|n| n.event_id.as_str()).collect();
        let mut wanted: Vec<&Notification> = expected.iter().collect();
        wanted.sort_by_key(|n| std::cmp::Reverse(n.occurred_at));
        assert_eq!(found.len(), 23, "every notification once, pages of {limit}: {ids:?}");
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 23, "no notification twice, pages of {limit}");
        assert!(
            found.windows(2).all(|w| w[0].occurred_at >= w[1].occurred_at),
            "newest first, fractions of seconds included, pages of {limit}: {ids:?}"
        );
        for notification in &found {
            let original = expected.iter().find(|e| e.event_id == notification.event_id).unwrap();
            assert_eq!(notification, original, "stored as recorded");
        }
    }
    assert_eq!(history(log, &other, 10).await.len(), 1, "accounts are apart");
    assert!(history(log, &format!("{prefix}-acc-nobody"), 10).await.is_empty());

    // A suppressed decision is replaced; a sent one never is.
    let key = format!("{prefix}-ev-replaced");
    let suppressed_first = suppressed(&key, &other, at() + Duration::hours(1), "email_disabled");
    assert_eq!(
        log.record_notification(&suppressed_first).await.unwrap(),
        PutOutcome::Written
    );
    let sent_later = sent(&key, &other, at() + Duration::hours(1), "ses-replay");
    assert_eq!(log.record_notification(&sent_later).await.unwrap(), PutOutcome::Written);
    for again in [
        suppressed(&key, &other, at() + Duration::hours(1), "muted_category"),
        sent(&key, &other, at() + Duration::hours(1), "ses-another"),
    ] {
        assert_eq!(
            log.record_notification(&again).await.unwrap(),
            PutOutcome::AlreadyPresent
        );
    }
    let newest = history(log, &other, 1).await;
    assert_eq!(newest[0], sent_later, "the first sent decision stays");
    assert_eq!(newest.len(), 2);

    // Delivery reports move an email's state forward only, and say what they did.
    let report = |state: DeliveryState, seconds: i64| {
        let key = key.clone();
        async move {
            log.record_delivery(&key, "ses-replay", state, at() + Duration::seconds(seconds))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        report(DeliveryState::Delivered, 10).await,
        DeliveryUpdate::Moved {
            from: DeliveryState::Sent
        }
    );
    assert_eq!(
        report(DeliveryState::Delayed, 11).await,
        DeliveryUpdate::Unchanged {
            current: DeliveryState::Delivered
        },
        "a late delay changes nothing"
    );
    assert_eq!(
        report(DeliveryState::Complained, 12).await,
        DeliveryUpdate::Moved {
            from: DeliveryState::Delivered
        }
    );
    assert_eq!(
        report(DeliveryState::Complained, 13).await,
        DeliveryUpdate::Unchanged {
            current: DeliveryState::Complained
        },
        "the same report twice changes nothing"
    );
    let email = history(log, &other, 10).await[0].emails[0].clone();
    assert_eq!(
        (email.delivery_state, email.delivery_state_at),
        (DeliveryState::Complained, at() + Duration::seconds(12))
    );
    assert_eq!(
        log.record_delivery(&key, "ses-unknown", DeliveryState::Delivered, at())
            .await
            .unwrap(),
        DeliveryUpdate::UnknownEmail
    );
    assert_eq!(
        log.record_delivery(&format!("{prefix}-ev-none"), "ses-1", DeliveryState::Delivered, at())
            .await
            .unwrap(),
        DeliveryUpdate::UnknownEmail
    );
    // Reports racing for one email: it ends at the furthest, whatever the order.
    let racing = format!("{prefix}-ev-racing");
    log.record_notification(&sent(&racing, &other, at(), "ses-race"))
        .await
        .unwrap();
    let race = |state: DeliveryState| {
        let racing = racing.clone();
        async move { log.record_delivery(&racing, "ses-race", state, at()).await.unwrap() }
    };
    let _ = tokio::join!(
        race(DeliveryState::Delayed),
        race(DeliveryState::Bounced),
        race(DeliveryState::Delivered),
        race(DeliveryState::Delayed),
    );
    let raced = history(log, &other, 10)
        .await
        .into_iter()
        .find(|n| n.event_id == racing)
        .unwrap();
    assert_eq!(raced.emails[0].delivery_state, DeliveryState::Bounced);
}
