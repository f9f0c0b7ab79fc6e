//! The integration suite: one binary. Runs on SQLite with in-process limits by default,
//! and on PostgreSQL + Redis when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are set.
// The whole crate is test code (helpers and fakes included): panicking on a broken
// fixture is the point, as `clippy.toml` already allows inside `#[test]` functions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod auth;
mod chaos_sink;
mod fake_twilio;
mod feedback;
mod helpers;
mod http_layer;
mod idempotency;
mod rate_limits;
mod route_table;
mod twilio_client;
mod webhooks;
mod webhooks_restart;
