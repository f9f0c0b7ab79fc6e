//! Calling windows: local hours on chosen days in an IANA time zone. Pure functions over
//! UTC instants; local times that do not exist (the spring-forward gap) open at the first
//! instant that exists after them, and ambiguous ones (fall back) at the earlier instant.
//! A window whose end is not later than its start crosses midnight: it opens on one of its
//! days and closes on the next day (22:00–02:00 on Friday runs into Saturday morning).

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// `startTime ≤ local time < endTime` on `days`, in `tz`; when `end ≤ start` the window
/// closes at `end` on the day after the one it opened (`days` are the days it opens).
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

    /// Whether it closes on the day after it opens.
    pub fn crosses_midnight(&self) -> bool {
        self.end <= self.start
    }

    /// The opening that starts on local `date` (when `date` is one of its days): its UTC
    /// open and close instants.
    fn opening(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.days.contains(&date.weekday()) {
            return None;
        }
        let close_date = if self.crosses_midnight() {
            date + Duration::days(1)
        } else {
            date
        };
        let open = instant(self.tz, date, self.start)?;
        let close = instant(self.tz, close_date, self.end)?;
        (open < close).then_some((open, close))
    }

    /// Whether a call may start at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.next_open(now) == Some(now)
    }

    /// `now` when open, else the next opening (within the next 8 days), `None` when the
    /// window never opens (no days).
    pub fn next_open(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = now.with_timezone(&self.tz).date_naive();
        // Yesterday too: its opening may last past local midnight (22:00–02:00) or past
        // midnight UTC.
        for offset in -1..=8 {
            let Some((open, close)) = self.opening(today + Duration::days(offset)) else {
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
        let today = now.with_timezone(&self.tz).date_naive();
        (-1..=0)
            .filter_map(|offset| self.opening(today + Duration::days(offset)))
            .find(|(open, close)| *open <= now && now < *close)
            .map(|(_, close)| close)
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

    fn overnight(tz: &str, days: Vec<Weekday>) -> CallingWindow {
        CallingWindow {
            tz: parse_tz(tz).unwrap(),
            start: parse_hhmm("22:00").unwrap(),
            end: parse_hhmm("02:00").unwrap(),
            days,
        }
    }

    #[test]
    fn a_window_that_crosses_midnight_closes_the_next_day() {
        // Friday 22:00 to Saturday 02:00, UTC.
        let w = overnight("UTC", vec![Weekday::Fri]);
        assert!(w.crosses_midnight());
        assert!(!w.is_open(utc("2026-03-06T21:59:00Z")));
        assert_eq!(
            w.next_open(utc("2026-03-06T12:00:00Z")),
            Some(utc("2026-03-06T22:00:00Z"))
        );
        assert!(w.is_open(utc("2026-03-06T22:00:00Z")));
        assert!(w.is_open(utc("2026-03-06T23:59:59Z")));
        // After midnight it is Saturday, not a calling day, yet Friday's opening lasts.
        assert!(w.is_open(utc("2026-03-07T00:00:00Z")));
        assert!(w.is_open(utc("2026-03-07T01:59:00Z")));
        assert_eq!(
            w.closes_at(utc("2026-03-07T01:00:00Z")),
            Some(utc("2026-03-07T02:00:00Z"))
        );
        assert_eq!(
            w.closes_at(utc("2026-03-06T23:00:00Z")),
            Some(utc("2026-03-07T02:00:00Z"))
        );
        assert!(!w.is_open(utc("2026-03-07T02:00:00Z")));
        assert_eq!(w.closes_at(utc("2026-03-07T02:00:00Z")), None);
        // The next opening is next Friday.
        assert_eq!(
            w.next_open(utc("2026-03-07T02:00:00Z")),
            Some(utc("2026-03-13T22:00:00Z"))
        );
        // Early Friday morning belongs to Thursday night, which is not a calling day.
        assert!(!w.is_open(utc("2026-03-06T01:00:00Z")));
        // Every night: open at 01:00, closed at 03:00 and 21:00.
        let nightly = overnight(
            "UTC",
            vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ],
        );
        assert!(nightly.is_open(utc("2026-03-04T01:00:00Z")));
        assert!(!nightly.is_open(utc("2026-03-04T03:00:00Z")));
        assert_eq!(
            nightly.next_open(utc("2026-03-04T03:00:00Z")),
            Some(utc("2026-03-04T22:00:00Z"))
        );
    }

    #[test]
    fn an_overnight_window_in_a_zone_ahead_of_utc() {
        // Tokyo (UTC+9, no DST): Monday 22:00–Tuesday 02:00 JST = Monday 13:00–17:00 UTC.
        let w = overnight("Asia/Tokyo", vec![Weekday::Mon]);
        assert_eq!(
            w.next_open(utc("2026-03-02T00:00:00Z")),
            Some(utc("2026-03-02T13:00:00Z"))
        );
        assert!(w.is_open(utc("2026-03-02T16:59:00Z")));
        assert!(!w.is_open(utc("2026-03-02T17:00:00Z")));
        assert_eq!(
            w.closes_at(utc("2026-03-02T15:30:00Z")),
            Some(utc("2026-03-02T17:00:00Z"))
        );
    }

    #[test]
    fn an_overnight_window_across_daylight_saving_changes() {
        // Europe/Berlin springs forward on Sunday 2026-03-29 (02:00 CET → 03:00 CEST): the
        // Saturday-night window opens at 22:00 CET (21:00 UTC) and its 02:00 close does not
        // exist that night, so it closes when local time exists again: 03:00 CEST = 01:00 UTC.
        let w = overnight("Europe/Berlin", vec![Weekday::Sat]);
        assert_eq!(
            w.next_open(utc("2026-03-28T12:00:00Z")),
            Some(utc("2026-03-28T21:00:00Z"))
        );
        assert!(w.is_open(utc("2026-03-29T00:30:00Z")));
        assert_eq!(
            w.closes_at(utc("2026-03-28T23:00:00Z")),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        assert!(!w.is_open(utc("2026-03-29T01:00:00Z")));
        // It falls back on Sunday 2026-10-25 (03:00 CEST → 02:00 CET): Saturday 22:00 CEST
        // = 20:00 UTC; 02:00 that night happens twice and the window closes at the first
        // (02:00 CEST = 00:00 UTC), so the repeated hour is not dialled into.
        assert_eq!(
            w.next_open(utc("2026-10-24T12:00:00Z")),
            Some(utc("2026-10-24T20:00:00Z"))
        );
        assert!(w.is_open(utc("2026-10-24T23:59:00Z")));
        assert!(!w.is_open(utc("2026-10-25T00:00:00Z")));
        assert!(!w.is_open(utc("2026-10-25T00:30:00Z")));
        // The next Saturday night is on winter time: 22:00 CET = 21:00 UTC to 01:00 UTC.
        assert_eq!(
            w.next_open(utc("2026-10-25T00:30:00Z")),
            Some(utc("2026-10-31T21:00:00Z"))
        );
        assert_eq!(
            w.closes_at(utc("2026-10-31T23:00:00Z")),
            Some(utc("2026-11-01T01:00:00Z"))
        );
        // New York, overnight every day of the spring-forward week-end (2026-03-08):
        // Saturday 22:00 EST = Sunday 03:00 UTC; it closes Sunday 02:00, which does not
        // exist (→ 03:00 EDT = 07:00 UTC).
        let ny = overnight("America/New_York", vec![Weekday::Sat, Weekday::Sun]);
        assert_eq!(
            ny.closes_at(utc("2026-03-08T05:00:00Z")),
            Some(utc("2026-03-08T07:00:00Z"))
        );
        // Sunday 22:00 EDT = Monday 02:00 UTC.
        assert_eq!(
            ny.next_open(utc("2026-03-08T07:00:00Z")),
            Some(utc("2026-03-09T02:00:00Z"))
        );
    }
}
