//! ThruAI actors: long-lived stateful things. `CallActor` runs one live call,
//! `CampaignActor` dials one outbound campaign's contacts, `WebhookActor` delivers one
//! subscription's events, `A2pActor` drives one carrier registration, `WorkflowActor` runs
//! one workflow execution. The crate never
//! imports the application: it declares ports (traits) that the server implements.
//!
//! Each actor's folder (`call/`, `campaign/`, `webhook/`, `a2p/`) has the same files:
//!
//! - `mod.rs`: the actor;
//! - `messages.rs`: the messages it handles;
//! - `state.rs`: its pure state machine;
//! - `snapshot.rs`: what it persists and shows (versioned where it is stored);
//! - `ports.rs`: the traits the server implements for it;
//! - `supervisor.rs`: its supervisor, `CallSupervisor`, `CampaignSupervisor`,
//!   `WebhookSupervisor` or `A2pSupervisor` — what the rest of the program holds to start,
//!   find, wake and restart the actors. A supervisor that is itself an actor is
//!   `…SupervisorActor` behind that handle (`WebhookSupervisorActor`).
//!
//! An actor never imports its supervisor: it is handed what it reports back through (the
//! call's and the campaign's `Supervision` interface, the webhook's `ActorStopped`
//! recipient, the A2P book of running actors). Extras beside the six files: `call/` has
//! its conversation vocabulary (`chat.rs`), its handle (`handle.rs`), the traditional and
//! `s2s` pipelines (`pipeline.rs`, `s2s.rs`), the media stream's side (`stream.rs`),
//! `speaking.rs` and `stats.rs`; `campaign/` its calling windows (`window.rs`); `workflow/` its graph (`graph.rs`) and expressions (`expr.rs`). `audio/` is
//! the pure μ-law, tone codec and VAD code the calls use.
#![forbid(unsafe_code)]

pub mod a2p;
pub mod audio;
pub mod call;
pub mod campaign;
pub mod webhook;
pub mod workflow;

pub use a2p::{A2pActor, supervisor::A2pSupervisor};
pub use call::{CallActor, CallSetup, handle::CallHandle, supervisor::CallSupervisor};
pub use campaign::{snapshot::LiveView, supervisor::CampaignSupervisor};
pub use webhook::{
    WebhookActor, WebhookConfig,
    supervisor::{WebhookSupervisor, WebhookSupervisorActor},
};
pub use workflow::{WorkflowActor, supervisor::WorkflowSupervisor};
