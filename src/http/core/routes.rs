//! The route table: every endpoint described once, by the module that serves it, and put
//! together here. The router, the self-description, `/_debug/schemas` and the route-walking
//! tests are all generated from it.

use std::sync::LazyLock;

use super::route_spec::RouteSpec;
use crate::http::{
    accounts, agents, analytics, api_keys, billing, calls, campaigns, compliance, debug, email, feedback, knowledge,
    meta::{capabilities, discovery, docs, health, llms, mcp, metrics, openapi},
    profile, providers, sms, telephony, tools, webhooks, workflows,
};

/// The table, built once.
pub fn table() -> &'static [RouteSpec] {
    static TABLE: LazyLock<Vec<RouteSpec>> = LazyLock::new(build);
    &TABLE
}

/// Each module's routes, in the order of the contract's domains (the self-description, the
/// OpenAPI document and the MCP tool list follow it), then the server's own documents.
fn build() -> Vec<RouteSpec> {
    [
        discovery::routes(),
        health::routes(),
        accounts::routes(),
        profile::routes(),
        api_keys::routes(),
        feedback::routes(),
        agents::routes(),
        analytics::routes(),
        providers::routes(),
        tools::routes(),
        telephony::routes(),
        webhooks::routes(),
        compliance::routes(),
        sms::routes(),
        email::routes(),
        billing::routes(),
        knowledge::routes(),
        workflows::routes(),
        calls::routes(),
        campaigns::routes(),
        debug::routes(),
        capabilities::routes(),
        openapi::routes(),
        llms::routes(),
        docs::routes(),
        metrics::routes(),
        mcp::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_route_is_unique_and_documented() {
        let mut seen = HashSet::new();
        for spec in table() {
            assert!(
                seen.insert((spec.method.clone(), spec.full_path())),
                "{} {}",
                spec.method,
                spec.full_path()
            );
            assert!(!spec.description.is_empty());
            assert!(spec.permission.is_none() || spec.auth);
        }
    }

    #[test]
    fn every_route_declares_its_response() {
        let undeclared: Vec<String> = table()
            .iter()
            .filter(|spec| spec.response.is_none())
            .map(|spec| format!("{} {}", spec.method, spec.path))
            .collect();
        assert!(
            undeclared.is_empty(),
            "routes without a declared response: {undeclared:?}"
        );
        for spec in table() {
            let schema = spec.response_schema().unwrap_or_default();
            let described = ["type", "properties", "$ref", "anyOf", "oneOf", "allOf"]
                .iter()
                .any(|k| schema.get(k).is_some());
            assert!(described, "{}: response schema says nothing: {schema}", spec.operation);
            if let Some(key) = spec.list_key {
                assert_eq!(schema["properties"][key]["type"], "array", "{}", spec.operation);
                assert!(schema["properties"]["pagination"].is_object(), "{}", spec.operation);
            }
        }
    }

    #[test]
    fn paths_convert_to_actix_patterns() {
        let spec = table().iter().find(|s| s.path == "/feedback/:id").unwrap();
        assert_eq!(spec.actix_path(), "/feedback/{id}");
    }
}
