//! Outbound integrations, each a trait with a real client and a sandbox.

pub mod a2p;
pub mod catalog;
pub mod chat;
pub mod email;
pub mod live;
pub mod llm;
pub mod realtime;
pub mod resend;
pub mod sandbox;
pub mod speech;
pub mod telephony;
pub mod twilio;
pub mod ws;
