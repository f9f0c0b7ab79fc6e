//! Outbound campaigns: the pure state machine (`state`), calling windows (`window`), and
//! the `CampaignActor` with its supervisor (`actor`), which drives dialling through ports
//! the server implements (`ports`).

pub mod actor;
pub mod ports;
pub mod state;
pub mod window;

pub use actor::{CampaignSupervisor, LiveView};
