//! sea-orm entities only: one module per table, no queries with business meaning.
#![forbid(unsafe_code)]

pub mod a2p_brand;
pub mod a2p_campaign;
pub mod a2p_campaign_number;
pub mod a2p_sandbox_registration;
pub mod agent;
pub mod api_key;
pub mod call;
pub mod call_timeline;
pub mod call_transcript;
pub mod campaign;
pub mod campaign_contact;
pub mod campaign_contact_count;
pub mod campaign_dial;
pub mod feedback;
pub mod idempotency_key;
pub mod organization;
pub mod outbox_event;
pub mod pending_account;
pub mod phone_number;
pub mod platform_secret;
pub mod sandbox_call;
pub mod sandbox_email;
pub mod sandbox_number;
pub mod sms_conversation;
pub mod sms_message;
pub mod sms_opt_out;
pub mod telephony_credential;
pub mod tool;
pub mod user;
pub mod values;
pub mod webhook;
pub mod webhook_attempt;
pub mod webhook_delivery;
