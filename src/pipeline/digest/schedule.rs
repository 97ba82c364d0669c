//! When statements go out: Monday 06:00 in each account's zone. The planner runs every hour
//! from Sunday 16:00 to Monday 18:00 UTC (template.yaml's two schedules), which covers every
//! offset there is, UTC+14 (Kiribati: Sunday 16:00 UTC) to UTC−12 (Monday 18:00 UTC). A run
//! takes the zones whose Monday 06:00, at the offset they have at that instant (daylight
//! saving included), falls in its hour [H, H+1h); the :30 and :45 zones fall in the hour
//! that holds their half or three quarters.
//!
//! | zone | Monday 06:00 local is, in UTC | the run that takes it |
//! |---|---|---|
//! | Pacific/Kiritimati (+14) | Sunday 16:00 | Sunday 16:00 |
//! | Asia/Tokyo (+9) | Sunday 21:00 | Sunday 21:00 |
//! | Asia/Kathmandu (+5:45) | Monday 00:15 | Monday 00:00 |
//! | Asia/Kolkata (+5:30) | Monday 00:30 | Monday 00:00 |
//! | Europe/Paris (+1 in winter, +2 in summer) | Monday 05:00 / 04:00 | Monday 05:00 / 04:00 |
//! | America/New_York (−5 / −4) | Monday 11:00 / 10:00 | Monday 11:00 / 10:00 |
//! | Pacific/Marquesas (−9:30) | Monday 15:30 | Monday 15:00 |
//! | Etc/GMT+12 (−12) | Monday 18:00 | Monday 18:00 |

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use super::statement::{Week, first_instant_at};

/// The local time statements go out on Monday.
pub const STATEMENT_TIME: NaiveTime = match NaiveTime::from_hms_opt(6, 0, 0) {
    Some(time) => time,
    None => panic!("06:00 is a time"),
};

/// The first and the last hour (UTC) of the planner's weekly window, both included.
pub const FIRST_RUN: (Weekday, u32) = (Weekday::Sun, 16);
pub const LAST_RUN: (Weekday, u32) = (Weekday::Mon, 18);

/// The planner's runs a week: every hour from `FIRST_RUN` to `LAST_RUN`.
pub const RUNS_PER_WEEK: u64 = {
    let days = (LAST_RUN.0.num_days_from_monday() + 7 - FIRST_RUN.0.num_days_from_monday()) % 7;
    (days * 24 + LAST_RUN.1 + 1 - FIRST_RUN.1) as u64
};

/// The zones the planner asks the index for: each exactly once a week, in the hour that
/// holds its Monday 06:00.
pub fn zones_known() -> u64 {
    chrono_tz::TZ_VARIANTS.len() as u64
}

/// One hour of the schedule, [start, start + 1h): a run of the planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunHour {
    start: DateTime<Utc>,
}

/// One zone whose statements are due in a run, and the week they cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneDue {
    pub zone: Tz,
    /// Monday 06:00 there.
    pub sends_at: DateTime<Utc>,
    /// The week that just ended there.
    pub week: Week,
}

impl RunHour {
    /// The hour that holds `instant` (a scheduled time is at its top; a late one still
    /// belongs to the hour it was scheduled in).
    pub fn containing(instant: DateTime<Utc>) -> RunHour {
        let start = instant
            .with_nanosecond(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_minute(0))
            .expect("the top of an hour exists in UTC");
        RunHour { start }
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::hours(1)
    }

    /// Whether the weekly window (Sunday 16:00 – Monday 18:00 UTC) holds this hour.
    pub fn in_window(&self) -> bool {
        let at = (self.start.weekday(), self.start.hour());
        match at.0 {
            Weekday::Sun => at.1 >= FIRST_RUN.1,
            Weekday::Mon => at.1 <= LAST_RUN.1,
            _ => false,
        }
    }

    /// Every hour of the window of the week that holds `instant` or comes next after it, in
    /// order: the runs of one Monday morning.
    pub fn window_from(instant: DateTime<Utc>) -> Vec<RunHour> {
        let mut hour = RunHour::containing(instant);
        while !hour.in_window() {
            hour = RunHour { start: hour.end() };
        }
        // Back to the window's first hour, if `instant` is inside it.
        while (RunHour {
            start: hour.start - Duration::hours(1),
        })
        .in_window()
        {
            hour = RunHour {
                start: hour.start - Duration::hours(1),
            };
        }
        let mut hours = Vec::new();
        while hour.in_window() {
            hours.push(hour);
            hour = RunHour { start: hour.end() };
        }
        hours
    }

    /// The runs the scheduler has yet to make after `instant`: the hours of the window that
    /// holds it which start after it, or, when none is left, the whole window after it. A
    /// run at `instant` itself has fired already (the scheduler fires in (last, now]).
    pub fn runs_after(instant: DateTime<Utc>) -> Vec<RunHour> {
        let rest: Vec<RunHour> = RunHour::window_from(instant)
            .into_iter()
            .filter(|hour| hour.start > instant)
            .collect();
        if rest.is_empty() {
            RunHour::window_from(RunHour::containing(instant).end())
        } else {
            rest
        }
    }

    /// Monday 06:00 in `zone` near this hour, if it falls inside it.
    pub fn due(&self, zone: Tz) -> Option<ZoneDue> {
        // The local date of a Monday 06:00 inside [start, end) is the local date of start or
        // of end: look at both.
        let days = [
            self.start.with_timezone(&zone).date_naive(),
            self.end().with_timezone(&zone).date_naive(),
        ];
        days.into_iter()
            .filter(|day| day.weekday() == Weekday::Mon)
            .map(|monday| (monday, first_instant_at(monday.and_time(STATEMENT_TIME), zone)))
            .find(|(_, sends_at)| *sends_at >= self.start && *sends_at < self.end())
            .map(|(monday, sends_at)| ZoneDue {
                zone,
                sends_at,
                week: Week::starting(monday - Duration::days(7), zone),
            })
    }

    /// Every IANA zone (links included: an account may name either) whose statements this
    /// hour sends, by name.
    pub fn zones_due(&self) -> Vec<ZoneDue> {
        let mut due: Vec<ZoneDue> = chrono_tz::TZ_VARIANTS
            .iter()
            .filter_map(|zone| self.due(*zone))
            .collect();
        due.sort_by_key(|d| d.zone.name());
        due
    }
}

/// The week a statement sent on `monday` covers in `zone`.
pub fn week_ending(monday: NaiveDate, zone: Tz) -> Week {
    Week::starting(monday - Duration::days(7), zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn due_hour(zone: Tz, monday: &str) -> DateTime<Utc> {
        let start = at(&format!("{monday}T00:00:00Z")) - Duration::hours(8);
        let hours: Vec<RunHour> = RunHour::window_from(start);
        let taken: Vec<&RunHour> = hours.iter().filter(|h| h.due(zone).is_some()).collect();
        assert_eq!(taken.len(), 1, "{zone} is taken by exactly one run");
        taken[0].start()
    }

    #[test]
    fn the_window_is_sunday_16_to_monday_18_utc() {
        let hours = RunHour::window_from(at("2026-11-25T10:00:00Z"));
        assert_eq!(hours.len(), 27);
        assert_eq!(RUNS_PER_WEEK, 27);
        assert_eq!(hours[0].start(), at("2026-11-29T16:00:00Z"));
        assert_eq!(hours[26].start(), at("2026-11-30T18:00:00Z"));
        // From inside the window: the same window.
        assert_eq!(RunHour::window_from(at("2026-11-30T03:20:00Z")), hours);
        assert!(!RunHour::containing(at("2026-11-30T19:00:00Z")).in_window());
        assert!(!RunHour::containing(at("2026-11-29T15:59:59Z")).in_window());
    }

    #[test]
    fn the_runs_after_an_instant_are_the_rest_of_its_window_or_the_next_one() {
        let window = RunHour::window_from(at("2026-11-25T10:00:00Z"));
        // Before the window: all of it.
        assert_eq!(RunHour::runs_after(at("2026-11-25T10:00:00Z")), window);
        assert_eq!(RunHour::runs_after(at("2026-11-29T15:59:59Z")), window);
        // At a run's top: that run has fired, the rest has not.
        assert_eq!(RunHour::runs_after(at("2026-11-29T16:00:00Z")), window[1..].to_vec());
        // Inside the window: the hours still to come.
        let rest = RunHour::runs_after(at("2026-11-29T16:05:00Z"));
        assert_eq!(rest.first().map(|h| h.start()), Some(at("2026-11-29T17:00:00Z")));
        assert_eq!(rest.len(), 26);
        assert_eq!(RunHour::runs_after(at("2026-11-30T17:59:00Z")), window[26..].to_vec());
        // Its last run under way: the next week's window, whole.
        let next = RunHour::runs_after(at("2026-11-30T18:10:00Z"));
        assert_eq!(next.len(), 27);
        assert_eq!(next[0].start(), at("2026-12-06T16:00:00Z"));
    }

    #[test]
    fn each_zone_is_taken_by_the_hour_of_its_monday_six_oclock() {
        for (zone, monday, hour) in [
            (chrono_tz::Pacific::Kiritimati, "2026-11-30", "2026-11-29T16:00:00Z"),
            (chrono_tz::Asia::Tokyo, "2026-11-30", "2026-11-29T21:00:00Z"),
            (chrono_tz::Asia::Kathmandu, "2026-11-30", "2026-11-30T00:00:00Z"),
            (chrono_tz::Asia::Kolkata, "2026-11-30", "2026-11-30T00:00:00Z"),
            (chrono_tz::Australia::Eucla, "2026-11-30", "2026-11-29T21:00:00Z"),
            (chrono_tz::Europe::Paris, "2026-11-30", "2026-11-30T05:00:00Z"),
            (chrono_tz::Europe::Paris, "2026-06-29", "2026-06-29T04:00:00Z"),
            (chrono_tz::America::New_York, "2026-11-30", "2026-11-30T11:00:00Z"),
            (chrono_tz::America::New_York, "2026-06-29", "2026-06-29T10:00:00Z"),
            (chrono_tz::America::St_Johns, "2026-11-30", "2026-11-30T09:00:00Z"),
            (chrono_tz::Pacific::Marquesas, "2026-11-30", "2026-11-30T15:00:00Z"),
            (chrono_tz::Etc::GMTPlus12, "2026-11-30", "2026-11-30T18:00:00Z"),
            (chrono_tz::Pacific::Chatham, "2026-11-30", "2026-11-29T16:00:00Z"),
        ] {
            assert_eq!(due_hour(zone, monday), at(hour), "{zone} on {monday}");
        }
    }

    #[test]
    fn every_zone_is_taken_once_a_week_all_year_round() {
        // Every Monday of 2026, DST changes included: each zone in exactly one run.
        let mut monday = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        while monday.year() < 2027 {
            let hours = RunHour::window_from(monday.and_hms_opt(0, 0, 0).unwrap().and_utc() - Duration::hours(8));
            let mut taken = std::collections::BTreeMap::<&str, u32>::new();
            for hour in &hours {
                for due in hour.zones_due() {
                    *taken.entry(due.zone.name()).or_default() += 1;
                    assert_eq!(due.week.end(), due.sends_at.with_timezone(&due.zone).date_naive());
                    assert_eq!(due.week.start.weekday(), Weekday::Mon);
                }
            }
            for zone in chrono_tz::TZ_VARIANTS {
                assert_eq!(taken.get(zone.name()), Some(&1), "{zone} in the week of {monday}");
            }
            monday += Duration::days(7);
        }
    }

    #[test]
    fn the_week_is_the_one_that_just_ended_in_the_zone() {
        let paris = RunHour::containing(at("2026-11-30T05:00:00Z"))
            .due(chrono_tz::Europe::Paris)
            .unwrap();
        assert_eq!(paris.week.start, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(paris.week.from, at("2026-11-22T23:00:00Z"));
        assert_eq!(paris.week.to, at("2026-11-29T23:00:00Z"));
        assert_eq!(paris.sends_at, at("2026-11-30T05:00:00Z"));
        // A late run (Scheduler's retries) keeps its hour.
        assert_eq!(
            RunHour::containing(at("2026-11-30T05:41:07.5Z")),
            RunHour::containing(at("2026-11-30T05:00:00Z"))
        );
        // Outside the window nothing is due.
        assert!(RunHour::containing(at("2026-11-25T05:00:00Z")).zones_due().is_empty());
    }
}
