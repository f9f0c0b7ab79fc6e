//! Outbound HTTP safety: the SSRF guard every user-supplied URL passes through, and
//! Standard Webhooks signing (webhook deliveries and custom tool calls).

pub mod signing;
pub mod ssrf;
