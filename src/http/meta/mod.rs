//! The server describing itself: the self-description, OpenAPI and its reference page,
//! capabilities, guides, llms.txt and manifests, health, metrics, and the MCP server.

pub mod capabilities;
pub mod discovery;
pub mod docs;
pub mod health;
pub mod llms;
pub mod mcp;
pub mod metrics;
pub mod openapi;
