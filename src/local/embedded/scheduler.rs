//! The embedded EventBridge Scheduler: template.yaml's ScheduleV2 cron expressions, read as
//! Scheduler reads them, telling which instants they fire at.
//!
//! `cron(minutes hours day-of-month month day-of-week year)`, as Scheduler writes it. What
//! the template uses is supported, and anything else is refused rather than guessed:
//!
//! | field | here |
//! |---|---|
//! | minutes, hours | `*`, a number, a range `a-b`, a list of those |
//! | day-of-month | `?` or `*` |
//! | month, year | `*` |
//! | day-of-week | `?`, `*`, `SUN`–`SAT` or `1`–`7` (1 is Sunday), ranges and lists of those |
//! | ScheduleExpressionTimezone | UTC |

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};

use crate::template::ScheduleSource;

/// Why the embedded runtime cannot run a schedule of the template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("`{0}` is not cron(minutes hours day-of-month month day-of-week year)")]
    NotCron(String),
    #[error("`{field}` in `{expression}`: {reason}")]
    Field {
        expression: String,
        field: String,
        reason: String,
    },
    #[error("the embedded scheduler runs UTC schedules, not {0}")]
    Zone(String),
}

/// One cron schedule: the minutes, hours and weekdays (0 = Sunday) it fires at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<u32>,
    hours: Vec<u32>,
    weekdays: Vec<u32>,
}

const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn values(field: &str, max: u32, name: impl Fn(&str) -> Option<u32>) -> Result<Vec<u32>, String> {
    if field == "*" || field == "?" {
        return Ok((0..=max).collect());
    }
    let mut all = Vec::new();
    for part in field.split(',') {
        let (low, high) = part.split_once('-').unwrap_or((part, part));
        let read = |text: &str| name(text).ok_or_else(|| format!("`{text}` is not a value of this field"));
        let (low, high) = (read(low)?, read(high)?);
        if low > high || high > max {
            return Err(format!("`{part}` is not a range within 0-{max}"));
        }
        all.extend(low..=high);
    }
    all.sort_unstable();
    all.dedup();
    Ok(all)
}

impl Cron {
    pub fn parse(expression: &str) -> Result<Cron, CronError> {
        let inner = expression
            .strip_prefix("cron(")
            .and_then(|rest| rest.strip_suffix(')'))
            .ok_or_else(|| CronError::NotCron(expression.to_string()))?;
        let fields: Vec<&str> = inner.split_whitespace().collect();
        let [minutes, hours, day_of_month, month, day_of_week, year] = fields[..] else {
            return Err(CronError::NotCron(expression.to_string()));
        };
        let field_error = |field: &str, reason: String| CronError::Field {
            expression: expression.to_string(),
            field: field.to_string(),
            reason,
        };
        let number = |max: u32| move |text: &str| text.parse::<u32>().ok().filter(|n| *n <= max);
        for (field, value) in [("day-of-month", day_of_month), ("month", month), ("year", year)] {
            if value != "*" && value != "?" {
                return Err(field_error(field, "only `*` or `?` is supported here".into()));
            }
        }
        let weekday = |text: &str| {
            DAYS.iter()
                .position(|day| day.eq_ignore_ascii_case(text))
                .map(|n| n as u32)
                .or_else(|| text.parse::<u32>().ok().filter(|n| (1..=7).contains(n)).map(|n| n - 1))
        };
        Ok(Cron {
            minutes: values(minutes, 59, number(59)).map_err(|e| field_error("minutes", e))?,
            hours: values(hours, 23, number(23)).map_err(|e| field_error("hours", e))?,
            weekdays: values(day_of_week, 6, weekday).map_err(|e| field_error("day-of-week", e))?,
        })
    }

    /// A schedule of the template, which must be in UTC.
    pub fn of(schedule: &ScheduleSource) -> Result<Cron, CronError> {
        if schedule.time_zone != "UTC" {
            return Err(CronError::Zone(schedule.time_zone.clone()));
        }
        Cron::parse(&schedule.expression)
    }

    /// Whether it fires at this instant (to the minute).
    pub fn fires_at(&self, instant: DateTime<Utc>) -> bool {
        instant.second() == 0
            && instant.nanosecond() == 0
            && self.minutes.contains(&instant.minute())
            && self.hours.contains(&instant.hour())
            && self.weekdays.contains(&instant.weekday().num_days_from_sunday())
    }

    /// The instants it fires at in (after, until], in order; of a longer gap, the last
    /// week only (a store left closed for months does not run every missed hour).
    pub fn fires_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let after = after.max(until - Duration::days(7));
        let mut instant = after
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .expect("the top of a minute exists in UTC")
            + Duration::minutes(1);
        let mut fired = Vec::new();
        while instant <= until {
            if self.fires_at(instant) {
                fired.push(instant);
            }
            instant += Duration::minutes(1);
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Template, functions};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_templates_schedules_fire_every_hour_of_the_monday_window_and_never_else() {
        let schedules = Template::builtin().schedules(functions::DIGEST_PLANNER).unwrap();
        assert_eq!(schedules.len(), 2);
        let crons: Vec<Cron> = schedules.iter().map(|s| Cron::of(s).unwrap()).collect();
        assert!(schedules.iter().all(|s| !s.flexible), "the flexible window is off");
        // From a Wednesday, for a week: one whole window.
        let week_from = at("2026-11-25T00:00:00Z");
        let mut fired: Vec<DateTime<Utc>> = crons
            .iter()
            .flat_map(|c| c.fires_between(week_from, week_from + Duration::days(7)))
            .collect();
        fired.sort();
        let expected: Vec<DateTime<Utc>> = crate::pipeline::digest::RunHour::window_from(week_from)
            .iter()
            .map(|h| h.start())
            .collect();
        assert_eq!(fired, expected, "Sunday 16:00 to Monday 18:00 UTC, hourly");
    }

    #[test]
    fn expressions_it_cannot_run_are_refused() {
        assert_eq!(
            Cron::parse("rate(1 hour)"),
            Err(CronError::NotCron("rate(1 hour)".into()))
        );
        assert!(matches!(Cron::parse("cron(0 6 1 * ? *)"), Err(CronError::Field { .. })));
        assert!(matches!(
            Cron::parse("cron(0 25 ? * MON *)"),
            Err(CronError::Field { .. })
        ));
        assert!(matches!(
            Cron::parse("cron(0 6 ? * FUNDAY *)"),
            Err(CronError::Field { .. })
        ));
        let cron = Cron::parse("cron(30 6,8-9 ? * 2-3 *)").unwrap();
        assert!(cron.fires_at(at("2026-11-30T06:30:00Z")), "Monday is 2");
        assert!(cron.fires_at(at("2026-12-01T09:30:00Z")));
        assert!(!cron.fires_at(at("2026-12-01T07:30:00Z")));
        assert!(!cron.fires_at(at("2026-12-02T06:30:00Z")));
    }
}
