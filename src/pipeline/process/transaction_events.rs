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
