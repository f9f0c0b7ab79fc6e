//! The A2P registration state machine, pure: `draft → pending → in_review → approved /
//! rejected / failed`, with the carrier's sub-state, an intent before every submission and
//! a polling backoff. No actix, no IO: every transition is unit-tested below.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What is being registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Brand,
    Campaign,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Brand => "brand",
            Self::Campaign => "campaign",
        }
    }
}

/// A registration's status, as stored on its row.
pub use thruai_entities::values::status::RegistrationStatus as Phase;

/// The carrier's verdict, mapped from its own vocabulary (`PENDING`, `IN_REVIEW`, `VERIFIED`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CarrierPhase {
    Pending,
    InReview,
    Approved,
    Rejected,
}

/// One answer to a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierStatus {
    pub phase: CarrierPhase,
    /// The carrier's own status string, shown as `substatus`.
    pub substatus: String,
    pub reason: Option<String>,
}

/// A submission recorded before it is sent. Its key is derived from the registration, so a
/// retry or a restart names the same submission and the carrier can be asked about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub key: String,
    /// Times it was handed to the carrier (a crash may leave one unacknowledged).
    pub attempts: u32,
}

/// Polling backoff: `initial × 2^n`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    pub fn delay(&self, n: u32) -> Duration {
        self.initial.saturating_mul(1u32 << n.min(20)).min(self.max)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub id: String,
    pub org_id: String,
    pub kind: Kind,
    pub phase: Phase,
    pub substatus: Option<String>,
    /// The carrier's id(s) once it acknowledged the submission.
    pub carrier_ref: Option<String>,
    /// Set from the moment a submission is decided until the carrier's answer is known.
    pub intent: Option<Intent>,
    pub rejection_reason: Option<String>,
    /// What is submitted (the registration as the API received it, plus carrier ids it needs).
    pub payload: Value,
    /// Polls since the last change (drives the backoff).
    pub polls: u32,
}

/// Status change carried by `a2p.brand.status_changed` / `a2p.campaign.status_changed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub from: Phase,
    pub to: Phase,
    pub substatus: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Submit a draft.
    Submit,
    /// The actor was rehydrated from its snapshot.
    Resume,
    /// Send the submission whose intent the caller already recorded (with the registration).
    SendIntent,
    /// The carrier acknowledged the submission (or a lookup found it).
    Submitted {
        carrier_ref: String,
    },
    /// The submission failed; `transient` when it may not have reached the carrier.
    SubmitFailed {
        reason: String,
        transient: bool,
    },
    /// The in-doubt submission was looked up: found, or certainly never received.
    Reconciled {
        carrier_ref: Option<String>,
    },
    LookupFailed {
        reason: String,
    },
    /// A timer fired or a client asked to refresh.
    PollDue,
    Polled(CarrierStatus),
    PollFailed {
        reason: String,
    },
}

/// What the actor must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Write the snapshot (with the change's event, in the same transaction).
    Persist(Option<StatusChange>),
    Submit {
        key: String,
    },
    Lookup {
        key: String,
    },
    Poll {
        carrier_ref: String,
    },
    /// Deliver `PollDue` after this delay (replaces any pending timer).
    Schedule(Duration),
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("event {event} does not apply to a registration in {phase:?}")]
pub struct InvalidTransition {
    pub phase: Phase,
    pub event: String,
}

/// The idempotency key of a registration's submission.
pub fn submission_key(kind: Kind, id: &str) -> String {
    format!("thruai-a2p-{}-{id}-submit", kind.as_str())
}

impl Registration {
    pub fn new(id: &str, org_id: &str, kind: Kind, payload: Value) -> Self {
        Self {
            id: id.to_string(),
            org_id: org_id.to_string(),
            kind,
            phase: Phase::Draft,
            substatus: None,
            carrier_ref: None,
            intent: None,
            rejection_reason: None,
            payload,
            polls: 0,
        }
    }

    fn change(&self, from: Phase) -> Option<StatusChange> {
        Some(StatusChange {
            from,
            to: self.phase,
            substatus: self.substatus.clone(),
            reason: self.rejection_reason.clone(),
        })
    }

    /// Returns the next state and the effects to carry out, in order.
    ///
    /// # Errors
    /// An event that makes no sense in the current phase (a bug in the caller).
    pub fn on(mut self, event: Event, backoff: &Backoff) -> Result<(Self, Vec<Effect>), InvalidTransition> {
        let from = self.phase;
        let invalid = |phase: Phase, event: &Event| InvalidTransition {
            phase,
            event: format!("{event:?}"),
        };
        let effects = match event {
            Event::Submit if from == Phase::Draft => self.begin_submission(from),
            Event::Submit => return Err(invalid(from, &Event::Submit)),
            Event::SendIntent => match (&self.carrier_ref, &self.intent) {
                (None, Some(intent)) if !from.is_terminal() => vec![Effect::Submit {
                    key: intent.key.clone(),
                }],
                _ => vec![],
            },
            Event::Resume => match (&self.carrier_ref, &self.intent) {
                _ if from.is_terminal() => vec![],
                (None, None) if from == Phase::Draft => self.begin_submission(from),
                (None, Some(intent)) => vec![Effect::Lookup {
                    key: intent.key.clone(),
                }],
                (Some(r), _) => vec![Effect::Poll { carrier_ref: r.clone() }],
                (None, None) => self.begin_submission(from),
            },
            Event::Submitted { carrier_ref }
            | Event::Reconciled {
                carrier_ref: Some(carrier_ref),
            } => {
                if self.intent.is_none() && self.carrier_ref.is_some() {
                    return Ok((self, vec![]));
                }
                self.carrier_ref = Some(carrier_ref);
                self.intent = None;
                self.substatus = Some("SUBMITTED".into());
                self.polls = 0;
                vec![Effect::Persist(self.change(from)), Effect::Schedule(backoff.delay(0))]
            }
            Event::Reconciled { carrier_ref: None } => match &mut self.intent {
                // The carrier never received it: sending it (again, with the same key) is safe.
                Some(intent) => {
                    intent.attempts += 1;
                    let key = intent.key.clone();
                    vec![Effect::Persist(None), Effect::Submit { key }]
                }
                None => return Err(invalid(from, &Event::Reconciled { carrier_ref: None })),
            },
            Event::SubmitFailed { reason, transient } => {
                let Some(intent) = &self.intent else {
                    return Err(invalid(from, &Event::SubmitFailed { reason, transient }));
                };
                if transient {
                    // The outcome is unknown: ask the carrier before sending again.
                    self.polls += 1;
                    let _ = intent;
                    vec![Effect::Schedule(backoff.delay(self.polls))]
                } else {
                    self.intent = None;
                    self.phase = Phase::Failed;
                    self.substatus = Some("SUBMISSION_FAILED".into());
                    self.rejection_reason = Some(reason);
                    vec![Effect::Persist(self.change(from))]
                }
            }
            Event::LookupFailed { .. } | Event::PollFailed { .. } => {
                self.polls += 1;
                vec![Effect::Schedule(backoff.delay(self.polls))]
            }
            Event::PollDue => match (&self.carrier_ref, &self.intent) {
                _ if from.is_terminal() => vec![],
                (_, Some(intent)) => vec![Effect::Lookup {
                    key: intent.key.clone(),
                }],
                (Some(r), None) => vec![Effect::Poll { carrier_ref: r.clone() }],
                (None, None) => vec![],
            },
            Event::Polled(status) => {
                if from.is_terminal() {
                    return Ok((self, vec![]));
                }
                let phase = match status.phase {
                    CarrierPhase::Pending => Phase::Pending,
                    CarrierPhase::InReview => Phase::InReview,
                    CarrierPhase::Approved => Phase::Approved,
                    CarrierPhase::Rejected => Phase::Rejected,
                };
                let changed = phase != from || self.substatus.as_deref() != Some(status.substatus.as_str());
                self.phase = phase;
                self.substatus = Some(status.substatus);
                if phase == Phase::Rejected {
                    self.rejection_reason = status
                        .reason
                        .or_else(|| Some("Rejected by the carrier without a stated reason".into()));
                }
                let mut effects = Vec::new();
                if changed {
                    self.polls = 0;
                    effects.push(Effect::Persist(self.change(from)));
                } else {
                    self.polls += 1;
                }
                if !phase.is_terminal() {
                    effects.push(Effect::Schedule(backoff.delay(self.polls)));
                }
                effects
            }
        };
        Ok((self, effects))
    }

    fn begin_submission(&mut self, from: Phase) -> Vec<Effect> {
        let key = submission_key(self.kind, &self.id);
        self.intent = Some(Intent {
            key: key.clone(),
            attempts: 1,
        });
        self.phase = Phase::Pending;
        self.substatus = Some("SUBMITTING".into());
        // The intent is written before the submission leaves.
        vec![Effect::Persist(self.change(from)), Effect::Submit { key }]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    const B: Backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(8),
    };

    fn draft() -> Registration {
        Registration::new("BRN-1", "ORG-1", Kind::Brand, json!({"companyName": "Acme"}))
    }

    fn status(phase: CarrierPhase, sub: &str) -> Event {
        Event::Polled(CarrierStatus {
            phase,
            substatus: sub.into(),
            reason: None,
        })
    }

    fn submitted() -> Registration {
        let (r, _) = draft().on(Event::Submit, &B).unwrap();
        let (r, _) = r
            .on(
                Event::Submitted {
                    carrier_ref: "BN1".into(),
                },
                &B,
            )
            .unwrap();
        r
    }

    #[test]
    fn submitting_records_the_intent_before_sending() {
        let (r, effects) = draft().on(Event::Submit, &B).unwrap();

        assert_eq!(r.phase, Phase::Pending);
        let key = submission_key(Kind::Brand, "BRN-1");
        assert_eq!(r.intent.as_ref().unwrap().key, key);
        assert!(matches!(
            effects[0],
            Effect::Persist(Some(StatusChange {
                from: Phase::Draft,
                to: Phase::Pending,
                ..
            }))
        ));
        assert_eq!(effects[1], Effect::Submit { key });
    }

    #[test]
    fn an_acknowledged_submission_clears_the_intent_and_schedules_a_poll() {
        let r = submitted();

        assert_eq!(r.carrier_ref.as_deref(), Some("BN1"));
        assert!(r.intent.is_none());
    }

    #[test]
    fn polling_moves_through_review_to_approval_with_a_change_each_time() {
        let r = submitted();

        let (r, e1) = r.on(status(CarrierPhase::InReview, "IN_REVIEW"), &B).unwrap();
        let (r, e2) = r.on(status(CarrierPhase::InReview, "IN_REVIEW"), &B).unwrap();
        let (r, e3) = r.on(status(CarrierPhase::Approved, "APPROVED"), &B).unwrap();

        assert!(matches!(&e1[0], Effect::Persist(Some(c)) if c.to == Phase::InReview));
        assert_eq!(e2, vec![Effect::Schedule(Duration::from_secs(2))]);
        assert!(matches!(&e3[0], Effect::Persist(Some(c)) if c.from == Phase::InReview && c.to == Phase::Approved));
        assert_eq!(e3.len(), 1, "no more polling once approved");
        assert_eq!(r.phase, Phase::Approved);
    }

    #[test]
    fn a_rejection_keeps_its_reason() {
        let (r, _) = submitted()
            .on(
                Event::Polled(CarrierStatus {
                    phase: CarrierPhase::Rejected,
                    substatus: "FAILED".into(),
                    reason: Some("EIN mismatch".into()),
                }),
                &B,
            )
            .unwrap();

        assert_eq!(r.phase, Phase::Rejected);
        assert_eq!(r.rejection_reason.as_deref(), Some("EIN mismatch"));
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        assert_eq!(B.delay(0), Duration::from_secs(1));
        assert_eq!(B.delay(2), Duration::from_secs(4));
        assert_eq!(B.delay(10), Duration::from_secs(8));
    }

    #[test]
    fn resuming_an_in_doubt_submission_looks_it_up_instead_of_resubmitting() {
        let (r, _) = draft().on(Event::Submit, &B).unwrap();

        let (r, effects) = r.on(Event::Resume, &B).unwrap();

        assert!(matches!(&effects[..], [Effect::Lookup { .. }]));
        let (r, found) = r
            .clone()
            .on(
                Event::Reconciled {
                    carrier_ref: Some("BN9".into()),
                },
                &B,
            )
            .unwrap();
        assert_eq!(r.carrier_ref.as_deref(), Some("BN9"));
        assert!(!found.iter().any(|e| matches!(e, Effect::Submit { .. })));
    }

    #[test]
    fn a_submission_the_carrier_never_saw_is_sent_again_with_the_same_key() {
        let (r, _) = draft().on(Event::Submit, &B).unwrap();
        let key = r.intent.clone().unwrap().key;

        let (r, effects) = r.on(Event::Reconciled { carrier_ref: None }, &B).unwrap();

        assert_eq!(effects, vec![Effect::Persist(None), Effect::Submit { key }]);
        assert_eq!(r.intent.unwrap().attempts, 2);
    }

    #[test]
    fn an_intent_recorded_by_the_caller_is_sent_without_another_write() {
        let (r, _) = draft().on(Event::Submit, &B).unwrap();

        let (_, effects) = r.on(Event::SendIntent, &B).unwrap();

        assert!(matches!(&effects[..], [Effect::Submit { .. }]));
    }

    #[test]
    fn resuming_under_review_polls_at_once() {
        let (r, _) = submitted().on(status(CarrierPhase::InReview, "IN_REVIEW"), &B).unwrap();

        let (_, effects) = r.on(Event::Resume, &B).unwrap();

        assert_eq!(
            effects,
            vec![Effect::Poll {
                carrier_ref: "BN1".into()
            }]
        );
    }

    #[test]
    fn a_transient_submit_failure_is_reconciled_later_and_a_permanent_one_fails() {
        let (r, _) = draft().on(Event::Submit, &B).unwrap();

        let (t, te) = r
            .clone()
            .on(
                Event::SubmitFailed {
                    reason: "timeout".into(),
                    transient: true,
                },
                &B,
            )
            .unwrap();
        let (p, pe) = r
            .on(
                Event::SubmitFailed {
                    reason: "bad EIN".into(),
                    transient: false,
                },
                &B,
            )
            .unwrap();

        assert!(matches!(&te[..], [Effect::Schedule(_)]));
        assert!(t.intent.is_some());
        let (_, next) = t.on(Event::PollDue, &B).unwrap();
        assert!(matches!(&next[..], [Effect::Lookup { .. }]));
        assert_eq!(p.phase, Phase::Failed);
        assert!(matches!(&pe[..], [Effect::Persist(Some(c))] if c.to == Phase::Failed));
    }

    #[test]
    fn terminal_registrations_ignore_polls_and_submits_are_refused() {
        let (r, _) = submitted().on(status(CarrierPhase::Approved, "APPROVED"), &B).unwrap();

        assert_eq!(r.clone().on(Event::PollDue, &B).unwrap().1, vec![]);
        assert_eq!(r.clone().on(Event::Resume, &B).unwrap().1, vec![]);
        assert!(r.on(Event::Submit, &B).is_err());
    }
}
