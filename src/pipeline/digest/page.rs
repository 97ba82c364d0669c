//! A DigestQueue message: at most 100 accounts of one zone whose statement for one week is
//! due. The planner writes them, the workers read them; docs/statements.md has the shape.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::schedule::ZoneDue;
use super::statement::Week;

/// Account ids in one message at most.
pub const MAX_ACCOUNTS_PER_PAGE: usize = 100;
/// The bytes of one SendMessageBatch call (every body of it) at most: SQS's limit.
pub const MAX_SEND_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestPage {
    /// The planner's run that queued it (the hour of the schedule).
    pub run_hour: DateTime<Utc>,
    /// The IANA zone the statements are cut in.
    pub zone: String,
    /// The Monday the statements' week starts on, in that zone.
    pub week_start: NaiveDate,
    pub account_ids: Vec<String>,
}

/// Why a message is not a page a worker can handle: it goes to the DLQ in the end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("the message is not a digest page: {0}")]
    NotAPage(String),
    #[error("`zone` is not an IANA time zone: {0:?}")]
    UnknownZone(String),
    #[error("`week_start` must be a Monday; {start} is a {weekday}")]
    NotAMonday { start: NaiveDate, weekday: Weekday },
    #[error("`account_ids` must hold 1 to 100 ids, not {0}")]
    BadSize(usize),
    #[error("`account_ids` holds an empty id")]
    EmptyId,
}

impl DigestPage {
    pub fn new(run_hour: DateTime<Utc>, due: &ZoneDue, account_ids: Vec<String>) -> DigestPage {
        DigestPage {
            run_hour,
            zone: due.zone.name().to_string(),
            week_start: due.week.start,
            account_ids,
        }
    }

    /// Reads a message body strictly: whatever a worker cannot act on is an error.
    pub fn parse(body: &str) -> Result<(DigestPage, Week), PageError> {
        let page: DigestPage = serde_json::from_str(body).map_err(|e| PageError::NotAPage(e.to_string()))?;
        let zone: Tz = page
            .zone
            .parse()
            .map_err(|_| PageError::UnknownZone(page.zone.clone()))?;
        if page.week_start.weekday() != Weekday::Mon {
            return Err(PageError::NotAMonday {
                start: page.week_start,
                weekday: page.week_start.weekday(),
            });
        }
        if page.account_ids.is_empty() || page.account_ids.len() > MAX_ACCOUNTS_PER_PAGE {
            return Err(PageError::BadSize(page.account_ids.len()));
        }
        if page.account_ids.iter().any(String::is_empty) {
            return Err(PageError::EmptyId);
        }
        let week = Week::starting(page.week_start, zone);
        Ok((page, week))
    }

    pub fn body(&self) -> String {
        serde_json::to_string(self).expect("a page serializes")
    }
}

/// Cuts `account_ids` into pages of at most 100 ids whose bodies leave room for ten of them
/// in one call.
pub fn pages_of(run_hour: DateTime<Utc>, due: &ZoneDue, account_ids: Vec<String>) -> Vec<DigestPage> {
    let budget = MAX_SEND_BYTES / 10 - 512;
    let mut pages = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut bytes = 0;
    for id in account_ids {
        let size = id.len() + 3;
        if !current.is_empty() && (current.len() == MAX_ACCOUNTS_PER_PAGE || bytes + size > budget) {
            pages.push(DigestPage::new(run_hour, due, std::mem::take(&mut current)));
            bytes = 0;
        }
        bytes += size;
        current.push(id);
    }
    if !current.is_empty() {
        pages.push(DigestPage::new(run_hour, due, current));
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::digest::schedule::RunHour;

    fn paris_due() -> (DateTime<Utc>, ZoneDue) {
        let hour = RunHour::containing("2026-11-30T05:00:00Z".parse().unwrap());
        (hour.start(), hour.due(chrono_tz::Europe::Paris).unwrap())
    }

    #[test]
    fn pages_hold_at_most_100_ids_and_round_trip() {
        let (hour, due) = paris_due();
        let ids: Vec<String> = (0..250).map(|n| format!("acc-{n:04}")).collect();
        let pages = pages_of(hour, &due, ids.clone());
        assert_eq!(
            pages.iter().map(|p| p.account_ids.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        let back: Vec<String> = pages.iter().flat_map(|p| p.account_ids.clone()).collect();
        assert_eq!(back, ids);
        let (page, week) = DigestPage::parse(&pages[2].body()).unwrap();
        assert_eq!(page, pages[2]);
        assert_eq!(week, due.week);
        // Long ids: fewer per page, so that ten bodies fit one call.
        let long: Vec<String> = (0..100).map(|n| format!("{n:0>2000}")).collect();
        for page in pages_of(hour, &due, long) {
            assert!(page.body().len() * 10 <= MAX_SEND_BYTES, "{}", page.body().len());
        }
    }

    #[test]
    fn a_message_a_worker_cannot_act_on_is_refused_with_its_reason() {
        let (hour, due) = paris_due();
        let good = DigestPage::new(hour, &due, vec!["acc-1".into()]);
        let with = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut value = serde_json::to_value(&good).unwrap();
            edit(&mut value);
            DigestPage::parse(&value.to_string()).unwrap_err()
        };
        assert!(matches!(DigestPage::parse("not json"), Err(PageError::NotAPage(_))));
        assert!(matches!(DigestPage::parse("{}"), Err(PageError::NotAPage(_))));
        assert_eq!(
            with(&|v| v["zone"] = "Mars/Olympus".into()),
            PageError::UnknownZone("Mars/Olympus".into())
        );
        assert!(matches!(
            with(&|v| v["week_start"] = "2026-11-24".into()),
            PageError::NotAMonday { .. }
        ));
        assert_eq!(
            with(&|v| v["account_ids"] = serde_json::json!([])),
            PageError::BadSize(0)
        );
        let many: Vec<String> = (0..101).map(|n| n.to_string()).collect();
        assert_eq!(
            with(&|v| v["account_ids"] = serde_json::json!(many)),
            PageError::BadSize(101)
        );
        assert_eq!(
            with(&|v| v["account_ids"] = serde_json::json!([""])),
            PageError::EmptyId
        );
        assert!(matches!(
            with(&|v| v["account_ids"] = serde_json::json!([7])),
            PageError::NotAPage(_)
        ));
    }
}
