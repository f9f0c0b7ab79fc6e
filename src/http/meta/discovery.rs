//! `GET /api/v1/public/`: the self-description in the contract's shape, generated from the
//! route table so it lists exactly what is served.

use std::{collections::BTreeMap, sync::LazyLock};

use actix_web::{HttpResponse, http::Method, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    error::ErrorCode,
    http::{
        BASE_PATH,
        core::{
            envelope::{self, Sorted},
            route_spec::RouteSpec,
            routes,
        },
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

/// A change log entry of the contract.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ChangelogEntry {
    pub version: String,
    pub date: String,
    pub changes: Vec<String>,
}

/// An error code: its HTTP status, what it means, and where it comes from when it is not
/// the contract's own.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ErrorCodeSpec {
    pub status: u16,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// An endpoint as the self-description lists it.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOut {
    pub method: String,
    /// Contract style, relative to the base path unless `root`: `/agents/:id`.
    pub path: String,
    pub auth: bool,
    pub description: String,
    /// The operation name, also the MCP tool name.
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// Present (true) on routes that change nothing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub safe: bool,
    /// Present (true) on routes served at the root, outside `basePath`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub root: bool,
    /// Present (true) on routes of this server the published contract does not list.
    #[serde(default, skip_serializing_if = "is_false")]
    pub extension: bool,
}

// The signature serde's `skip_serializing_if` calls.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(b: &bool) -> bool {
    !b
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DomainOut {
    pub description: String,
    pub endpoints: Vec<EndpointOut>,
}

/// A plan's rate limit (token bucket per organisation).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlanLimitOut {
    pub requests_per_second: f64,
    pub burst: u32,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningLimitOut {
    pub max_requests: u32,
    pub window_ms: u64,
    pub description: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatedLimitsOut {
    pub description: String,
    /// Keyed by plan name.
    pub plans: BTreeMap<String, PlanLimitOut>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitsOut {
    pub provisioning: ProvisioningLimitOut,
    pub authenticated: AuthenticatedLimitsOut,
}

/// `GET /api/v1/public/`: the contract's shape. The contract's static parts (`name`,
/// `description`, `documentation`, `changelog`, `authentication`, `responseEnvelope`) are
/// copied from it as they are; the rest is this server's.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DescriptionOut {
    #[schemars(with = "String")]
    pub name: Value,
    pub version: String,
    #[schemars(with = "String")]
    pub description: Value,
    /// Where the documents for AI readers are.
    #[schemars(with = "BTreeMap<String, String>")]
    pub documentation: Value,
    #[schemars(with = "Vec<ChangelogEntry>")]
    pub changelog: Value,
    pub base_url: String,
    pub base_path: String,
    #[schemars(with = "BTreeMap<String, String>")]
    pub authentication: Value,
    pub rate_limits: RateLimitsOut,
    #[schemars(with = "BTreeMap<String, String>")]
    pub response_envelope: Value,
    /// Keyed by code.
    #[schemars(with = "BTreeMap<String, ErrorCodeSpec>")]
    pub error_codes: Value,
    /// Keyed by domain; each lists its endpoints in the table's order.
    pub domains: BTreeMap<String, DomainOut>,
}

pub fn plan_limits(state: &AppState) -> BTreeMap<String, PlanLimitOut> {
    state
        .limiter
        .plans()
        .iter()
        .map(|(name, p)| {
            let limit = PlanLimitOut {
                requests_per_second: p.requests_per_second,
                burst: p.burst,
            };
            (name.clone(), limit)
        })
        .collect()
}

pub fn describe_value(state: &AppState) -> DescriptionOut {
    let meta = &*CONTRACT_META;
    let mut domains: BTreeMap<String, DomainOut> = BTreeMap::new();
    for spec in routes::table() {
        let entry = domains.entry(spec.domain.to_string()).or_insert_with(|| {
            let description = meta["domains"][spec.domain]["description"]
                .as_str()
                .unwrap_or_else(|| extra_domain_description(spec.domain));
            DomainOut {
                description: description.to_string(),
                endpoints: Vec::new(),
            }
        });
        entry.endpoints.push(EndpointOut {
            method: spec.method.to_string(),
            path: spec.path.to_string(),
            auth: spec.auth,
            description: spec.description.to_string(),
            operation: spec.operation.to_string(),
            permission: spec.permission.map(str::to_string),
            safe: spec.safe(),
            root: spec.root,
            extension: spec.extension,
        });
    }
    let (max, window) = state.limiter.provisioning();
    DescriptionOut {
        name: meta["name"].clone(),
        version: envelope::API_VERSION.into(),
        description: meta["description"].clone(),
        documentation: meta["documentation"].clone(),
        changelog: meta["changelog"].clone(),
        base_url: state.settings.server.public_base_url.clone(),
        base_path: BASE_PATH.into(),
        authentication: meta["authentication"].clone(),
        rate_limits: RateLimitsOut {
            provisioning: ProvisioningLimitOut {
                max_requests: max,
                window_ms: window * 1000,
                description: format!("{max} requests per {window} seconds per IP (strict sliding window)"),
            },
            authenticated: AuthenticatedLimitsOut {
                description: "Standard rate limits based on subscription plan (token bucket per organisation)".into(),
                plans: plan_limits(state),
            },
        },
        response_envelope: meta["responseEnvelope"].clone(),
        error_codes: ErrorCode::table(),
        domains,
    }
}

pub async fn describe(state: web::Data<AppState>) -> HttpResponse {
    envelope::ok(&Sorted(describe_value(&state)))
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
        .public()
        .document()
        .returns::<DescriptionOut>(),
    ]
}
