//! The integration suite: one binary. Runs on SQLite with in-process limits by default,
//! and on PostgreSQL + Redis when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are set.
// Test helpers outside `#[test]` functions may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod a2p;
mod accounts;
mod agents;
mod analytics;
mod api_keys;
mod auth;
mod calls;
mod campaign_crash;
mod campaigns;
mod carriers;
mod chaos_sink;
mod discovery;
mod email;
mod email_flow;
mod fake_ai;
mod fake_realtime;
mod fake_resend;
mod fake_twilio;
mod fake_twilio_a2p;
mod feedback;
mod fuzz;
mod helpers;
mod http_layer;
mod idempotency;
mod ledger;
mod live_providers;
mod mcp;
mod metrics;
mod processes;
mod providers;
mod public_client;
mod rate_limits;
mod route_table;
mod security;
mod sink;
mod sms;
mod stored_shapes;
mod telephony;
mod tools;
mod twilio_client;
mod webhooks;
mod webhooks_crash;
mod webhooks_restart;
