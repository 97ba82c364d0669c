//! From a transaction and its assessment to the events that report it.

use chrono::{DateTime, Utc};

use crate::domain::event_id;
use crate::domain::events::*;
use crate::domain::{Account, Transaction};
use crate::rules::{Assessment, Finding, FindingDetail, Rules, assess};

/// "Transaction Recorded" first, then one event per finding, in the engine's order.
pub fn events_for_transaction(
    rules: &Rules,
    transaction: &Transaction,
    change: TransactionChange,
    occurred_at: DateTime<Utc>,
    account: Option<&Account>,
    now: DateTime<Utc>,
) -> Vec<BusEvent> {
    let assessment = match change {
        TransactionChange::Inserted => assess(rules, transaction, account, now),
        // A reversal is reported with no alerts.
        TransactionChange::Reversed => Assessment {
            category: crate::rules::engine::categorize(rules, transaction),
            findings: Vec::new(),
        },
    };
    let account_id = transaction.account_id.as_str();
    let alert_ids: Vec<String> = assessment
        .findings
        .iter()
        .map(|finding| {
            event_id::for_transaction(
                finding.alert().detail_type(),
                account_id,
                &transaction.transaction_id,
                change.as_str(),
            )
        })
        .collect();
    let snapshot = TransactionSnapshot::of(transaction);
    let recorded = TransactionRecorded {
        header: Header::new(
            event_id::for_transaction(
                DetailType::TransactionRecorded,
                account_id,
                &transaction.transaction_id,
                change.as_str(),
            ),
            account_id,
            occurred_at,
        ),
        change,
        transaction: snapshot.clone(),
        category: assessment.category,
        severity: assessment.severity(),
        findings: assessment
            .findings
            .iter()
            .zip(&alert_ids)
            .map(|(f, id)| FindingSummary {
                detail_type: f.alert().detail_type(),
                event_id: id.clone(),
                rule: f.rule.clone(),
                severity: f.severity,
            })
            .collect(),
    };
    let mut events = Vec::with_capacity(1 + assessment.findings.len());
    events.push(BusEvent::TransactionRecorded(recorded));
    for (finding, id) in assessment.findings.iter().zip(alert_ids) {
        let alert = TransactionAlert {
            header: Header::new(id, account_id, occurred_at),
            transaction: snapshot.clone(),
            category: assessment.category,
            rule: finding.rule.clone(),
            severity: finding.severity,
        };
        events.push(alert_event(finding, alert));
    }
    events
}

fn alert_event(finding: &Finding, alert: TransactionAlert) -> BusEvent {
    match &finding.detail {
        FindingDetail::LargeTransaction => BusEvent::LargeTransaction(LargeTransaction { alert }),
        FindingDetail::LowBalance { balance_after } => BusEvent::LowBalance(LowBalance {
            alert,
            balance_after: *balance_after,
        }),
        FindingDetail::SpendingLimit { decline_reason } => BusEvent::SpendingLimitReached(SpendingLimitReached {
            alert,
            decline_reason: *decline_reason,
        }),
        FindingDetail::Foreign {
            account_country,
            account_currency,
            reasons,
        } => BusEvent::ForeignTransaction(ForeignTransaction {
            alert,
            account_country: *account_country,
            account_currency: *account_currency,
            reasons: reasons.clone(),
        }),
        FindingDetail::CashWithdrawal => BusEvent::CashWithdrawal(CashWithdrawal { alert }),
        FindingDetail::HighRisk { mcc } => BusEvent::HighRiskMerchant(HighRiskMerchant { alert, mcc: *mcc }),
        FindingDetail::TopUp => BusEvent::TopUpCompleted(TopUpCompleted { alert }),
        FindingDetail::Refund => BusEvent::RefundReceived(RefundReceived { alert }),
    }
}

pub fn account_opened(account: &Account) -> BusEvent {
    BusEvent::AccountOpened(AccountOpened {
        header: Header::new(
            event_id::for_account_opened(&account.account_id),
            &account.account_id,
            account.created_at,
        ),
        account: AccountSnapshot::from(account),
        severity: Severity::Info,
    })
}

/// A change of an account, at the time the account says it changed (else the stream's).
pub fn account_updated(account: &Account, changed: &[String], event_id: &str, recorded_at: DateTime<Utc>) -> BusEvent {
    BusEvent::AccountUpdated(AccountUpdated {
        header: Header::new(
            event_id.to_string(),
            &account.account_id,
            account.updated_at.unwrap_or(recorded_at),
        ),
        changed: changed.to_vec(),
        version: account.version,
        account: AccountSnapshot::from(account),
        severity: AccountUpdated::severity_of(changed),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::*;
    use crate::domain::item::LedgerItem;
    use crate::domain::metadata::Metadata;
    use crate::workload::{LedgerWrite, WorkloadSpec, generate};

    /// Every event of every transaction of a few generated days, with its account.
    fn generated_events(seed: u64) -> Vec<BusEvent> {
        let rules = Rules::builtin();
        let now = DateTime::parse_from_rfc3339("2026-11-21T00:00:00Z").unwrap().to_utc();
        let mut accounts: HashMap<String, Account> = HashMap::new();
        let mut events = Vec::new();
        for write in generate(&WorkloadSpec::new(60, 3_000, seed)) {
            let (item, change) = match write {
                LedgerWrite::Insert { item, .. } => (item, TransactionChange::Inserted),
                LedgerWrite::Modify { new, .. } => (new, TransactionChange::Reversed),
                LedgerWrite::Remove { .. } => continue,
            };
            // The generator writes some bad items too: those are Record Rejected, not here.
            let Ok(decoded) = LedgerItem::decode(&item.into()) else {
                continue;
            };
            match decoded {
                LedgerItem::Account(account) => {
                    accounts.insert(account.account_id.clone(), *account);
                }
                LedgerItem::Transaction(transaction) => {
                    assert_snapshot_as_serde_writes(&transaction);
                    let account = accounts.get(&transaction.account_id);
                    events.extend(events_for_transaction(
                        &rules,
                        &transaction,
                        change,
                        transaction.booked_at,
                        account,
                        now,
                    ));
                }
                LedgerItem::Other { .. } => {}
            }
        }
        events
    }

    /// The snapshot the events share, against the transaction's derived `Serialize`.
    fn assert_snapshot_as_serde_writes(transaction: &Transaction) {
        assert_eq!(
            TransactionSnapshot::of(transaction).json(),
            serde_json::to_string(transaction).unwrap()
        );
    }

    fn assert_written_as_serde_writes(event: &BusEvent) {
        let by_hand = event.detail_json();
        assert_eq!(
            by_hand,
            event.detail_json_by_serde(),
            "{}",
            event.detail_type().as_str()
        );
        serde_json::from_str::<serde_json::Value>(&by_hand).expect("valid JSON");
    }

    #[test]
    fn every_detail_about_a_transaction_is_written_as_its_serialize_writes_it() {
        let mut seen = BTreeSet::new();
        for seed in [1, 7, 11] {
            for event in generated_events(seed) {
                assert_written_as_serde_writes(&event);
                seen.insert(event.detail_type().as_str());
            }
        }
        // Transaction Recorded and every alert the rules can raise.
        let about_a_transaction = std::iter::once(DetailType::TransactionRecorded)
            .chain(crate::rules::engine::Alert::ALL.iter().map(|alert| alert.detail_type()))
            .map(DetailType::as_str);
        for detail_type in about_a_transaction {
            assert!(seen.contains(detail_type), "no {detail_type} among {seen:?}");
        }
    }

    #[test]
    fn unusual_transactions_are_written_as_serde_writes_them() {
        let rules = Rules::builtin();
        let now = DateTime::parse_from_rfc3339("2026-11-21T00:00:00Z").unwrap().to_utc();
        let mut transaction = generate(&WorkloadSpec::new(5, 200, 3))
            .into_iter()
            .find_map(|write| match write {
                LedgerWrite::Insert { item, .. } => match LedgerItem::decode(&item.into()).ok()? {
                    LedgerItem::Transaction(t) if t.merchant.is_some() => Some(*t),
                    _ => None,
                },
                _ => None,
            })
            .unwrap();
        let merchant = transaction.merchant.as_mut().unwrap();
        merchant.name = "Caf\u{e9} \"Zur\" \\ Ecke\n\t\u{1}\u{7f} \u{1F600}".into();
        merchant.city = None;
        transaction.card_last4 = None;
        transaction.balance_after_minor = Some(-999_999_999_999_999);
        transaction.amount.amount_minor = 999_999_999_999_999;
        transaction.transaction_id = "t\u{2028}\u{2029}</script>".into();
        transaction.metadata = Some(
            Metadata::from_json_text(r#"{"z": "last", "a": {"n": 1.50, "big": 123456789012345678901234567890}, "list": [true, null, "x\"y"]}"#)
                .unwrap(),
        );
        let times = [
            "2026-11-20T10:00:00Z",
            "2026-11-20T10:00:00.120Z",
            "2026-11-20T10:00:00.000123Z",
            "2026-11-20T10:00:00.000000007Z",
        ];
        for (at, time) in times.iter().enumerate() {
            transaction.booked_at = DateTime::parse_from_rfc3339(time).unwrap().to_utc();
            transaction.merchant.as_mut().unwrap().city = (at % 2 == 0).then(|| "K\u{f6}ln".to_string());
            assert_snapshot_as_serde_writes(&transaction);
            for change in [TransactionChange::Inserted, TransactionChange::Reversed] {
                for event in events_for_transaction(&rules, &transaction, change, transaction.booked_at, None, now) {
                    assert_written_as_serde_writes(&event);
                }
            }
        }
        // A year past 9999 takes chrono's own formatting.
        transaction.booked_at =
            DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z").unwrap().to_utc() + chrono::Duration::days(400);
        transaction.merchant = None;
        transaction.metadata = None;
        assert_snapshot_as_serde_writes(&transaction);
        for event in events_for_transaction(&rules, &transaction, TransactionChange::Inserted, now, None, now) {
            assert_written_as_serde_writes(&event);
        }
    }
}
