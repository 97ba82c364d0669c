//! The weekly digest: for each account, the week's transactions → one Weekly Statement event.
//!
//! The week runs from Monday 00:00 to the next Monday 00:00 in the account's time zone
//! (default Europe/Paris), so it is 167 or 169 hours long when daylight saving changes
//! inside it. Without a `week_start`, it is the last complete week before the invocation's
//! time (the schedule's time, so that a retried invocation cuts the same week).
//!
//! | what happens | result |
//! |---|---|
//! | an account had transactions that week | one Weekly Statement: net totals per category and currency (approved only; in positive, out negative), money in and out per currency, the count of all transactions, the first 200 listed oldest first, `truncated` when there were more |
//! | an account had none | no event |
//! | the account is closed, or its holder unsubscribed (`statement_enabled` false) | no event, its week is not read; counted `accounts_not_due` (should one still reach the notifier, a replay say, it is suppressed there) |
//! | the digest runs again for the same week | the same event_ids (per account and week): consumers skip what they did |
//! | a Scan or Query page fails transiently | retried with backoff; then that account (or the rest of the scan) is reported failed |
//! | PutEvents entries keep failing | those accounts are reported failed; the invocation fails and the schedule retries it |
//! | an item does not decode | skipped and counted (the processor already reported it as Record Rejected) |

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::event_id;
use crate::domain::events::{BusEvent, CategoryTotal, Header, Severity, StatementLine, StatementWeek, WeeklyStatement};
use crate::domain::money::{Currency, Money, MoneySum};
use crate::domain::transaction::TransactionStatus;
use crate::domain::{Account, AccountStatus, Category, Transaction};
use crate::ports::{Clock, EventBus, Ledger, PortError, ScanSegment, TransactionQuery};
use crate::rules::Rules;
use crate::rules::engine::categorize;

use super::publish::{EntryGroup, PublishLimits, entry_for, publish};
use super::retry::{RetryPolicy, retry_transient};

/// Transactions listed in one statement; the totals count them all.
pub const MAX_LISTED: usize = 200;

#[derive(Debug, Clone)]
pub struct DigestConfig {
    pub event_bus_name: String,
    pub max_listed: usize,
    pub scan_page_size: u32,
    pub query_page_size: u32,
    pub retry: RetryPolicy,
    pub limits: PublishLimits,
}

impl DigestConfig {
    pub fn new(event_bus_name: impl Into<String>) -> Self {
        DigestConfig {
            event_bus_name: event_bus_name.into(),
            max_listed: MAX_LISTED,
            scan_page_size: 100,
            query_page_size: 250,
            retry: RetryPolicy::default(),
            limits: PublishLimits::default(),
        }
    }
}

/// What the schedule asks for: the `detail` of its event (every field optional).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestRequest {
    /// The Monday the week starts on, in each account's zone.
    #[serde(default)]
    pub week_start: Option<NaiveDate>,
    /// One segment of a parallel scan, to split a large ledger over several schedules.
    #[serde(default)]
    pub segment: Option<u32>,
    #[serde(default)]
    pub total_segments: Option<u32>,
}

/// Why a scheduled event is not a digest request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestRequestError {
    #[error("the digest expects a scheduled event (a JSON object)")]
    NotAnObject,
    #[error("`time` is not an RFC 3339 timestamp: {0:?}")]
    BadTime(String),
    #[error("`time` must be a string")]
    TimeNotAString,
    #[error("`detail.{path}`: {reason}")]
    BadDetail { path: String, reason: String },
    #[error("`segment` and `total_segments` go together, with 0 <= segment < total_segments")]
    BadSegment,
    #[error("`detail.week_start` must be a Monday; {start} is a {weekday}")]
    NotAMonday { start: NaiveDate, weekday: Weekday },
}

impl DigestRequest {
    /// Reads a scheduled event (`{"time": ..., "detail": {...}}`; both optional). Returns
    /// the request and the time the schedule fired, if the event says.
    pub fn from_event(event: &Value) -> Result<(DigestRequest, Option<DateTime<Utc>>), DigestRequestError> {
        if !event.is_object() {
            return Err(DigestRequestError::NotAnObject);
        }
        let time = match event.get("time") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(
                crate::domain::time::parse_timestamp(text).ok_or_else(|| DigestRequestError::BadTime(text.clone()))?,
            ),
            Some(_) => return Err(DigestRequestError::TimeNotAString),
        };
        let request: DigestRequest = match event.get("detail") {
            None | Some(Value::Null) => DigestRequest::default(),
            Some(detail) => serde_path_to_error::deserialize(detail).map_err(|e| DigestRequestError::BadDetail {
                path: e.path().to_string(),
                reason: e.inner().to_string(),
            })?,
        };
        request.segment()?;
        if let Some(start) = request.week_start
            && start.weekday() != Weekday::Mon
        {
            return Err(DigestRequestError::NotAMonday {
                start,
                weekday: start.weekday(),
            });
        }
        Ok((request, time))
    }

    pub fn segment(&self) -> Result<ScanSegment, DigestRequestError> {
        match (self.segment, self.total_segments) {
            (None, None) => Ok(ScanSegment::whole()),
            (Some(index), Some(total)) if total >= 1 && index < total => Ok(ScanSegment { index, total }),
            _ => Err(DigestRequestError::BadSegment),
        }
    }
}

/// One statement week in one zone, and the instants that bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Week {
    pub start: NaiveDate,
    pub zone: Tz,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The first instant of a local day. Where midnight falls in a daylight-saving gap (a few
/// zones change at 00:00), the day starts when the clocks resume.
fn start_of_day(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    (0..=180)
        .find_map(|minutes| {
            zone.from_local_datetime(&(midnight + Duration::minutes(minutes)))
                .earliest()
        })
        .map(|local| local.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

impl Week {
    pub fn starting(start: NaiveDate, zone: Tz) -> Week {
        let end = start + Duration::days(7);
        Week {
            start,
            zone,
            from: start_of_day(start, zone),
            to: start_of_day(end, zone),
        }
    }

    /// The last week that ended at or before `now`, in that zone.
    pub fn last_complete(now: DateTime<Utc>, zone: Tz) -> Week {
        let today = now.with_timezone(&zone).date_naive();
        let this_monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        Week::starting(this_monday - Duration::days(7), zone)
    }

    pub fn end(&self) -> NaiveDate {
        self.start + Duration::days(7)
    }
}

/// The week's transactions of one account, folded as they are read.
struct StatementBuilder {
    count: u64,
    lines: Vec<StatementLine>,
    max_listed: usize,
    totals: BTreeMap<(Category, Currency), MoneySum>,
    money_in: BTreeMap<Currency, MoneySum>,
    money_out: BTreeMap<Currency, MoneySum>,
}

impl StatementBuilder {
    fn new(max_listed: usize) -> Self {
        StatementBuilder {
            count: 0,
            lines: Vec::new(),
            max_listed,
            totals: BTreeMap::new(),
            money_in: BTreeMap::new(),
            money_out: BTreeMap::new(),
        }
    }

    fn add(&mut self, transaction: &Transaction, category: Category) {
        self.count += 1;
        if self.lines.len() < self.max_listed {
            self.lines.push(StatementLine {
                transaction_id: transaction.transaction_id.clone(),
                booked_at: transaction.booked_at,
                kind: transaction.kind,
                status: transaction.status,
                amount: transaction.amount,
                category,
                merchant_name: transaction.merchant.as_ref().map(|m| m.name.clone()),
            });
        }
        if transaction.status != TransactionStatus::Approved {
            return;
        }
        let Money { amount_minor, currency } = transaction.amount;
        // Sums are exact (i128): they never wrap or saturate.
        let (side, signed) = if transaction.kind.is_incoming() {
            (&mut self.money_in, amount_minor)
        } else {
            (&mut self.money_out, -amount_minor)
        };
        side.entry(currency)
            .or_insert_with(|| MoneySum::zero(currency))
            .add(amount_minor);
        self.totals
            .entry((category, currency))
            .or_insert_with(|| MoneySum::zero(currency))
            .add(signed);
    }

    fn finish(mut self, account: &Account, week: &Week) -> Option<WeeklyStatement> {
        if self.count == 0 {
            return None;
        }
        // Sort keys order fractions of a second before the whole second ("…00.25Z" <
        // "…00Z"); the lines are listed by the instant itself.
        self.lines.sort_by_key(|line| line.booked_at);
        let week_start = week.start.to_string();
        let money = |sums: BTreeMap<Currency, MoneySum>| sums.into_values().collect();
        Some(WeeklyStatement {
            header: Header::new(
                event_id::for_weekly_statement(&account.account_id, &week_start),
                &account.account_id,
                week.to,
            ),
            week: StatementWeek {
                start: week.start,
                end: week.end(),
                time_zone: week.zone.name().to_string(),
            },
            totals_by_category: self
                .totals
                .into_iter()
                .map(|((category, _), total)| CategoryTotal { category, total })
                .collect(),
            money_in: money(self.money_in),
            money_out: money(self.money_out),
            truncated: self.count > self.lines.len() as u64,
            transaction_count: self.count,
            transactions: self.lines,
            severity: Severity::Info,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DigestReport {
    pub accounts_scanned: u64,
    pub accounts_undecodable: u64,
    pub statements_published: u64,
    pub accounts_without_transactions: u64,
    /// Closed accounts and accounts whose holder unsubscribed: no statement, no reads.
    pub accounts_not_due: u64,
    pub transactions_read: u64,
    pub transactions_undecodable: u64,
    /// Accounts whose statement could not be built or published: the run must be retried.
    pub accounts_failed: Vec<String>,
    /// The scan itself stopped (ledger failing): the accounts after it were not visited.
    pub scan_error: Option<String>,
    pub put_events_calls: u32,
}

impl DigestReport {
    pub fn complete(&self) -> bool {
        self.accounts_failed.is_empty() && self.scan_error.is_none()
    }
}

pub struct Digest<L, B, C> {
    pub ledger: L,
    pub bus: B,
    pub clock: C,
    pub rules: Arc<Rules>,
    pub config: DigestConfig,
}

impl<L: Ledger, B: EventBus, C: Clock> Digest<L, B, C> {
    pub fn new(ledger: L, bus: B, clock: C, rules: Arc<Rules>, config: DigestConfig) -> Self {
        Digest {
            ledger,
            bus,
            clock,
            rules,
            config,
        }
    }

    /// The week an account's statement covers for this request.
    pub fn week_for(&self, account: &Account, request: &DigestRequest, now: DateTime<Utc>) -> Week {
        let zone = account.zone();
        match request.week_start {
            Some(start) => Week::starting(start, zone),
            None => Week::last_complete(now, zone),
        }
    }

    /// Builds one account's statement, reading its transactions page by page.
    pub async fn statement(
        &self,
        account: &Account,
        week: &Week,
        report: &mut DigestReport,
    ) -> Result<Option<WeeklyStatement>, PortError> {
        let mut builder = StatementBuilder::new(self.config.max_listed);
        let mut after: Option<String> = None;
        loop {
            let query = TransactionQuery {
                account_id: &account.account_id,
                from: week.from,
                to: week.to,
                newest_first: false,
                limit: self.config.query_page_size,
                after: after.as_deref(),
            };
            let page = retry_transient(&self.clock, &self.config.retry, || {
                self.ledger.query_transactions(&query)
            })
            .await?;
            report.transactions_read += page.transactions.len() as u64;
            report.transactions_undecodable += u64::from(page.undecodable);
            for transaction in &page.transactions {
                builder.add(transaction, categorize(&self.rules, transaction));
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(builder.finish(account, week))
    }

    /// Runs the digest over every account (of the request's scan segment).
    pub async fn run(&self, request: &DigestRequest, now: DateTime<Utc>) -> Result<DigestReport, DigestRequestError> {
        let segment = request.segment()?;
        let mut report = DigestReport::default();
        let mut after: Option<String> = None;
        loop {
            let page = retry_transient(&self.clock, &self.config.retry, || {
                self.ledger
                    .scan_accounts(segment, after.as_deref(), self.config.scan_page_size)
            })
            .await;
            let page = match page {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(error = %error, "the account scan failed; the run is incomplete");
                    report.scan_error = Some(error.to_string());
                    break;
                }
            };
            report.accounts_scanned += page.accounts.len() as u64;
            report.accounts_undecodable += u64::from(page.undecodable);
            let mut groups = Vec::new();
            for account in &page.accounts {
                // The notifier would suppress it anyway: its week is not even read.
                if account.status == AccountStatus::Closed || !account.preferences.statement_enabled {
                    report.accounts_not_due += 1;
                    continue;
                }
                let week = self.week_for(account, request, now);
                match self.statement(account, &week, &mut report).await {
                    Ok(Some(statement)) => groups.push(EntryGroup {
                        account: Some(account.account_id.clone()),
                        entries: vec![entry_for(
                            &BusEvent::WeeklyStatement(statement),
                            &self.config.event_bus_name,
                        )],
                    }),
                    Ok(None) => report.accounts_without_transactions += 1,
                    Err(error) => {
                        tracing::warn!(account_id = %account.account_id, error = %error, "could not read the account's transactions");
                        report.accounts_failed.push(account.account_id.clone());
                    }
                }
            }
            // One page of statements at a time: memory stays bounded by the page size.
            let outcome = publish(&self.bus, &self.clock, &self.config.retry, &self.config.limits, &groups).await;
            report.put_events_calls += outcome.calls;
            let published = outcome.first_unpublished.unwrap_or(groups.len());
            report.statements_published += published as u64;
            for group in &groups[published..] {
                report.accounts_failed.extend(group.account.clone());
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        tracing::info!(
            accounts = report.accounts_scanned,
            statements = report.statements_published,
            failed = report.accounts_failed.len(),
            "digest done"
        );
        Ok(report)
    }
}
