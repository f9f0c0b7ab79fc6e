//! The campaign's pure state machine: campaign status (`draft → running ⇄ paused →
//! completed`), per-contact status (`queued → in_progress → completed / failed /
//! suppressed`, back to `queued` for a retry), the retry decision after a call, and the
//! progress figures (`percentComplete`, `successRate`) both stats views share.

use serde::{Deserialize, Serialize};

pub use thruai_entities::values::status::CampaignStatus;

pub const ALL_CAMPAIGN_STATUSES: &[CampaignStatus] = CampaignStatus::ALL;

/// What can happen to a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `POST /start` (also resumes a paused campaign).
    Start,
    /// `POST /pause`.
    Pause,
    /// The actor found no contact left to dial or waiting for an outcome.
    Finish,
}

pub const ALL_COMMANDS: [Command; 3] = [Command::Start, Command::Pause, Command::Finish];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {from} campaign cannot be {verb}")]
pub struct IllegalTransition {
    pub from: &'static str,
    pub verb: &'static str,
}

/// The next status, or why the command is refused. Starting a running campaign and
/// pausing a paused one change nothing (so retries are harmless).
///
/// # Errors
/// [`IllegalTransition`] for a transition the lifecycle does not have.
pub fn transition(from: CampaignStatus, cmd: Command) -> Result<CampaignStatus, IllegalTransition> {
    use CampaignStatus as S;
    let illegal = |verb| {
        Err(IllegalTransition {
            from: from.as_str(),
            verb,
        })
    };
    match (from, cmd) {
        (S::Draft | S::Paused | S::Running, Command::Start) => Ok(S::Running),
        (S::Running | S::Paused, Command::Pause) => Ok(S::Paused),
        (S::Running, Command::Finish) => Ok(S::Completed),
        (S::Completed, Command::Start) => illegal("started (it is completed)"),
        (S::Draft, Command::Pause) => illegal("paused (start it first)"),
        (S::Completed, Command::Pause) => illegal("paused (it is completed)"),
        (S::Draft | S::Paused | S::Completed, Command::Finish) => illegal("completed (it is not running)"),
    }
}

/// The command a `PATCH {status}` stands for.
pub fn command_for(target: CampaignStatus) -> Option<Command> {
    match target {
        CampaignStatus::Running => Some(Command::Start),
        CampaignStatus::Paused => Some(Command::Pause),
        CampaignStatus::Draft | CampaignStatus::Completed => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ContactStatus {
    Queued,
    InProgress,
    Completed,
    Failed,
    Suppressed,
}

pub const ALL_CONTACT_STATUSES: [ContactStatus; 5] = [
    ContactStatus::Queued,
    ContactStatus::InProgress,
    ContactStatus::Completed,
    ContactStatus::Failed,
    ContactStatus::Suppressed,
];

impl ContactStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Suppressed => "suppressed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ALL_CONTACT_STATUSES.into_iter().find(|c| c.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Suppressed)
    }
}

pub use thruai_entities::values::campaign::{Outcome, RetryPolicy};

/// What becomes of a contact after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Complete,
    /// Back to `queued`, not before `delay_secs`.
    Retry {
        delay_secs: u64,
    },
    Fail,
}

/// The decision after attempt number `attempts` (1-based) ended with `outcome`.
pub fn after_call(outcome: Outcome, attempts: u32, policy: &RetryPolicy) -> Decision {
    match outcome {
        Outcome::Completed => Decision::Complete,
        Outcome::Interrupted => Decision::Fail,
        other if policy.retry_on.contains(&other) && attempts < policy.max_attempts => Decision::Retry {
            delay_secs: policy.delay_secs,
        },
        _ => Decision::Fail,
    }
}

/// Events of a contact's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactEvent {
    /// The dial intent was recorded.
    Dial,
    /// Opted out or on the do-not-call list when its turn came.
    Suppress,
    /// The call ended and the policy decided.
    Decided(Decision),
}

pub const CONTACT_EVENTS: [ContactEvent; 5] = [
    ContactEvent::Dial,
    ContactEvent::Suppress,
    ContactEvent::Decided(Decision::Complete),
    ContactEvent::Decided(Decision::Retry { delay_secs: 0 }),
    ContactEvent::Decided(Decision::Fail),
];

/// The contact's next status.
///
/// # Errors
/// [`IllegalTransition`] when the event does not apply (a contact is dialled only from
/// `queued`, and decided only while `in_progress`).
pub fn contact_on(from: ContactStatus, event: ContactEvent) -> Result<ContactStatus, IllegalTransition> {
    use ContactStatus as C;
    match (from, event) {
        (C::Queued, ContactEvent::Dial) => Ok(C::InProgress),
        (C::Queued, ContactEvent::Suppress) => Ok(C::Suppressed),
        (C::InProgress, ContactEvent::Decided(Decision::Complete)) => Ok(C::Completed),
        (C::InProgress, ContactEvent::Decided(Decision::Retry { .. })) => Ok(C::Queued),
        (C::InProgress, ContactEvent::Decided(Decision::Fail)) => Ok(C::Failed),
        _ => Err(IllegalTransition {
            from: from.as_str(),
            verb: match event {
                ContactEvent::Dial => "dialled",
                ContactEvent::Suppress => "suppressed",
                ContactEvent::Decided(_) => "decided",
            },
        }),
    }
}

/// Contacts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub total: u64,
    pub queued: u64,
    pub in_progress: u64,
    pub completed: u64,
    pub failed: u64,
    pub suppressed: u64,
}

impl Counts {
    pub fn add(&mut self, status: ContactStatus, n: u64) {
        self.total += n;
        match status {
            ContactStatus::Queued => self.queued += n,
            ContactStatus::InProgress => self.in_progress += n,
            ContactStatus::Completed => self.completed += n,
            ContactStatus::Failed => self.failed += n,
            ContactStatus::Suppressed => self.suppressed += n,
        }
    }

    /// Finished contacts (completed, failed or suppressed) in % of all, 2 decimals.
    pub fn percent_complete(&self) -> f64 {
        pct(self.completed + self.failed + self.suppressed, self.total)
    }

    /// `completed / totalAttempted × 100` (changelog 1.2.0): attempted contacts are those
    /// whose dialling finished (completed or failed); suppressed ones were never dialled.
    pub fn success_rate(&self) -> f64 {
        pct(self.completed, self.completed + self.failed)
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    ((part as f64 / whole as f64) * 10_000.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_campaign_transition_is_decided() {
        use CampaignStatus as S;
        let expected = |from: S, cmd: Command| -> Option<S> {
            match (from, cmd) {
                (S::Draft | S::Paused | S::Running, Command::Start) => Some(S::Running),
                (S::Running | S::Paused, Command::Pause) => Some(S::Paused),
                (S::Running, Command::Finish) => Some(S::Completed),
                _ => None,
            }
        };
        for &from in ALL_CAMPAIGN_STATUSES {
            for cmd in ALL_COMMANDS {
                assert_eq!(transition(from, cmd).ok(), expected(from, cmd), "{from:?} + {cmd:?}");
            }
        }
        assert_eq!(
            transition(S::Completed, Command::Start).unwrap_err().to_string(),
            "a completed campaign cannot be started (it is completed)"
        );
    }

    #[test]
    fn patch_status_maps_to_commands() {
        assert_eq!(command_for(CampaignStatus::Running), Some(Command::Start));
        assert_eq!(command_for(CampaignStatus::Paused), Some(Command::Pause));
        assert_eq!(command_for(CampaignStatus::Draft), None);
        assert_eq!(command_for(CampaignStatus::Completed), None);
    }

    #[test]
    fn every_contact_transition_is_decided() {
        use ContactStatus as C;
        for from in ALL_CONTACT_STATUSES {
            for ev in CONTACT_EVENTS {
                let want = match (from, ev) {
                    (C::Queued, ContactEvent::Dial) => Some(C::InProgress),
                    (C::Queued, ContactEvent::Suppress) => Some(C::Suppressed),
                    (C::InProgress, ContactEvent::Decided(Decision::Complete)) => Some(C::Completed),
                    (C::InProgress, ContactEvent::Decided(Decision::Retry { .. })) => Some(C::Queued),
                    (C::InProgress, ContactEvent::Decided(Decision::Fail)) => Some(C::Failed),
                    _ => None,
                };
                assert_eq!(contact_on(from, ev).ok(), want, "{from:?} + {ev:?}");
            }
        }
        for s in ALL_CONTACT_STATUSES {
            assert_eq!(ContactStatus::parse(s.as_str()), Some(s));
            assert_eq!(s.is_terminal(), matches!(s, C::Completed | C::Failed | C::Suppressed));
        }
    }

    #[test]
    fn retries_follow_the_policy() {
        let p = RetryPolicy {
            max_attempts: 3,
            delay_secs: 60,
            retry_on: vec![Outcome::NoAnswer, Outcome::Busy],
        };
        assert_eq!(after_call(Outcome::Completed, 1, &p), Decision::Complete);
        assert_eq!(after_call(Outcome::NoAnswer, 1, &p), Decision::Retry { delay_secs: 60 });
        assert_eq!(after_call(Outcome::Busy, 2, &p), Decision::Retry { delay_secs: 60 });
        assert_eq!(after_call(Outcome::Busy, 3, &p), Decision::Fail);
        // Not in retryOn.
        assert_eq!(after_call(Outcome::Failed, 1, &p), Decision::Fail);
        // A call a crash interrupted was placed: never redialled.
        assert_eq!(after_call(Outcome::Interrupted, 1, &p), Decision::Fail);
        let once = RetryPolicy::default();
        assert_eq!(after_call(Outcome::Busy, 1, &once), Decision::Fail);
    }

    #[test]
    fn call_statuses_map_to_outcomes() {
        assert_eq!(Outcome::of_call_status("completed"), Some(Outcome::Completed));
        assert_eq!(Outcome::of_call_status("no_answer"), Some(Outcome::NoAnswer));
        assert_eq!(Outcome::of_call_status("busy"), Some(Outcome::Busy));
        assert_eq!(Outcome::of_call_status("canceled"), Some(Outcome::Failed));
        assert_eq!(Outcome::of_call_status("interrupted"), Some(Outcome::Interrupted));
        assert_eq!(Outcome::of_call_status("in_progress"), None);
        assert_eq!(Outcome::of_call_status("queued"), None);
    }

    #[test]
    fn progress_figures() {
        let mut c = Counts::default();
        assert_eq!(c.percent_complete(), 0.0);
        assert_eq!(c.success_rate(), 0.0);
        c.add(ContactStatus::Completed, 2);
        c.add(ContactStatus::Failed, 1);
        c.add(ContactStatus::Suppressed, 1);
        c.add(ContactStatus::Queued, 2);
        assert_eq!(c.total, 6);
        assert_eq!(c.percent_complete(), 66.67);
        assert_eq!(c.success_rate(), 66.67);
    }
}
