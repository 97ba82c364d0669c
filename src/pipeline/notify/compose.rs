//! From a notice and a profile to an `Email`: the template contexts (money and dates already
//! written for the account's locale and time zone), the rendering, the headers and the tags.

use serde::Serialize;

use crate::domain::Account;
use crate::domain::Recipient;
use crate::domain::account::Locale;
use crate::domain::email::{Email, ExtraHeader, HeaderError, HeaderText, Mailbox, Tag};
use crate::domain::events::{AccountUpdated, Severity};
use crate::domain::money::{Money, MoneySum};
use crate::domain::money_display::{format_money, format_sum};
use crate::domain::text::strip_invisible_format;
use crate::domain::transaction::TransactionStatus;

use super::labels;
use super::notice::{RecordedNotice, StatementNotice, UpdatedNotice};
use super::policy::{EmailKind, Shape, shaping_finding};
use super::templates::{RenderError, Templates};

#[derive(Debug, Serialize)]
struct MerchantContext<'a> {
    name: &'a str,
    city: Option<&'a str>,
    country: &'a str,
}

#[derive(Debug, Serialize)]
pub struct TransactionContext<'a> {
    shape: &'static str,
    severity: &'static str,
    first_name: &'a str,
    kind: &'static str,
    status: &'static str,
    decline_reason: Option<&'static str>,
    amount: String,
    merchant: Option<MerchantContext<'a>>,
    card_last4: Option<&'a str>,
    booked_at: String,
    balance_after: Option<String>,
    threshold: Option<String>,
    category: &'static str,
    transaction_id: &'a str,
}

pub fn transaction_context<'a>(
    notice: &'a RecordedNotice,
    account: &'a Account,
    shape: Shape,
) -> TransactionContext<'a> {
    let locale = account.locale;
    let money = |m: Money| format_money(m, locale);
    let txn = &notice.transaction;
    let shaping = shaping_finding(notice);
    TransactionContext {
        shape: shape.as_str(),
        severity: shaping.map_or("info", |f| f.severity.as_str()),
        first_name: account.holder.first_name.expose(),
        kind: labels::kind(txn.kind, locale),
        status: txn.status.as_str(),
        decline_reason: txn.decline_reason.map(|r| labels::decline_reason(r, locale)),
        amount: money(txn.amount()),
        merchant: txn.merchant.as_ref().map(|m| MerchantContext {
            name: &m.name,
            city: m.city.as_deref(),
            country: &m.country,
        }),
        card_last4: txn.card_last4.as_deref(),
        booked_at: labels::date_time(txn.booked_at, account.zone(), locale),
        balance_after: txn.balance_after().map(money),
        threshold: shaping.and_then(|f| f.rule.threshold).map(money),
        category: labels::category(notice.category, locale),
        transaction_id: &txn.transaction_id,
    }
}

#[derive(Debug, Serialize)]
pub struct WelcomeContext<'a> {
    first_name: &'a str,
    account_id: &'a str,
    currency: &'static str,
    created_at: String,
    large_amount: Option<String>,
    low_balance: Option<String>,
    min_amount: Option<String>,
    muted: Vec<String>,
}

pub fn welcome_context(account: &Account) -> WelcomeContext<'_> {
    let locale = account.locale;
    let in_account_currency = |minor: i64| format_money(Money::new(minor, account.currency), locale);
    let zone = account.zone();
    WelcomeContext {
        first_name: account.holder.first_name.expose(),
        account_id: &account.account_id,
        currency: account.currency.code(),
        created_at: labels::date(account.created_at.with_timezone(&zone).date_naive(), locale),
        large_amount: account.thresholds.large_amount_minor.map(in_account_currency),
        low_balance: account.thresholds.low_balance_minor.map(in_account_currency),
        min_amount: account.preferences.min_amount_minor.map(in_account_currency),
        muted: account
            .preferences
            .muted_categories
            .iter()
            .map(|name| match crate::domain::Category::parse(name) {
                Some(category) => labels::category(category, locale).to_string(),
                None => name.clone(),
            })
            .collect(),
    }
}

#[derive(Debug, Serialize)]
struct StatementLineContext {
    date: String,
    description: String,
    category: &'static str,
    /// Signed: "+" for money in, "-" for money out.
    amount: String,
    /// Declined or cancelled lines say so; they count in no total.
    note: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct CategoryTotalContext {
    category: &'static str,
    amount: String,
}

#[derive(Debug, Serialize)]
pub struct StatementContext<'a> {
    first_name: &'a str,
    week_first: String,
    week_last: String,
    count: u64,
    listed: usize,
    truncated: bool,
    lines: Vec<StatementLineContext>,
    totals: Vec<CategoryTotalContext>,
    money_in: Vec<String>,
    money_out: Vec<String>,
    /// The page that stops the weekly statement (none: no link).
    unsubscribe_url: Option<&'a str>,
}

/// "+2 500,00 €" for money in, "-45,99 €" for money out.
fn signed(money: impl Into<MoneySum>, locale: Locale) -> String {
    let money = money.into();
    let text = format_sum(money, locale);
    if money.amount_minor > 0 {
        format!("+{text}")
    } else {
        text
    }
}

pub fn statement_context<'a>(
    notice: &'a StatementNotice,
    account: &'a Account,
    unsubscribe_url: Option<&'a str>,
) -> StatementContext<'a> {
    let locale = account.locale;
    // The week is in the zone it was cut in, which the statement names.
    let zone = crate::domain::account::zone_or_default(Some(&notice.week.time_zone));
    let last_day = notice.week.end.pred_opt().unwrap_or(notice.week.end);
    let lines = notice
        .transactions
        .iter()
        .map(|line| {
            let amount = if line.kind.is_incoming() {
                line.amount
            } else {
                Money::new(-line.amount.amount_minor, line.amount.currency)
            };
            StatementLineContext {
                date: labels::short_date(line.booked_at, zone, locale),
                description: line
                    .merchant_name
                    .clone()
                    .unwrap_or_else(|| labels::kind(line.kind, locale).to_string()),
                category: labels::category(line.category, locale),
                amount: signed(amount, locale),
                note: match line.status {
                    TransactionStatus::Approved => None,
                    TransactionStatus::Declined => Some(match locale {
                        Locale::Fr => "refusée",
                        Locale::En => "declined",
                    }),
                    TransactionStatus::Reversed => Some(match locale {
                        Locale::Fr => "annulée",
                        Locale::En => "cancelled",
                    }),
                },
            }
        })
        .collect();
    StatementContext {
        first_name: account.holder.first_name.expose(),
        week_first: labels::date(notice.week.start, locale),
        week_last: labels::date(last_day, locale),
        count: notice.transaction_count,
        listed: notice.transactions.len(),
        truncated: notice.truncated,
        lines,
        totals: notice
            .totals_by_category
            .iter()
            .map(|t| CategoryTotalContext {
                category: labels::category(t.category, locale),
                amount: signed(t.total, locale),
            })
            .collect(),
        money_in: notice.money_in.iter().map(|m| format_sum(*m, locale)).collect(),
        money_out: notice.money_out.iter().map(|m| format_sum(*m, locale)).collect(),
        unsubscribe_url,
    }
}

/// An Account Updated email: when the change was made, in the holder's zone and words.
#[derive(Debug, Serialize)]
pub struct AccountChangeContext<'a> {
    first_name: &'a str,
    account_id: &'a str,
    changed_at: String,
}

pub fn account_change_context<'a>(notice: &UpdatedNotice, account: &'a Account) -> AccountChangeContext<'a> {
    AccountChangeContext {
        first_name: account.holder.first_name.expose(),
        account_id: &account.account_id,
        changed_at: labels::date_time(notice.occurred_at, account.zone(), account.locale),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The template failed: a bug of ours, and the same on every delivery.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The profile's address is not one we can send to.
    #[error("the recipient address: {0}")]
    Address(HeaderError),
    #[error("the subject: {0}")]
    Subject(HeaderError),
}

/// What to render: the kind decides which of the notice's parts is read.
pub enum Content<'a> {
    Transaction(&'a RecordedNotice, Shape),
    Welcome,
    /// With the one-click unsubscribe URL, when there is one.
    Statement(&'a StatementNotice, Option<&'a str>),
    AccountUpdated(&'a UpdatedNotice),
}

impl Content<'_> {
    /// The severity of what the email carries.
    pub fn severity(&self) -> Severity {
        match self {
            Content::Transaction(notice, _) => notice.severity,
            Content::AccountUpdated(notice) => AccountUpdated::severity_of(&notice.changed),
            Content::Welcome | Content::Statement(..) => Severity::Info,
        }
    }
}

/// The recipient: the holder's name as display name, left out when it could not be a header
/// (a line break in a name must neither inject a header nor cost the holder the email).
pub fn recipient(account: &Account, to: Recipient) -> Result<Mailbox, HeaderError> {
    let name = format!(
        "{} {}",
        account.holder.first_name.expose(),
        account.holder.last_name.expose()
    );
    let name = strip_invisible_format(&name);
    let address = match to {
        Recipient::Account => account.email.expose(),
        Recipient::PreviousAddress => account
            .previous_email
            .as_ref()
            .map(|previous| previous.expose().as_str())
            .ok_or(HeaderError::BadAddress)?,
    };
    match Mailbox::new(Some(name.trim()), address) {
        Ok(mailbox) => Ok(mailbox),
        Err(HeaderError::LineBreak | HeaderError::ControlCharacter) if HeaderText::new(address).is_ok() => {
            tracing::warn!(
                account_id = %account.account_id,
                "the holder's name cannot be a display name (line break or control character); sending without one"
            );
            Mailbox::new(None, address)
        }
        Err(error) => Err(error),
    }
}

pub fn compose(
    templates: &Templates,
    from: &Mailbox,
    kind: EmailKind,
    content: Content<'_>,
    account: &Account,
    event_id: &str,
) -> Result<Email, ComposeError> {
    let to = recipient(account, kind.recipient()).map_err(ComposeError::Address)?;
    let severity = content.severity();
    let transaction_id = match &content {
        Content::Transaction(notice, _) => Some(notice.transaction.transaction_id.clone()),
        _ => None,
    };
    let mut headers = Vec::new();
    let rendered = match content {
        Content::Transaction(notice, shape) => templates.render(
            kind.template(),
            account.locale,
            &transaction_context(notice, account, shape),
        )?,
        Content::Welcome => templates.render(kind.template(), account.locale, &welcome_context(account))?,
        Content::Statement(notice, unsubscribe) => {
            if let Some(url) = unsubscribe {
                // RFC 8058: a mail client may offer one click, which POSTs to the URL.
                headers.push(ExtraHeader {
                    name: "List-Unsubscribe",
                    value: HeaderText::new(format!("<{url}>")).map_err(ComposeError::Subject)?,
                });
                headers.push(ExtraHeader {
                    name: "List-Unsubscribe-Post",
                    value: HeaderText::new("List-Unsubscribe=One-Click").map_err(ComposeError::Subject)?,
                });
            }
            let context = statement_context(notice, account, unsubscribe);
            templates.render(kind.template(), account.locale, &context)?
        }
        Content::AccountUpdated(notice) => templates.render(
            kind.template(),
            account.locale,
            &account_change_context(notice, account),
        )?,
    };
    let mut tags = vec![
        Tag {
            name: "detail_type".into(),
            value: kind.detail_type_tag().into(),
        },
        // Ties the message to its event (SES event publishing, the outbox index).
        Tag {
            name: "event_id".into(),
            value: event_id.into(),
        },
        Tag {
            name: "account_id".into(),
            value: account.account_id.clone(),
        },
        Tag {
            name: "template".into(),
            value: kind.template().into(),
        },
        // What a bounce of this email leaves undelivered (Notification Undeliverable).
        Tag {
            name: "severity".into(),
            value: severity.as_str().into(),
        },
        Tag {
            name: "locale".into(),
            value: account.locale.as_str().into(),
        },
    ];
    if let Some(transaction_id) = transaction_id {
        tags.push(Tag {
            name: "transaction_id".into(),
            value: transaction_id,
        });
    }
    if let EmailKind::Transaction(shape) = kind {
        tags.push(Tag {
            name: "shape".into(),
            value: shape.as_str().into(),
        });
    }
    // Names and merchants that reached the ledger without ingest's checks may hold bidi
    // controls or invisible characters: none of them reaches the reader.
    let clean = |text: String| match strip_invisible_format(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(stripped) => stripped,
    };
    Ok(Email {
        from: from.clone(),
        to,
        subject: HeaderText::new(clean(rendered.subject)).map_err(ComposeError::Subject)?,
        html: clean(rendered.html),
        text: clean(rendered.text),
        tags,
        headers,
    })
}
