//! The pure webhook state machine: how one attempt's outcome moves a delivery
//! (`pending → delivered / failed / cancelled`, replay back to `pending`), the retry
//! schedule with jitter, and the endpoint's health clock. No actix, no IO.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Delivery (message) states. `Pending` covers "waiting for its next attempt".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
    Cancelled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Pending)
    }

    /// The one transition function every status change goes through.
    ///
    /// # Errors
    /// When `event` makes no sense in this state (e.g. an attempt on a delivered message).
    pub fn on(self, event: DeliveryEvent) -> Result<Self, InvalidTransition> {
        use DeliveryEvent as E;
        use DeliveryStatus as S;
        match (self, event) {
            (S::Pending, E::Succeeded) => Ok(S::Delivered),
            (S::Pending, E::FailedWillRetry) => Ok(S::Pending),
            (S::Pending, E::Exhausted) => Ok(S::Failed),
            (S::Pending, E::Cancelled) => Ok(S::Cancelled),
            (S::Failed, E::Replayed { .. }) => Ok(S::Pending),
            (S::Delivered | S::Cancelled, E::Replayed { include_all: true }) => Ok(S::Pending),
            (from, event) => Err(InvalidTransition { from, event }),
        }
    }
}

/// What can happen to a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryEvent {
    Succeeded,
    FailedWillRetry,
    /// The last attempt failed, or the receiver aborted or answered 410.
    Exhausted,
    /// The endpoint was disabled or deleted.
    Cancelled,
    /// A replay asked for it; `include_all` also replays delivered and cancelled ones.
    Replayed {
        include_all: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid delivery transition from {from:?} on {event:?}")]
pub struct InvalidTransition {
    pub from: DeliveryStatus,
    pub event: DeliveryEvent,
}

/// Status of one row of the delivery log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStatus {
    /// In flight (or interrupted by a crash until the delivery is claimed again).
    Pending,
    Sent,
    /// Failed, and no retry follows.
    Failed,
    /// Failed, and a retry is scheduled.
    Retrying,
}

impl AttemptStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Retrying => "retrying",
        }
    }
}

/// The retry schedule: the first attempt is immediate, then one attempt after each delay.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delays before attempts 2, 3, … (already scaled).
    pub delays: Vec<Duration>,
    /// Relative jitter, e.g. 0.1 for ±10 %.
    pub jitter: f64,
    /// Multiplies receiver-supplied `Retry-After` values (the test time scale).
    pub time_scale: f64,
    /// Upper bound for a `Retry-After` (after scaling).
    pub max_retry_after: Duration,
    /// An endpoint failing without a single success for this long is disabled.
    pub disable_after: Duration,
}

impl RetryPolicy {
    /// The Svix schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    pub fn svix() -> Self {
        let secs = [5, 300, 1800, 7200, 18000, 36000, 36000];
        Self {
            delays: secs.iter().map(|s| Duration::from_secs(*s)).collect(),
            jitter: 0.1,
            time_scale: 1.0,
            max_retry_after: Duration::from_secs(36000),
            disable_after: Duration::from_secs(5 * 86400),
        }
    }

    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX - 1) + 1
    }

    /// The delay after failed attempt `attempt` (1-based), jittered by `unit` ∈ [-1, 1];
    /// `None` when that was the last attempt.
    pub fn delay_after(&self, attempt: u32, unit: f64) -> Option<Duration> {
        let base = *self.delays.get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
        let factor = 1.0 + self.jitter.clamp(0.0, 1.0) * unit.clamp(-1.0, 1.0);
        Some(base.mul_f64(factor.max(0.0)))
    }

    /// A receiver's `Retry-After`, scaled and capped.
    pub fn retry_after(&self, raw: Duration) -> Duration {
        raw.mul_f64(self.time_scale.max(0.0)).min(self.max_retry_after)
    }
}

/// What one HTTP attempt produced, as the sender port reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A response arrived (any status).
    Response {
        status: u16,
        /// `Retry-After`, parsed (seconds or HTTP date), unscaled.
        retry_after: Option<Duration>,
        /// The receiver answered `webhook-delivery: abort-message`.
        abort: bool,
    },
    /// No response within the timeout.
    Timeout,
    /// Connection refused, reset, or closed before the status line.
    Network(String),
    /// The SSRF guard refused the destination at send time.
    Refused(String),
}

/// The actor's verdict on one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub attempt: AttemptStatus,
    pub delivery: DeliveryStatus,
    /// When the next attempt is due (retrying only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Error text for the log (None on success).
    pub error: Option<String>,
    /// True when this attempt counts toward the endpoint's failure clock.
    pub failure: bool,
    /// Disable the endpoint now (410 Gone), with this reason.
    pub disable: Option<String>,
}

/// Decides attempt number `attempt` (1-based, within the current round).
pub fn decide(policy: &RetryPolicy, attempt: u32, outcome: &Outcome, now: DateTime<Utc>, unit: f64) -> Decision {
    let (error, retry_after, final_reason) = match outcome {
        Outcome::Response { status, .. } if (200..300).contains(status) => {
            return Decision {
                attempt: AttemptStatus::Sent,
                delivery: DeliveryStatus::Delivered,
                next_attempt_at: None,
                error: None,
                failure: false,
                disable: None,
            };
        }
        Outcome::Response { status: 410, .. } => {
            return Decision {
                attempt: AttemptStatus::Failed,
                delivery: DeliveryStatus::Failed,
                next_attempt_at: None,
                error: Some("HTTP 410 Gone: endpoint disabled".into()),
                failure: true,
                disable: Some("endpoint answered 410 Gone".into()),
            };
        }
        Outcome::Response {
            status, abort: true, ..
        } => (
            format!("HTTP {status}: receiver aborted the message (webhook-delivery: abort-message)"),
            None,
            true,
        ),
        Outcome::Response {
            status, retry_after, ..
        } => {
            let text = if (300..400).contains(status) {
                format!("HTTP {status}: redirects are not followed")
            } else {
                format!("HTTP {status}")
            };
            let honoured = if matches!(status, 429 | 503) {
                *retry_after
            } else {
                None
            };
            (text, honoured, false)
        }
        Outcome::Timeout => ("timeout: no response in time".into(), None, false),
        Outcome::Network(e) => (format!("network error: {e}"), None, false),
        Outcome::Refused(e) => (format!("destination refused: {e}"), None, false),
    };
    let delay = if final_reason {
        None
    } else {
        policy.delay_after(attempt, unit).map(|d| match retry_after {
            Some(ra) => d.max(policy.retry_after(ra)),
            None => d,
        })
    };
    match delay {
        Some(d) => Decision {
            attempt: AttemptStatus::Retrying,
            delivery: DeliveryStatus::Pending,
            next_attempt_at: Some(now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)),
            error: Some(error),
            failure: true,
            disable: None,
        },
        None => Decision {
            attempt: AttemptStatus::Failed,
            delivery: DeliveryStatus::Failed,
            next_attempt_at: None,
            error: Some(error),
            failure: true,
            disable: None,
        },
    }
}

/// The endpoint's failure clock: disabled once it has failed, without a single success,
/// for `disable_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Health {
    pub failing_since: Option<DateTime<Utc>>,
}

/// What a health update asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthChange {
    Unchanged,
    /// `failing_since` changed and must be persisted.
    Changed,
    /// Failing for longer than the window: disable the endpoint.
    Disable,
}

impl Health {
    pub fn on_success(&mut self) -> HealthChange {
        if self.failing_since.take().is_some() {
            HealthChange::Changed
        } else {
            HealthChange::Unchanged
        }
    }

    pub fn on_failure(&mut self, now: DateTime<Utc>, disable_after: Duration) -> HealthChange {
        match self.failing_since {
            None => {
                self.failing_since = Some(now);
                HealthChange::Changed
            }
            Some(since) if (now - since).to_std().is_ok_and(|d| d >= disable_after) => HealthChange::Disable,
            Some(_) => HealthChange::Unchanged,
        }
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(raw: &str, now: DateTime<Utc>) -> Option<Duration> {
    let raw = raw.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(raw).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            delays: vec![Duration::from_secs(5), Duration::from_secs(300)],
            jitter: 0.1,
            time_scale: 1.0,
            max_retry_after: Duration::from_secs(3600),
            disable_after: Duration::from_secs(100),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn response(status: u16) -> Outcome {
        Outcome::Response {
            status,
            retry_after: None,
            abort: false,
        }
    }

    #[test]
    fn every_delivery_transition() {
        use DeliveryEvent as E;
        use DeliveryStatus as S;
        let all = [S::Pending, S::Delivered, S::Failed, S::Cancelled];
        let events = [
            E::Succeeded,
            E::FailedWillRetry,
            E::Exhausted,
            E::Cancelled,
            E::Replayed { include_all: false },
            E::Replayed { include_all: true },
        ];
        let mut allowed = Vec::new();
        for from in all {
            for event in events {
                if let Ok(to) = from.on(event) {
                    allowed.push((from, event, to));
                }
            }
        }
        assert_eq!(
            allowed,
            vec![
                (S::Pending, E::Succeeded, S::Delivered),
                (S::Pending, E::FailedWillRetry, S::Pending),
                (S::Pending, E::Exhausted, S::Failed),
                (S::Pending, E::Cancelled, S::Cancelled),
                (S::Delivered, E::Replayed { include_all: true }, S::Pending),
                (S::Failed, E::Replayed { include_all: false }, S::Pending),
                (S::Failed, E::Replayed { include_all: true }, S::Pending),
                (S::Cancelled, E::Replayed { include_all: true }, S::Pending),
            ]
        );
        assert!(S::Delivered.on(E::Succeeded).is_err());
        for s in all {
            assert_eq!(S::parse(s.as_str()), Some(s));
            assert_eq!(s.is_terminal(), s != S::Pending);
        }
        assert_eq!(S::parse("sent"), None);
    }

    #[test]
    fn success_delivers() {
        for status in [200, 201, 204, 299] {
            let d = decide(&policy(), 1, &response(status), now(), 0.0);
            assert_eq!(
                (d.attempt, d.delivery, d.failure),
                (AttemptStatus::Sent, DeliveryStatus::Delivered, false)
            );
            assert_eq!(d.error, None);
        }
    }

    #[test]
    fn failures_retry_on_schedule_then_exhaust() {
        for outcome in [
            response(500),
            response(404),
            response(302),
            Outcome::Timeout,
            Outcome::Network("reset".into()),
            Outcome::Refused("blocked".into()),
        ] {
            let d1 = decide(&policy(), 1, &outcome, now(), 0.0);
            assert_eq!(
                (d1.attempt, d1.delivery),
                (AttemptStatus::Retrying, DeliveryStatus::Pending)
            );
            assert_eq!(d1.next_attempt_at, Some(now() + chrono::Duration::seconds(5)));
            let d2 = decide(&policy(), 2, &outcome, now(), 0.0);
            assert_eq!(d2.next_attempt_at, Some(now() + chrono::Duration::seconds(300)));
            let d3 = decide(&policy(), 3, &outcome, now(), 0.0);
            assert_eq!(
                (d3.attempt, d3.delivery),
                (AttemptStatus::Failed, DeliveryStatus::Failed)
            );
            assert!(d3.next_attempt_at.is_none() && d3.failure && d3.disable.is_none());
        }
        let redirect = decide(&policy(), 1, &response(301), now(), 0.0);
        assert!(redirect.error.unwrap().contains("not followed"));
    }

    #[test]
    fn gone_disables_and_abort_stops() {
        let d = decide(&policy(), 1, &response(410), now(), 0.0);
        assert_eq!((d.attempt, d.delivery), (AttemptStatus::Failed, DeliveryStatus::Failed));
        assert!(d.disable.is_some());
        let abort = Outcome::Response {
            status: 500,
            retry_after: None,
            abort: true,
        };
        let d = decide(&policy(), 1, &abort, now(), 0.0);
        assert_eq!(d.delivery, DeliveryStatus::Failed);
        assert!(d.disable.is_none());
    }

    #[test]
    fn retry_after_is_honoured_on_429_and_503_only() {
        let throttled = |status| Outcome::Response {
            status,
            retry_after: Some(Duration::from_secs(60)),
            abort: false,
        };
        for status in [429, 503] {
            let d = decide(&policy(), 1, &throttled(status), now(), 0.0);
            assert_eq!(d.next_attempt_at, Some(now() + chrono::Duration::seconds(60)));
        }
        // Never earlier than the schedule, and ignored on other statuses.
        let d = decide(&policy(), 2, &throttled(429), now(), 0.0);
        assert_eq!(d.next_attempt_at, Some(now() + chrono::Duration::seconds(300)));
        let d = decide(&policy(), 1, &throttled(500), now(), 0.0);
        assert_eq!(d.next_attempt_at, Some(now() + chrono::Duration::seconds(5)));
        // Scaled and capped.
        let mut p = policy();
        p.time_scale = 0.001;
        p.delays = vec![Duration::from_millis(1)];
        let d = decide(&p, 1, &throttled(429), now(), 0.0);
        assert_eq!(d.next_attempt_at, Some(now() + chrono::Duration::milliseconds(60)));
        p.time_scale = 1000.0;
        assert_eq!(p.retry_after(Duration::from_secs(60)), Duration::from_secs(3600));
    }

    #[test]
    fn backoff_schedule_and_jitter() {
        let p = RetryPolicy::svix();
        assert_eq!(p.max_attempts(), 8);
        let total: u64 = (1..8).map(|a| p.delay_after(a, 0.0).unwrap().as_secs()).sum();
        assert_eq!(total, 5 + 300 + 1800 + 7200 + 18000 + 36000 + 36000);
        assert_eq!(p.delay_after(8, 0.0), None);
        assert_eq!(p.delay_after(0, 0.0), None);
        assert_eq!(p.delay_after(1, 1.0), Some(Duration::from_millis(5500)));
        assert_eq!(p.delay_after(1, -1.0), Some(Duration::from_millis(4500)));
        // Out-of-range jitter input is clamped.
        assert_eq!(p.delay_after(1, 7.0), Some(Duration::from_millis(5500)));
    }

    #[test]
    fn health_clock_disables_after_the_window_and_resets_on_success() {
        let mut h = Health::default();
        let window = Duration::from_secs(100);
        assert_eq!(h.on_success(), HealthChange::Unchanged);
        assert_eq!(h.on_failure(now(), window), HealthChange::Changed);
        assert_eq!(
            h.on_failure(now() + chrono::Duration::seconds(50), window),
            HealthChange::Unchanged
        );
        assert_eq!(h.on_success(), HealthChange::Changed);
        assert_eq!(h.failing_since, None);
        assert_eq!(
            h.on_failure(now() + chrono::Duration::seconds(60), window),
            HealthChange::Changed
        );
        assert_eq!(
            h.on_failure(now() + chrono::Duration::seconds(159), window),
            HealthChange::Unchanged
        );
        assert_eq!(
            h.on_failure(now() + chrono::Duration::seconds(160), window),
            HealthChange::Disable
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 7 ", now()), Some(Duration::from_secs(7)));
        let date = (now() + chrono::Duration::seconds(30)).to_rfc2822();
        assert_eq!(parse_retry_after(&date, now()), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now()), None);
    }
}
