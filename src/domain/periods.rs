//! Reporting periods, pure: the query's dates read as the client sends them, local days in a
//! time zone (DST included), and buckets by day, ISO week or month — computed here, not in
//! SQL, so SQLite and PostgreSQL give the same answer.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The most buckets one answer holds.
pub const MAX_BUCKETS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Week,
    Month,
}

impl Granularity {
    pub const VALUES: &'static [&'static str] = &["day", "week", "month"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "day" | "daily" => Some(Self::Day),
            "week" | "weekly" => Some(Self::Week),
            "month" | "monthly" => Some(Self::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// The first day of the bucket holding `d` (Monday for a week).
    pub fn start_of(self, d: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => d,
            Self::Week => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
            Self::Month => d.with_day(1).unwrap_or(d),
        }
    }

    fn next(self, d: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => d + Duration::days(1),
            Self::Week => d + Duration::days(7),
            Self::Month => {
                let (y, m) = if d.month() == 12 {
                    (d.year() + 1, 1)
                } else {
                    (d.year(), d.month() + 1)
                };
                NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
            }
        }
    }
}

/// A date as clients send it: `2026-03-01`, or a timestamp (`2026-03-01T00:00:00Z`) read as
/// its date in `tz`.
pub fn parse_date(s: &str, tz: Tz) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().or_else(|| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&tz).date_naive())
    })
}

/// The local date of an instant.
pub fn local_date(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// The instant a local day starts (the first valid instant, across a DST gap).
fn day_start(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // Midnight does not exist that day: the day starts an hour later.
            tz.from_local_datetime(&(midnight + Duration::hours(1)))
                .earliest()
                .map_or_else(|| Utc.from_utc_datetime(&midnight), |t| t.with_timezone(&Utc))
        }
    }
}

/// `[start of `from`, start of the day after `to`)` in UTC.
pub fn utc_bounds(from: NaiveDate, to: NaiveDate, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    (day_start(from, tz), day_start(to + Duration::days(1), tz))
}

/// The buckets' first days from `from`'s bucket to `to`'s, in order.
pub fn buckets(from: NaiveDate, to: NaiveDate, g: Granularity) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut d = g.start_of(from);
    while d <= to && out.len() <= MAX_BUCKETS {
        out.push(d);
        d = g.next(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn buckets_by_day_week_and_month() {
        assert_eq!(buckets(d("2026-03-30"), d("2026-04-02"), Granularity::Day).len(), 4);
        assert_eq!(
            buckets(d("2026-03-04"), d("2026-03-17"), Granularity::Week),
            vec![d("2026-03-02"), d("2026-03-09"), d("2026-03-16")]
        );
        assert_eq!(
            buckets(d("2026-11-15"), d("2027-01-02"), Granularity::Month),
            vec![d("2026-11-01"), d("2026-12-01"), d("2027-01-01")]
        );
        assert_eq!(Granularity::parse("weekly"), Some(Granularity::Week));
        assert_eq!(Granularity::parse("hour"), None);
    }

    #[test]
    fn local_days_follow_the_time_zone_across_dst() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08 is the spring-forward day in New York: 23 hours long.
        let (start, end) = utc_bounds(d("2026-03-08"), d("2026-03-08"), ny);
        assert_eq!(end - start, Duration::hours(23));
        assert_eq!(start.to_rfc3339(), "2026-03-08T05:00:00+00:00");
        let late = Utc.with_ymd_and_hms(2026, 3, 9, 3, 30, 0).unwrap();
        assert_eq!(local_date(late, ny), d("2026-03-08"));
        assert_eq!(parse_date("2026-03-09T03:30:00Z", ny), Some(d("2026-03-08")));
        assert_eq!(parse_date("03/09/2026", ny), None);
        // A zone whose midnight is skipped still has a day.
        let havana: Tz = "America/Havana".parse().unwrap();
        let (s, e) = utc_bounds(d("2026-03-08"), d("2026-03-08"), havana);
        assert!(e > s);
    }
}
