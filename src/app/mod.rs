//! The application layer: one service per use-case family, each built from the parts it
//! uses (database, its settings section, crypto, a client, actor handles) and never from
//! the whole bundle of services in `state.rs`, which only `http/` and start-up see.

pub mod a2p;
pub mod analysis;
pub mod analytics;
pub mod billing;
pub mod calls;
pub mod campaigns;
pub mod carriers;
pub mod email;
pub mod knowledge;
pub mod secrets;
pub mod sms;
pub mod tools;
pub mod webhooks;
pub mod workflows;

use std::sync::Arc;

use thruai_actors::call::ports::LanguageModel;

use crate::config::ProviderSettings;

/// What it takes to reach an agent's language model (the sandbox standing in).
#[derive(Clone)]
pub struct AgentModels {
    pub providers: Arc<ProviderSettings>,
    pub http: reqwest::Client,
    pub sandbox: Arc<dyn LanguageModel>,
}
