//! The call's lifecycle as a pure state machine: `queued → ringing → in_progress →
//! completed / failed / busy / no_answer / canceled`, and `interrupted` after a crash.
//! `on` returns the next status and the effects the actor must carry out, in order.

use serde::{Deserialize, Serialize};

pub use thruai_entities::values::status::CallStatus;

pub const ALL_STATUSES: &[CallStatus] = CallStatus::ALL;

/// The call's transitions, on the stored status type.
pub trait Transitions: Sized {
    /// The next status and the effects, or why the event does not apply.
    ///
    /// # Errors
    /// An event that does not apply in this status.
    fn on(self, event: Event) -> Result<(CallStatus, Vec<Effect>), InvalidTransition>;
}

impl Transitions for CallStatus {
    fn on(self, event: Event) -> Result<(CallStatus, Vec<Effect>), InvalidTransition> {
        transition(self, event)
    }
}

/// The carrier's status (`in-progress`, `no-answer`, ...) as an event, if it is one.
pub fn carrier_event(twilio_status: &str) -> Option<Event> {
    Some(match twilio_status {
        "ringing" => Event::Ringing,
        "in-progress" | "answered" => Event::Answered,
        "completed" => Event::Completed,
        "busy" => Event::Busy,
        "no-answer" => Event::NoAnswer,
        "failed" => Event::Failed,
        "canceled" => Event::Canceled,
        _ => return None,
    })
}

/// What happened to the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Ringing,
    Answered,
    /// The conversation ended normally (either side hung up).
    Completed,
    Busy,
    NoAnswer,
    Failed,
    /// Hung up before it was answered.
    Canceled,
    /// The process holding the call died; found at start-up.
    Crashed,
}

/// Domain events written to the outbox with the transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DomainEvent {
    CallStarted,
    CallCompleted,
    CallFailed,
    TranscriptReady,
}

impl DomainEvent {
    pub fn name(self) -> &'static str {
        match self {
            Self::CallStarted => "call.started",
            Self::CallCompleted => "call.completed",
            Self::CallFailed => "call.failed",
            Self::TranscriptReady => "transcript.ready",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Write the snapshot (with the events below, in one transaction).
    Persist,
    Emit(DomainEvent),
    /// Start the voice pipeline (greeting first).
    StartPipeline,
    /// Stop the pipeline and close the media stream.
    StopPipeline,
    /// Stop the actor once the effects are done.
    Stop,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no transition from {from:?} on {event:?}")]
pub struct InvalidTransition {
    pub from: CallStatus,
    pub event: Event,
}

fn ended(event: DomainEvent) -> Vec<Effect> {
    vec![
        Effect::StopPipeline,
        Effect::Persist,
        Effect::Emit(event),
        Effect::Emit(DomainEvent::TranscriptReady),
        Effect::Stop,
    ]
}

fn failed_before_answer() -> Vec<Effect> {
    vec![Effect::Persist, Effect::Emit(DomainEvent::CallFailed), Effect::Stop]
}

/// The next status and the effects, or why the event does not apply.
fn transition(status: CallStatus, event: Event) -> Result<(CallStatus, Vec<Effect>), InvalidTransition> {
    {
        use CallStatus as S;
        use Event as E;
        let next = match (status, event) {
            (S::Queued, E::Ringing) => (S::Ringing, vec![Effect::Persist]),
            (S::Queued | S::Ringing, E::Answered) => (
                S::InProgress,
                vec![
                    Effect::Persist,
                    Effect::Emit(DomainEvent::CallStarted),
                    Effect::StartPipeline,
                ],
            ),
            (S::Queued | S::Ringing, E::Busy) => (S::Busy, failed_before_answer()),
            (S::Queued | S::Ringing, E::NoAnswer) => (S::NoAnswer, failed_before_answer()),
            (S::Queued | S::Ringing, E::Failed) => (S::Failed, failed_before_answer()),
            (S::Queued | S::Ringing, E::Canceled | E::Completed) => (S::Canceled, vec![Effect::Persist, Effect::Stop]),
            (S::InProgress, E::Completed) => (S::Completed, ended(DomainEvent::CallCompleted)),
            (S::InProgress, E::Failed) => (S::Failed, ended(DomainEvent::CallFailed)),
            (S::Queued | S::Ringing, E::Crashed) => (S::Interrupted, failed_before_answer()),
            (S::InProgress, E::Crashed) => (S::Interrupted, ended(DomainEvent::CallFailed)),
            (from, event) => return Err(InvalidTransition { from, event }),
        };
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::{CallStatus as S, DomainEvent as D, Effect as F, Event as E, *};

    const EVENTS: &[Event] = &[
        E::Ringing,
        E::Answered,
        E::Completed,
        E::Busy,
        E::NoAnswer,
        E::Failed,
        E::Canceled,
        E::Crashed,
    ];

    /// Every (status, event) pair and where it leads; `None` is an invalid transition.
    fn expected(from: S, event: E) -> Option<S> {
        Some(match (from, event) {
            (S::Queued, E::Ringing) => S::Ringing,
            (S::Queued | S::Ringing, E::Answered) => S::InProgress,
            (S::Queued | S::Ringing, E::Busy) => S::Busy,
            (S::Queued | S::Ringing, E::NoAnswer) => S::NoAnswer,
            (S::Queued | S::Ringing, E::Failed) => S::Failed,
            (S::Queued | S::Ringing, E::Canceled | E::Completed) => S::Canceled,
            (S::InProgress, E::Completed) => S::Completed,
            (S::InProgress, E::Failed) => S::Failed,
            (S::Queued | S::Ringing | S::InProgress, E::Crashed) => S::Interrupted,
            _ => return None,
        })
    }

    #[test]
    fn every_transition_of_the_table() {
        for &from in ALL_STATUSES {
            for &event in EVENTS {
                let got = from.on(event).map(|(s, _)| s).ok();
                assert_eq!(got, expected(from, event), "{from:?} on {event:?}");
            }
        }
    }

    #[test]
    fn terminal_states_accept_nothing() {
        for &from in ALL_STATUSES.iter().filter(|s| s.is_terminal()) {
            for &event in EVENTS {
                assert_eq!(from.on(event), Err(InvalidTransition { from, event }));
            }
        }
    }

    #[test]
    fn answering_persists_then_announces_then_starts_the_pipeline() {
        let (_, effects) = S::Ringing.on(E::Answered).unwrap();
        assert_eq!(effects, vec![F::Persist, F::Emit(D::CallStarted), F::StartPipeline]);
    }

    #[test]
    fn a_live_call_ending_stops_the_pipeline_and_reports_the_transcript() {
        let (_, effects) = S::InProgress.on(E::Completed).unwrap();
        assert_eq!(
            effects,
            vec![
                F::StopPipeline,
                F::Persist,
                F::Emit(D::CallCompleted),
                F::Emit(D::TranscriptReady),
                F::Stop
            ]
        );
        let (_, effects) = S::InProgress.on(E::Crashed).unwrap();
        assert!(effects.contains(&F::Emit(D::CallFailed)));
        assert!(effects.contains(&F::Emit(D::TranscriptReady)));
    }

    #[test]
    fn unanswered_outcomes_fail_without_a_transcript() {
        for event in [E::Busy, E::NoAnswer, E::Failed] {
            let (_, effects) = S::Ringing.on(event).unwrap();
            assert_eq!(effects, vec![F::Persist, F::Emit(D::CallFailed), F::Stop]);
        }
        let (s, effects) = S::Queued.on(E::Canceled).unwrap();
        assert_eq!((s, effects), (S::Canceled, vec![F::Persist, F::Stop]));
    }

    #[test]
    fn statuses_parse_and_carrier_statuses_map() {
        for &s in ALL_STATUSES {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        assert_eq!(carrier_event("in-progress"), Some(E::Answered));
        assert_eq!(carrier_event("no-answer"), Some(E::NoAnswer));
        assert_eq!(carrier_event("initiated"), None);
    }
}
