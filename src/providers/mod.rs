//! Outbound integrations, each a trait with a real client and a sandbox.

pub mod a2p;
pub mod catalog;
pub mod email;
pub mod llm;
pub mod telephony;
pub mod twilio;
