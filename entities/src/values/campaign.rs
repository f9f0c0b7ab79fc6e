//! A campaign's stored configuration: the number pool, the calling window and the retry
//! policy (with the call outcomes it names).

use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

use super::tolerant_json;

/// A calling window as stored and served: `{timezone, startTime, endTime, days}`. A stored
/// value of another shape reads as an empty window, which does not parse (no window).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct WindowSpec {
    pub timezone: String,
    pub start_time: String,
    pub end_time: String,
    #[serde(default = "weekdays")]
    pub days: Vec<String>,
}

/// Monday to Friday, the days of a window that names none.
pub fn weekdays() -> Vec<String> {
    ["mon", "tue", "wed", "thu", "fri"].map(String::from).to_vec()
}

/// How a call of a campaign ended (the call's final status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    NoAnswer,
    Busy,
    Failed,
    /// The process holding the call died; the carrier did place it, so it is never redialled.
    Interrupted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::NoAnswer => "no_answer",
            Self::Busy => "busy",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }

    /// The outcome of a call that reached `status`; `None` while it is still open.
    pub fn of_call_status(status: &str) -> Option<Self> {
        Some(match status {
            "completed" => Self::Completed,
            "no_answer" => Self::NoAnswer,
            "busy" => Self::Busy,
            "failed" | "canceled" => Self::Failed,
            "interrupted" => Self::Interrupted,
            _ => return None,
        })
    }
}

/// Which outcomes are retried, how often and how much later. Stored whole; a stored value
/// missing a key or of another shape reads as the default policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Attempts per contact in total (1 = never retried).
    pub max_attempts: u32,
    /// Wait before a retry.
    pub delay_secs: u64,
    pub retry_on: Vec<Outcome>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 1,
            delay_secs: 300,
            retry_on: vec![Outcome::NoAnswer, Outcome::Busy, Outcome::Failed],
        }
    }
}

tolerant_json!(WindowSpec, RetryPolicy);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_partial_or_unknown_policy_reads_as_the_default() {
        let p: Option<RetryPolicy> = serde_json::from_value(json!({ "maxAttempts": 3 })).ok();
        assert_eq!(p, Some(RetryPolicy::default()));
        let p: Option<RetryPolicy> =
            serde_json::from_value(json!({ "maxAttempts": 3, "delaySecs": 60, "retryOn": ["busy"], "x": 1 })).ok();
        assert_eq!(p.map(|p| (p.max_attempts, p.retry_on)), Some((3, vec![Outcome::Busy])));
        let w: Option<WindowSpec> =
            serde_json::from_value(json!({ "timezone": "UTC", "startTime": "09:00", "endTime": "17:00" })).ok();
        assert_eq!(w.map(|w| w.days), Some(weekdays()));
    }
}
