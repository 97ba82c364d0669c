//! One account's statement: its week's transactions, folded into one Weekly Statement.
//!
//! The week runs from Monday 00:00 to the next Monday 00:00 in the account's time zone
//! (default Europe/Paris), so it is 167 or 169 hours long when daylight saving changes
//! inside it.
//!
//! | what happens | result |
//! |---|---|
//! | an account had transactions that week | one Weekly Statement: net totals per category and currency (approved only; in positive, out negative), money in and out per currency, the count of all transactions, the first 200 listed oldest first, `truncated` when there were more |
//! | an account had none | no event |
//! | the same account and week again | the same event_id (per account and week): consumers skip what they did |
//! | a Query page fails transiently | retried with backoff; then the account fails |
//! | an item does not decode | skipped and counted (the processor already reported it as Record Rejected) |

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::domain::event_id;
use crate::domain::events::{CategoryTotal, Header, Severity, StatementLine, StatementWeek, WeeklyStatement};
use crate::domain::money::{Currency, Money, MoneySum};
use crate::domain::transaction::TransactionStatus;
use crate::domain::{Account, Category, Transaction};
use crate::ports::{Clock, Ledger, PortError, TransactionQuery};
use crate::rules::Rules;
use crate::rules::engine::categorize;

use crate::pipeline::retry::{RetryPolicy, retry_transient};

/// Transactions listed in one statement; the totals count them all.
pub const MAX_LISTED: usize = 200;

/// One statement week in one zone, and the instants that bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Week {
    pub start: NaiveDate,
    pub zone: Tz,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The first instant the zone's clocks read `local` or, where it falls in a daylight-saving
/// gap (a few zones change at 00:00), the instant the clocks resume. Read twice (the clocks
/// go back): the first time.
pub fn first_instant_at(local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    (0..=180)
        .find_map(|minutes| {
            zone.from_local_datetime(&(local + Duration::minutes(minutes)))
                .earliest()
        })
        .map(|local| local.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

/// The first instant of a local day.
fn start_of_day(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    first_instant_at(day.and_hms_opt(0, 0, 0).expect("midnight exists"), zone)
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

    /// The week that ended on the local Monday of `now`, or before it: the last complete one.
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

/// What reading one account's week found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeekRead {
    pub transactions: u64,
    pub undecodable: u64,
}

/// What a statement is read with: the ledger, the retry of a transient failure, the rules
/// that categorize, the limits.
pub struct StatementReader<'a, L, C> {
    pub ledger: &'a L,
    pub clock: &'a C,
    pub retry: &'a RetryPolicy,
    pub rules: &'a Rules,
    pub limits: StatementLimits,
}

impl<L: Ledger, C: Clock> StatementReader<'_, L, C> {
    /// Builds one account's statement for `week`, reading its transactions page by page
    /// with one Query on its key range (each page retried on transient failures). None: it
    /// had none.
    pub async fn statement_of(
        &self,
        account: &Account,
        week: &Week,
        read: &mut WeekRead,
    ) -> Result<Option<WeeklyStatement>, PortError> {
        let mut builder = StatementBuilder::new(self.limits.max_listed);
        let mut after: Option<String> = None;
        loop {
            let query = TransactionQuery {
                account_id: &account.account_id,
                from: week.from,
                to: week.to,
                newest_first: false,
                limit: self.limits.query_page_size,
                after: after.as_deref(),
            };
            let page = retry_transient(self.clock, self.retry, || self.ledger.query_transactions(&query)).await?;
            read.transactions += page.transactions.len() as u64;
            read.undecodable += u64::from(page.undecodable);
            for transaction in &page.transactions {
                builder.add(transaction, categorize(self.rules, transaction));
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(builder.finish(account, week))
    }
}

/// How much of a week one statement lists, and how many items a Query page asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementLimits {
    pub max_listed: usize,
    pub query_page_size: u32,
}

impl Default for StatementLimits {
    fn default() -> Self {
        StatementLimits {
            max_listed: MAX_LISTED,
            query_page_size: 250,
        }
    }
}
