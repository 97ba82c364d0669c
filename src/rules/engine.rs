//! The rule engine: pure and deterministic.
//! (transaction, account profile or none, rules, now) → (category, findings).

use chrono::{DateTime, Utc};

use super::{Rules, Thresholds};
use crate::domain::account::{Account, AccountThresholds};
use crate::domain::events::{DetailType, ForeignReason, RuleFired, Severity, ThresholdSource};
use crate::domain::fields::CountryCode;
use crate::domain::string_enum;
use crate::domain::transaction::{DeclineReason, Mcc, Transaction, TransactionStatus};
use crate::domain::{Category, Currency, Money};

string_enum! {
    /// The alerts the engine can raise; each is published as its own detail-type.
    Alert {
        LargeTransaction = "large_transaction",
        LowBalance = "low_balance",
        SpendingLimit = "spending_limit",
        ForeignTransaction = "foreign_transaction",
        CashWithdrawal = "cash_withdrawal",
        HighRiskMerchant = "high_risk_merchant",
        TopUp = "top_up",
        Refund = "refund",
    }
}

impl Alert {
    pub fn detail_type(self) -> DetailType {
        match self {
            Alert::LargeTransaction => DetailType::LargeTransaction,
            Alert::LowBalance => DetailType::LowBalance,
            Alert::SpendingLimit => DetailType::SpendingLimitReached,
            Alert::ForeignTransaction => DetailType::ForeignTransaction,
            Alert::CashWithdrawal => DetailType::CashWithdrawal,
            Alert::HighRiskMerchant => DetailType::HighRiskMerchant,
            Alert::TopUp => DetailType::TopUpCompleted,
            Alert::Refund => DetailType::RefundReceived,
        }
    }
}

/// An alert that fired, with what it adds to the transaction it is about.
#[derive(Clone, Debug, PartialEq)]
pub enum FindingDetail {
    LargeTransaction,
    LowBalance {
        balance_after: Money,
    },
    SpendingLimit {
        decline_reason: DeclineReason,
    },
    Foreign {
        account_country: CountryCode,
        account_currency: Currency,
        reasons: Vec<ForeignReason>,
    },
    CashWithdrawal,
    HighRisk {
        mcc: Option<Mcc>,
    },
    TopUp,
    Refund,
}

impl FindingDetail {
    pub fn alert(&self) -> Alert {
        match self {
            FindingDetail::LargeTransaction => Alert::LargeTransaction,
            FindingDetail::LowBalance { .. } => Alert::LowBalance,
            FindingDetail::SpendingLimit { .. } => Alert::SpendingLimit,
            FindingDetail::Foreign { .. } => Alert::ForeignTransaction,
            FindingDetail::CashWithdrawal => Alert::CashWithdrawal,
            FindingDetail::HighRisk { .. } => Alert::HighRiskMerchant,
            FindingDetail::TopUp => Alert::TopUp,
            FindingDetail::Refund => Alert::Refund,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub rule: RuleFired,
    pub severity: Severity,
    pub detail: FindingDetail,
}

impl Finding {
    pub fn alert(&self) -> Alert {
        self.detail.alert()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    pub category: Category,
    /// In a fixed order: the order of `Alert::ALL`.
    pub findings: Vec<Finding>,
}

impl Assessment {
    /// The most severe finding's severity, or info when nothing fired.
    pub fn severity(&self) -> Severity {
        self.findings.iter().map(|f| f.severity).max().unwrap_or(Severity::Info)
    }
}

#[derive(Clone, Copy)]
enum Metric {
    LargeAmount,
    LowBalance,
    CashWithdrawal,
}

impl Metric {
    fn of(self, t: &Thresholds) -> Option<i64> {
        match self {
            Metric::LargeAmount => t.large_amount_minor,
            Metric::LowBalance => t.low_balance_minor,
            Metric::CashWithdrawal => t.cash_withdrawal_minor,
        }
    }

    fn of_account(self, t: &AccountThresholds) -> Option<i64> {
        match self {
            Metric::LargeAmount => t.large_amount_minor,
            Metric::LowBalance => t.low_balance_minor,
            Metric::CashWithdrawal => t.cash_withdrawal_minor,
        }
    }
}

/// The category: by kind first, then merchant-name pattern, then MCC, then the default.
pub fn categorize(rules: &Rules, txn: &Transaction) -> Category {
    if let Some(category) = rules.category_for_kind(txn.kind) {
        return category;
    }
    if let Some(merchant) = &txn.merchant {
        if let Some(category) = rules.category_for_merchant_name(&merchant.name) {
            return category;
        }
        if let Some(category) = rules.category_for_mcc(merchant.mcc) {
            return category;
        }
    }
    rules.default_category()
}

/// The most specific threshold: the account's (for a transaction in the account's currency),
/// then the category's, then the currency's. None: the rule is skipped.
fn threshold(
    rules: &Rules,
    txn: &Transaction,
    account: Option<&Account>,
    category: Category,
    metric: Metric,
) -> Option<(Money, ThresholdSource)> {
    let currency = txn.currency();
    let account_value = account
        .filter(|a| a.currency == currency)
        .and_then(|a| metric.of_account(&a.thresholds))
        .map(|v| (v, ThresholdSource::Account));
    account_value
        .or_else(|| {
            metric
                .of(&rules.category_thresholds(category, currency))
                .map(|v| (v, ThresholdSource::Category))
        })
        .or_else(|| {
            metric
                .of(&rules.currency_thresholds(currency))
                .map(|v| (v, ThresholdSource::Currency))
        })
        .map(|(v, source)| (Money::new(v, currency), source))
}

pub fn assess(rules: &Rules, txn: &Transaction, account: Option<&Account>, now: DateTime<Utc>) -> Assessment {
    let category = categorize(rules, txn);
    let mut assessment = Assessment {
        category,
        findings: Vec::new(),
    };
    // A reversal is reported, never alerted on; a back-filled old transaction alarms no one.
    if txn.status == TransactionStatus::Reversed
        || rules
            .max_alert_age
            .is_some_and(|max_age| now.signed_duration_since(txn.booked_at) > max_age)
    {
        return assessment;
    }
    let approved = txn.status == TransactionStatus::Approved;
    let declined = txn.status == TransactionStatus::Declined;
    let findings = &mut assessment.findings;
    let mut fire = |threshold: Option<(Money, ThresholdSource)>, detail: FindingDetail| {
        let alert = detail.alert();
        findings.push(Finding {
            rule: RuleFired {
                id: alert.as_str(),
                threshold: threshold.map(|(m, _)| m),
                threshold_source: threshold.map(|(_, s)| s),
            },
            severity: rules.alert(alert).severity,
            detail,
        });
    };

    let rule = rules.alert(Alert::LargeTransaction);
    if approved
        && rule.applies_to_kind(txn.kind)
        && let Some(t) = threshold(rules, txn, account, category, Metric::LargeAmount)
        && txn.amount.amount_minor >= t.0.amount_minor
    {
        fire(Some(t), FindingDetail::LargeTransaction);
    }

    let rule = rules.alert(Alert::LowBalance);
    if rule.applies_to_kind(txn.kind)
        && let Some(balance_after) = txn.balance_after()
        && let Some(t) = threshold(rules, txn, account, category, Metric::LowBalance)
        && balance_after.amount_minor < t.0.amount_minor
    {
        fire(Some(t), FindingDetail::LowBalance { balance_after });
    }

    let rule = rules.alert(Alert::SpendingLimit);
    if declined
        && rule.applies_to_kind(txn.kind)
        && let Some(reason) = txn.decline_reason
        && rule.decline_reasons.contains(&reason)
    {
        fire(None, FindingDetail::SpendingLimit { decline_reason: reason });
    }

    let rule = rules.alert(Alert::ForeignTransaction);
    if rule.applies_to_kind(txn.kind)
        && let Some(account) = account
    {
        let mut reasons = Vec::new();
        if txn.merchant.as_ref().is_some_and(|m| m.country != account.country) {
            reasons.push(ForeignReason::Country);
        }
        if txn.currency() != account.currency {
            reasons.push(ForeignReason::Currency);
        }
        if !reasons.is_empty() {
            fire(
                None,
                FindingDetail::Foreign {
                    account_country: account.country,
                    account_currency: account.currency,
                    reasons,
                },
            );
        }
    }

    let rule = rules.alert(Alert::CashWithdrawal);
    if approved
        && rule.applies_to_kind(txn.kind)
        && let Some(t) = threshold(rules, txn, account, category, Metric::CashWithdrawal)
        && txn.amount.amount_minor >= t.0.amount_minor
    {
        fire(Some(t), FindingDetail::CashWithdrawal);
    }

    let rule = rules.alert(Alert::HighRiskMerchant);
    let mcc = txn.merchant.as_ref().map(|m| m.mcc);
    if rule.applies_to_kind(txn.kind)
        && (rule.categories.contains(&category) || mcc.is_some_and(|m| rule.mcc.contains(&m)))
    {
        fire(None, FindingDetail::HighRisk { mcc });
    }

    for detail in [FindingDetail::TopUp, FindingDetail::Refund] {
        if approved && rules.alert(detail.alert()).applies_to_kind(txn.kind) {
            fire(None, detail);
        }
    }
    assessment
}
