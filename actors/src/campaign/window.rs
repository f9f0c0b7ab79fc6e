//! Calling windows: local hours on chosen days in an IANA time zone. Pure functions over
//! UTC instants; local times that do not exist (the spring-forward gap) open at the first
//! instant that exists after them, and ambiguous ones (fall back) at the earlier instant.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// `startTime ≤ local time < endTime` on `days`, in `tz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingWindow {
    pub tz: Tz,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub days: Vec<Weekday>,
}

/// Parses `HH:MM` (24 h).
pub fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok().filter(|_| s.len() == 5)
}

/// Parses `mon`…`sun` (case-insensitive, also full names).
pub fn parse_day(s: &str) -> Option<Weekday> {
    s.to_ascii_lowercase().parse::<Weekday>().ok()
}

pub fn parse_tz(s: &str) -> Option<Tz> {
    s.parse::<Tz>().ok()
}

/// The UTC instant of local `at` on `date` in `tz`: the earlier one when ambiguous, the
/// first existing instant after a gap.
fn instant(tz: Tz, date: NaiveDate, at: NaiveTime) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::new(date, at);
    for minutes in 0..=180 {
        match tz.from_local_datetime(&(local + Duration::minutes(minutes))) {
            LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => return Some(a.min(b).with_timezone(&Utc)),
            LocalResult::None => {}
        }
    }
    None
}

impl CallingWindow {
    /// The window in another zone (a contact's own).
    #[must_use]
    pub fn in_zone(&self, tz: Tz) -> Self {
        Self { tz, ..self.clone() }
    }

    /// Whether a call may start at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.next_open(now) == Some(now)
    }

    /// `now` when open, else the next opening (within the next 8 days), `None` when the
    /// window never opens (no days).
    pub fn next_open(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = now.with_timezone(&self.tz).date_naive();
        // Yesterday too: its window may reach past midnight UTC but not past local midnight.
        for offset in -1..=8 {
            let date = today + Duration::days(offset);
            if !self.days.contains(&date.weekday()) {
                continue;
            }
            let (Some(open), Some(close)) = (instant(self.tz, date, self.start), instant(self.tz, date, self.end))
            else {
                continue;
            };
            if now < open {
                return Some(open);
            }
            if now < close {
                return Some(now);
            }
        }
        None
    }

    /// When the current opening ends (`None` when closed now).
    pub fn closes_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.is_open(now) {
            return None;
        }
        let date = now.with_timezone(&self.tz).date_naive();
        instant(self.tz, date, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn weekdays(tz: &str) -> CallingWindow {
        CallingWindow {
            tz: parse_tz(tz).unwrap(),
            start: parse_hhmm("09:00").unwrap(),
            end: parse_hhmm("17:00").unwrap(),
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
        }
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_hhmm("09:30"), NaiveTime::from_hms_opt(9, 30, 0));
        assert_eq!(parse_hhmm("9:30"), None);
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(parse_day("MON"), Some(Weekday::Mon));
        assert_eq!(parse_day("sunday"), Some(Weekday::Sun));
        assert_eq!(parse_day("funday"), None);
        assert!(parse_tz("America/New_York").is_some());
        assert!(parse_tz("Mars/Olympus").is_none());
    }

    #[test]
    fn the_same_instant_is_open_in_one_zone_and_closed_in_another() {
        // Tuesday 2026-03-03 15:00 UTC = 10:00 in New York, 07:00 in Los Angeles,
        // 16:00 in Paris, 00:00 (Wednesday) in Tokyo.
        let now = utc("2026-03-03T15:00:00Z");
        assert!(weekdays("America/New_York").is_open(now));
        assert!(!weekdays("America/Los_Angeles").is_open(now));
        assert_eq!(
            weekdays("America/Los_Angeles").next_open(now),
            Some(utc("2026-03-03T17:00:00Z"))
        );
        assert!(weekdays("Europe/Paris").is_open(now));
        assert_eq!(
            weekdays("Europe/Paris").closes_at(now),
            Some(utc("2026-03-03T16:00:00Z"))
        );
        assert!(!weekdays("Asia/Tokyo").is_open(now));
        assert_eq!(weekdays("Asia/Tokyo").next_open(now), Some(utc("2026-03-04T00:00:00Z")));
    }

    #[test]
    fn weekends_wait_for_monday() {
        // Saturday 2026-03-07 15:00 UTC in New York (EST, UTC-5): next Monday 09:00 EST.
        let w = weekdays("America/New_York");
        assert_eq!(
            w.next_open(utc("2026-03-07T15:00:00Z")),
            Some(utc("2026-03-09T13:00:00Z"))
        );
        // Friday after hours.
        assert_eq!(
            w.next_open(utc("2026-03-06T22:30:00Z")),
            Some(utc("2026-03-09T13:00:00Z"))
        );
        let never = CallingWindow { days: vec![], ..w };
        assert_eq!(never.next_open(utc("2026-03-06T22:30:00Z")), None);
    }

    #[test]
    fn opening_hours_follow_daylight_saving_time() {
        // New York springs forward on Sunday 2026-03-08: 09:00 is 14:00 UTC before,
        // 13:00 UTC after.
        let w = weekdays("America/New_York");
        assert_eq!(
            w.next_open(utc("2026-03-06T05:00:00Z")),
            Some(utc("2026-03-06T14:00:00Z"))
        );
        assert_eq!(
            w.next_open(utc("2026-03-09T05:00:00Z")),
            Some(utc("2026-03-09T13:00:00Z"))
        );
        // 13:30 UTC on Monday after the change is 09:30 EDT: open.
        assert!(w.is_open(utc("2026-03-09T13:30:00Z")));
        // The same UTC time on the Friday before was 08:30 EST: closed.
        assert!(!w.is_open(utc("2026-03-06T13:30:00Z")));
        // Fall back on 2026-11-01: Monday 2026-11-02 09:00 EST = 14:00 UTC.
        assert_eq!(
            w.next_open(utc("2026-11-02T05:00:00Z")),
            Some(utc("2026-11-02T14:00:00Z"))
        );
    }

    #[test]
    fn a_window_opening_inside_the_gap_opens_when_local_time_exists_again() {
        // Europe/Berlin jumps 02:00 → 03:00 on Sunday 2026-03-29.
        let w = CallingWindow {
            tz: parse_tz("Europe/Berlin").unwrap(),
            start: parse_hhmm("02:30").unwrap(),
            end: parse_hhmm("05:00").unwrap(),
            days: vec![Weekday::Sun],
        };
        // 03:00 CEST = 01:00 UTC.
        assert_eq!(
            w.next_open(utc("2026-03-28T12:00:00Z")),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        // An ambiguous local time (fall back, 2026-10-25 02:30 happens twice) opens at the earlier.
        let fall = CallingWindow {
            days: vec![Weekday::Sun],
            ..w
        };
        assert_eq!(
            fall.next_open(utc("2026-10-24T12:00:00Z")),
            Some(utc("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn a_contact_zone_overrides_the_campaign_zone() {
        let w = weekdays("America/New_York");
        let now = utc("2026-03-03T15:00:00Z");
        assert!(w.is_open(now));
        assert!(!w.in_zone(parse_tz("Pacific/Honolulu").unwrap()).is_open(now));
    }
}
