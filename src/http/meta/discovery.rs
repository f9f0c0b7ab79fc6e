//! `GET /api/v1/public/`: the self-description in the contract's shape, generated from the
//! route table so it lists exactly what is served.

use std::sync::LazyLock;

use actix_web::{HttpResponse, http::Method, web};
use serde_json::{Value, json};

use crate::{
    error::ErrorCode,
    http::{
        BASE_PATH,
        core::{envelope, route_spec::RouteSpec, routes},
    },
    state::AppState,
};

/// The contract's static parts (descriptions, changelog, envelope, auth).
pub static CONTRACT_META: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(include_str!("contract_meta.json")).unwrap_or(Value::Null));

/// Domains for routes the contract does not list.
fn extra_domain_description(domain: &str) -> &'static str {
    match domain {
        "debug" => "Production-safe debug endpoints: schemas, version, sandbox inspection",
        "operations" => "Operating the server: Prometheus metrics",
        "mcp" => "Built-in Model Context Protocol server: one tool per API operation",
        _ => "",
    }
}

pub fn describe_value(state: &AppState) -> Value {
    let meta = &*CONTRACT_META;
    let mut domains = serde_json::Map::new();
    for spec in routes::table() {
        let entry = domains.entry(spec.domain.to_string()).or_insert_with(|| {
            let description = meta["domains"][spec.domain]["description"]
                .as_str()
                .unwrap_or_else(|| extra_domain_description(spec.domain));
            json!({ "description": description, "endpoints": [] })
        });
        let mut endpoint = json!({
            "method": spec.method.as_str(),
            "path": spec.path,
            "auth": spec.auth,
            "description": spec.description,
            "operation": spec.operation,
        });
        if let Some(p) = spec.permission {
            endpoint["permission"] = json!(p);
        }
        if spec.safe() {
            endpoint["safe"] = json!(true);
        }
        if spec.root {
            // Served at the root, outside basePath.
            endpoint["root"] = json!(true);
        }
        if spec.extension {
            // Not in the published contract: an extension of this server.
            endpoint["extension"] = json!(true);
        }
        if let Some(list) = entry["endpoints"].as_array_mut() {
            list.push(endpoint);
        }
    }
    let (max, window) = state.limiter.provisioning();
    let plans: serde_json::Map<String, Value> = state
        .limiter
        .plans()
        .iter()
        .map(|(name, p)| {
            (
                name.clone(),
                json!({ "requestsPerSecond": p.requests_per_second, "burst": p.burst }),
            )
        })
        .collect();
    json!({
        "name": meta["name"],
        "version": envelope::API_VERSION,
        "description": meta["description"],
        "documentation": meta["documentation"],
        "changelog": meta["changelog"],
        "baseUrl": state.settings.server.public_base_url,
        "basePath": BASE_PATH,
        "authentication": meta["authentication"],
        "rateLimits": {
            "provisioning": {
                "maxRequests": max,
                "windowMs": window * 1000,
                "description": format!("{max} requests per {} seconds per IP (strict sliding window)", window),
            },
            "authenticated": {
                "description": "Standard rate limits based on subscription plan (token bucket per organisation)",
                "plans": plans,
            },
        },
        "responseEnvelope": meta["responseEnvelope"],
        "errorCodes": ErrorCode::table(),
        "domains": domains,
    })
}

pub async fn describe(state: web::Data<AppState>) -> HttpResponse {
    envelope::ok(&describe_value(&state))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/",
            "discovery",
            "get_api",
            "Returns the full API contract including all endpoints, error codes, and authentication requirements",
            |r| r.to(describe),
        )
        .public(),
    ]
}
