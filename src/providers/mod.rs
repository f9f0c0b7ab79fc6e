//! Outbound integrations, each a trait with a real client and a sandbox.

pub mod email;
pub mod twilio;
