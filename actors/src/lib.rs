//! ThruAI actors: long-lived stateful things, each with a pure state machine, a versioned
//! snapshot and a supervisor or registry. `CallActor` runs one live call, `WebhookActor`
//! delivers one subscription's events, `A2pActor` drives one carrier registration,
//! `CampaignActor` dials one outbound campaign's contacts. The
//! crate never imports the application: it declares ports (traits) that the server implements.
#![forbid(unsafe_code)]

pub mod a2p;
pub mod audio;
pub mod call;
pub mod campaign;
pub mod webhook;

pub use a2p::{A2pActor, supervisor::A2pSupervisor};
pub use call::{CallActor, CallSetup, handle::CallHandle, supervisor::CallSupervisor};
pub use campaign::{snapshot::LiveView, supervisor::CampaignSupervisor};
pub use webhook::{
    WebhookActor, WebhookConfig,
    supervisor::{WebhookSupervisor, WebhookSupervisorActor},
};
