//! ThruAI: a self-hostable platform for AI voice agents.
//!
//! Requests enter through [`http`] (the route table, envelope, auth, limits, idempotency),
//! handlers call [`store`] functions scoped to the caller's organisation, and providers
//! sit behind traits in [`providers`] with a sandbox beside each real client.
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod limits;
pub mod mcp_stdio;
pub mod metrics;
pub mod net;
pub mod providers;
pub mod redis_conn;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
