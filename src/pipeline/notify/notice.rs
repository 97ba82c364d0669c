//! What the notifier reads from an event's detail. These are views of the published contract
//! (`schemas/*.schema.json`), not the producer's types: unknown fields are ignored, so a
//! newer producer does not break an older notifier.

use crate::pipeline::consumer::MessageError;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::domain::AccountStatus;
use crate::domain::category::Category;
use crate::domain::events::{DetailType, Severity, TransactionChange};
use crate::domain::money::{Currency, Money, MoneySum};
use crate::domain::transaction::{DeclineReason, TransactionKind, TransactionStatus};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MerchantView {
    pub name: String,
    pub country: String,
    #[serde(default)]
    pub city: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TransactionView {
    pub transaction_id: String,
    pub kind: TransactionKind,
    pub status: TransactionStatus,
    #[serde(default)]
    pub decline_reason: Option<DeclineReason>,
    pub amount_minor: i64,
    pub currency: Currency,
    #[serde(default)]
    pub balance_after_minor: Option<i64>,
    #[serde(default)]
    pub merchant: Option<MerchantView>,
    #[serde(default)]
    pub card_last4: Option<String>,
    pub booked_at: DateTime<Utc>,
}

impl TransactionView {
    pub fn amount(&self) -> Money {
        Money::new(self.amount_minor, self.currency)
    }

    pub fn balance_after(&self) -> Option<Money> {
        self.balance_after_minor.map(|minor| Money::new(minor, self.currency))
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RuleView {
    pub id: String,
    #[serde(default)]
    pub threshold: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FindingView {
    pub detail_type: DetailType,
    pub event_id: String,
    pub severity: Severity,
    pub rule: RuleView,
}

/// A Transaction Recorded detail.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RecordedNotice {
    pub event_id: String,
    pub account_id: String,
    pub occurred_at: DateTime<Utc>,
    pub change: TransactionChange,
    pub transaction: TransactionView,
    pub category: Category,
    pub severity: Severity,
    #[serde(default)]
    pub findings: Vec<FindingView>,
}

/// An Account Opened detail: the profile itself is loaded from the ledger.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OpenedNotice {
    pub event_id: String,
    pub account_id: String,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UpdatedAccountView {
    pub status: AccountStatus,
}

/// An Account Updated detail: what changed (names only) and the account's status after it;
/// the addresses are read from the profile.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UpdatedNotice {
    pub event_id: String,
    pub account_id: String,
    pub occurred_at: DateTime<Utc>,
    pub changed: Vec<String>,
    pub version: u64,
    pub account: UpdatedAccountView,
}

impl UpdatedNotice {
    pub fn changed(&self, field: &str) -> bool {
        self.changed.iter().any(|name| name == field)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WeekView {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CategoryTotalView {
    pub category: Category,
    pub total: MoneySum,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StatementLineView {
    pub booked_at: DateTime<Utc>,
    pub kind: TransactionKind,
    pub status: TransactionStatus,
    pub amount: Money,
    pub category: Category,
    #[serde(default)]
    pub merchant_name: Option<String>,
}

/// A Weekly Statement detail.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StatementNotice {
    pub event_id: String,
    pub account_id: String,
    pub occurred_at: DateTime<Utc>,
    pub week: WeekView,
    pub totals_by_category: Vec<CategoryTotalView>,
    pub money_in: Vec<MoneySum>,
    pub money_out: Vec<MoneySum>,
    pub transaction_count: u64,
    pub transactions: Vec<StatementLineView>,
    pub truncated: bool,
}

/// An event the notifier emails from (docs/events.md: alerts are not emailed a second time).
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Transaction(Box<RecordedNotice>),
    Welcome(OpenedNotice),
    Statement(Box<StatementNotice>),
    AccountUpdated(UpdatedNotice),
}

impl Notice {
    /// Ok(None): a detail-type the notifier does not email. Err: the detail does not have the
    /// shape its schema promises (a permanent fault: the message goes to the DLQ).
    pub fn of(detail_type: &str, detail: &str) -> Result<Option<Notice>, MessageError> {
        fn read<T: serde::de::DeserializeOwned>(detail: &str) -> Result<T, MessageError> {
            crate::pipeline::consumer::read_detail(detail).map_err(|mismatch| MessageError::BadDetail {
                path: mismatch.path,
                reason: mismatch.reason,
            })
        }
        Ok(match DetailType::parse(detail_type) {
            Some(DetailType::TransactionRecorded) => Some(Notice::Transaction(Box::new(read(detail)?))),
            Some(DetailType::AccountOpened) => Some(Notice::Welcome(read(detail)?)),
            Some(DetailType::WeeklyStatement) => Some(Notice::Statement(Box::new(read(detail)?))),
            Some(DetailType::AccountUpdated) => Some(Notice::AccountUpdated(read(detail)?)),
            _ => None,
        })
    }

    pub fn account_id(&self) -> &str {
        match self {
            Notice::Transaction(n) => &n.account_id,
            Notice::Welcome(n) => &n.account_id,
            Notice::Statement(n) => &n.account_id,
            Notice::AccountUpdated(n) => &n.account_id,
        }
    }

    pub fn event_id(&self) -> &str {
        match self {
            Notice::Transaction(n) => &n.event_id,
            Notice::Welcome(n) => &n.event_id,
            Notice::Statement(n) => &n.event_id,
            Notice::AccountUpdated(n) => &n.event_id,
        }
    }

    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            Notice::Transaction(n) => n.occurred_at,
            Notice::Welcome(n) => n.occurred_at,
            Notice::Statement(n) => n.occurred_at,
            Notice::AccountUpdated(n) => n.occurred_at,
        }
    }

    pub fn detail_type(&self) -> DetailType {
        match self {
            Notice::Transaction(_) => DetailType::TransactionRecorded,
            Notice::Welcome(_) => DetailType::AccountOpened,
            Notice::Statement(_) => DetailType::WeeklyStatement,
            Notice::AccountUpdated(_) => DetailType::AccountUpdated,
        }
    }

    /// The severity of what an email about it carries.
    pub fn severity(&self) -> Severity {
        match self {
            Notice::Transaction(n) => n.severity,
            Notice::AccountUpdated(n) => crate::domain::events::AccountUpdated::severity_of(&n.changed),
            Notice::Welcome(_) | Notice::Statement(_) => Severity::Info,
        }
    }

    /// Its alerts of warning or above (a Notification Undeliverable lists them).
    pub fn serious_findings(&self) -> Vec<crate::domain::events::UndeliveredFinding> {
        let Notice::Transaction(n) = self else {
            return Vec::new();
        };
        n.findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| crate::domain::events::UndeliveredFinding {
                detail_type: f.detail_type,
                event_id: f.event_id.clone(),
                severity: f.severity,
            })
            .collect()
    }

    pub fn transaction_id(&self) -> Option<&str> {
        match self {
            Notice::Transaction(n) => Some(&n.transaction.transaction_id),
            _ => None,
        }
    }
}
