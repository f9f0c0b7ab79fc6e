//! ThruAI actors: long-lived stateful things, each with a pure state machine, a versioned
//! snapshot, a supervisor, and the ports (traits) it needs from the server, which implements them.
#![forbid(unsafe_code)]

pub mod a2p;
pub mod ports;
pub mod webhook;

pub use a2p::{A2pActor, A2pSupervisor};
pub use webhook::{
    WebhookActor, WebhookConfig,
    registry::{WebhookRegistry, WebhookRegistryHandle},
};
