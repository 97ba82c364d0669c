//! The email policy of docs/consumers.md, as a pure function of the notice and the profile.
//!
//! | notice | preference | email |
//! |---|---|---|
//! | any | the account is `closed` | suppressed (`account_closed`) |
//! | Transaction Recorded | `email_enabled` false, top finding below critical | suppressed (`email_disabled`) |
//! | Transaction Recorded | category muted, top finding below warning | suppressed (`muted_category`) |
//! | Transaction Recorded | amount under `min_amount_minor` (same currency), top finding below warning | suppressed (`under_min_amount`) |
//! | Transaction Recorded | otherwise | one email, shaped by the most severe finding |
//! | Account Opened | `email_enabled` false | suppressed (`email_disabled`) |
//! | Account Opened | otherwise | the welcome email |
//! | Weekly Statement | `email_enabled` false | suppressed (`email_disabled`) |
//! | Weekly Statement | `statement_enabled` false (unsubscribed) | suppressed (`statement_disabled`) |
//! | Weekly Statement | otherwise | the statement |
//! | Account Updated, `email` changed | any but `closed` | a security notice to the previous address (`address_changed`) and a confirmation to the new one (`address_confirmed`) |
//! | Account Updated, `status` to `closed` | any | the closure confirmation (`account_closed`), the one email a closed account gets |
//! | Account Updated, `status` to `frozen` | any but `closed` | a notice (`account_frozen`) |
//! | Account Updated, anything else | — | nothing, and no notification |
//! | any email of the above | its address is the one `email_status` marks undeliverable | not sent; when none is left, suppressed (`address_undeliverable`) |
//!
//! A `frozen` account is emailed as an active one: its alerts matter all the more. The
//! Account Updated emails are service messages about the account's security: neither
//! `email_enabled` nor a muted category stops them.
//!
//! Ties between findings of one severity go to the first in this order: spending limit, high
//! risk, large, low balance, foreign, cash, refund, top-up. A reversal has no findings and
//! takes the `reversed` shape.

use serde::Serialize;

use crate::domain::events::{DetailType, Severity, TransactionChange};
use crate::domain::{Account, AccountStatus, Recipient};

use super::notice::{FindingView, Notice, RecordedNotice, UpdatedNotice};

/// What a transaction email is about; it picks the subject and the body's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    SpendingLimit,
    HighRisk,
    Large,
    LowBalance,
    Foreign,
    Cash,
    Refund,
    TopUp,
    Plain,
    Reversed,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::SpendingLimit => "spending_limit",
            Shape::HighRisk => "high_risk",
            Shape::Large => "large",
            Shape::LowBalance => "low_balance",
            Shape::Foreign => "foreign",
            Shape::Cash => "cash",
            Shape::Refund => "refund",
            Shape::TopUp => "top_up",
            Shape::Plain => "plain",
            Shape::Reversed => "reversed",
        }
    }

    fn of_finding(detail_type: DetailType) -> Shape {
        match detail_type {
            DetailType::SpendingLimitReached => Shape::SpendingLimit,
            DetailType::HighRiskMerchant => Shape::HighRisk,
            DetailType::LargeTransaction => Shape::Large,
            DetailType::LowBalance => Shape::LowBalance,
            DetailType::ForeignTransaction => Shape::Foreign,
            DetailType::CashWithdrawal => Shape::Cash,
            DetailType::RefundReceived => Shape::Refund,
            DetailType::TopUpCompleted => Shape::TopUp,
            _ => Shape::Plain,
        }
    }
}

/// The finding that shapes the email: the most severe, ties broken by `Shape`'s order.
pub fn shaping_finding(notice: &RecordedNotice) -> Option<&FindingView> {
    notice
        .findings
        .iter()
        .min_by_key(|f| (std::cmp::Reverse(f.severity), Shape::of_finding(f.detail_type)))
}

pub fn shape_of(notice: &RecordedNotice) -> Shape {
    if notice.change == TransactionChange::Reversed {
        return Shape::Reversed;
    }
    shaping_finding(notice).map_or(Shape::Plain, |f| Shape::of_finding(f.detail_type))
}

/// Why no email was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Suppression {
    AccountClosed,
    EmailDisabled,
    MutedCategory,
    UnderMinAmount,
    StatementDisabled,
    /// SES's feedback marked the address undeliverable (a permanent bounce, a complaint).
    AddressUndeliverable,
}

impl Suppression {
    pub fn as_str(self) -> &'static str {
        match self {
            Suppression::AccountClosed => "account_closed",
            Suppression::EmailDisabled => "email_disabled",
            Suppression::MutedCategory => "muted_category",
            Suppression::UnderMinAmount => "under_min_amount",
            Suppression::StatementDisabled => "statement_disabled",
            Suppression::AddressUndeliverable => "address_undeliverable",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    Transaction(Shape),
    Welcome,
    Statement,
    /// To the previous address: the address for alerts was changed.
    AddressChanged,
    /// To the new address: alerts now come here.
    AddressConfirmed,
    AccountClosed,
    AccountFrozen,
}

impl EmailKind {
    /// The template family, and the SES tag value.
    pub fn template(self) -> &'static str {
        match self {
            EmailKind::Transaction(_) => "transaction",
            EmailKind::Welcome => "welcome",
            EmailKind::Statement => "statement",
            EmailKind::AddressChanged => "address_changed",
            EmailKind::AddressConfirmed => "address_confirmed",
            EmailKind::AccountClosed => "account_closed",
            EmailKind::AccountFrozen => "account_frozen",
        }
    }

    /// The detail-type the email answers, as an SES message tag value (letters, digits,
    /// `_ - . @` only, so the space becomes `_`).
    pub fn detail_type_tag(self) -> &'static str {
        match self {
            EmailKind::Transaction(_) => "Transaction_Recorded",
            EmailKind::Welcome => "Account_Opened",
            EmailKind::Statement => "Weekly_Statement",
            EmailKind::AddressChanged
            | EmailKind::AddressConfirmed
            | EmailKind::AccountClosed
            | EmailKind::AccountFrozen => "Account_Updated",
        }
    }

    /// Which of the account's addresses it goes to.
    pub fn recipient(self) -> Recipient {
        match self {
            EmailKind::AddressChanged => Recipient::PreviousAddress,
            _ => Recipient::Account,
        }
    }
}

/// What the notifier does with a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Not something the holder is emailed about (and no notification is recorded).
    NotEmailed,
    Suppressed(Suppression),
    /// These emails, in this order.
    Send(Vec<EmailKind>),
}

pub fn plan(notice: &Notice, account: &Account) -> Plan {
    let planned = match notice {
        Notice::AccountUpdated(updated) => plan_account_updated(updated, account),
        _ => match single_email(notice, account) {
            Ok(kind) => Plan::Send(vec![kind]),
            Err(reason) => Plan::Suppressed(reason),
        },
    };
    let Plan::Send(kinds) = planned else {
        return planned;
    };
    // Nothing goes to an address SES reported undeliverable.
    let deliverable: Vec<EmailKind> = kinds
        .into_iter()
        .filter(|kind| !is_undeliverable(account, kind.recipient()))
        .collect();
    if deliverable.is_empty() {
        Plan::Suppressed(Suppression::AddressUndeliverable)
    } else {
        Plan::Send(deliverable)
    }
}

/// Whether the address an email would go to is the one `email_status` marks undeliverable.
fn is_undeliverable(account: &Account, recipient: Recipient) -> bool {
    let Some(status) = &account.email_status else {
        return false;
    };
    let address = match recipient {
        Recipient::Account => Some(account.email.expose()),
        Recipient::PreviousAddress => account.previous_email.as_ref().map(|a| a.expose()),
    };
    address.is_some_and(|address| status.marks(address))
}

fn plan_account_updated(updated: &UpdatedNotice, account: &Account) -> Plan {
    let mut kinds = Vec::new();
    if updated.changed("email") {
        // An item written without the API may lack the old address: then only the new one
        // hears of it.
        if account.previous_email.is_some() {
            kinds.push(EmailKind::AddressChanged);
        }
        kinds.push(EmailKind::AddressConfirmed);
    }
    if updated.changed("status") {
        match updated.account.status {
            AccountStatus::Closed => kinds.push(EmailKind::AccountClosed),
            AccountStatus::Frozen => kinds.push(EmailKind::AccountFrozen),
            AccountStatus::Active => {}
        }
    }
    if kinds.is_empty() {
        return Plan::NotEmailed;
    }
    if account.status == AccountStatus::Closed && !kinds.contains(&EmailKind::AccountClosed) {
        return Plan::Suppressed(Suppression::AccountClosed);
    }
    Plan::Send(kinds)
}

/// The one email of a Transaction Recorded, Account Opened or Weekly Statement, or why none.
fn single_email(notice: &Notice, account: &Account) -> Result<EmailKind, Suppression> {
    let preferences = &account.preferences;
    if account.status == AccountStatus::Closed {
        return Err(Suppression::AccountClosed);
    }
    match notice {
        // Planned by `plan_account_updated`; never asked here.
        Notice::AccountUpdated(_) => Err(Suppression::AccountClosed),
        Notice::Transaction(recorded) => {
            let top = recorded
                .findings
                .iter()
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Info);
            if !preferences.email_enabled && top < Severity::Critical {
                return Err(Suppression::EmailDisabled);
            }
            if top < Severity::Warning {
                if preferences
                    .muted_categories
                    .iter()
                    .any(|muted| muted == recorded.category.as_str())
                {
                    return Err(Suppression::MutedCategory);
                }
                // The minimum is in the account's currency: an amount in another one is not
                // compared (converting would need a rate the notifier does not have).
                if let Some(minimum) = preferences.min_amount_minor
                    && recorded.transaction.currency == account.currency
                    && recorded.transaction.amount_minor < minimum
                {
                    return Err(Suppression::UnderMinAmount);
                }
            }
            Ok(EmailKind::Transaction(shape_of(recorded)))
        }
        Notice::Welcome(_) if !preferences.email_enabled => Err(Suppression::EmailDisabled),
        Notice::Welcome(_) => Ok(EmailKind::Welcome),
        Notice::Statement(_) if !preferences.email_enabled => Err(Suppression::EmailDisabled),
        Notice::Statement(_) if !preferences.statement_enabled => Err(Suppression::StatementDisabled),
        Notice::Statement(_) => Ok(EmailKind::Statement),
    }
}
