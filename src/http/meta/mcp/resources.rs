//! MCP resources: listings of the caller's things and every document the server publishes,
//! read through the operation that serves each one.

use actix_web::web;
use serde_json::{Map, Value, json};

use super::{Caller, RpcResponse, dispatch, error_of, find, rpc_error, rpc_result};
use crate::{
    http::core::route_spec::{Produces, RouteSpec},
    state::AppState,
};

/// An MCP resource: a document or a listing, read through the operation that serves it.
struct Resource {
    uri: &'static str,
    name: &'static str,
    description: &'static str,
    operation: &'static str,
    /// Path parameters of the operation.
    args: &'static [(&'static str, &'static str)],
    query: &'static str,
}

const fn resource(
    uri: &'static str,
    name: &'static str,
    description: &'static str,
    operation: &'static str,
    query: &'static str,
) -> Resource {
    Resource {
        uri,
        name,
        description,
        operation,
        args: &[],
        query,
    }
}

const fn guide(uri: &'static str, name: &'static str, slug: &'static [(&'static str, &'static str)]) -> Resource {
    Resource {
        uri,
        name,
        description: "An API guide (markdown in `content`)",
        operation: "get_doc",
        args: slug,
        query: "",
    }
}

/// Listings of the caller's resources, and every document the server publishes (the API
/// description, OpenAPI, llms.txt, the reference page, metrics, the guides): documents are
/// read here, not called as tools.
const RESOURCES: &[Resource] = &[
    resource(
        "thruai://agents",
        "agents",
        "Your agents (first 100)",
        "list_agents",
        "pageSize=100",
    ),
    resource(
        "thruai://calls/recent",
        "recent calls",
        "The 20 most recent calls",
        "list_calls",
        "pageSize=20",
    ),
    resource(
        "thruai://providers",
        "providers",
        "LLM, TTS, STT and S2S providers and their availability",
        "list_providers",
        "",
    ),
    resource(
        "thruai://tools",
        "tools",
        "Your custom tools (first 100)",
        "list_tools",
        "pageSize=100",
    ),
    resource(
        "thruai://numbers",
        "phone numbers",
        "Your phone numbers (first 100)",
        "list_numbers",
        "pageSize=100",
    ),
    resource(
        "thruai://webhooks",
        "webhooks",
        "Your webhook subscriptions",
        "list_webhooks",
        "pageSize=100",
    ),
    resource(
        "thruai://capabilities",
        "capabilities",
        "What this server can do: providers, limits, features",
        "get_capabilities",
        "",
    ),
    resource(
        "thruai://profile",
        "profile",
        "Your identity, permissions and next steps",
        "get_profile",
        "",
    ),
    resource(
        "thruai://api",
        "API description",
        "Every endpoint, error code and limit (the contract's shape)",
        "get_api",
        "",
    ),
    resource(
        "thruai://openapi",
        "OpenAPI",
        "The OpenAPI 3.1 document of this server",
        "get_openapi",
        "",
    ),
    resource(
        "thruai://llms",
        "llms.txt",
        "The API in brief, for language models",
        "get_llms_txt",
        "",
    ),
    resource(
        "thruai://llms-full",
        "llms-full.txt",
        "Every operation in full, for language models",
        "get_llms_full_txt",
        "",
    ),
    resource(
        "thruai://reference",
        "API reference",
        "The human-readable API reference (HTML)",
        "get_api_reference",
        "",
    ),
    resource(
        "thruai://metrics",
        "metrics",
        "Prometheus metrics of this server",
        "get_metrics",
        "",
    ),
    resource(
        "thruai://quickstart",
        "quickstart",
        "From sign-up to a completed sandbox call, step by step",
        "get_quickstart_guide",
        "",
    ),
    resource("thruai://guides", "guides", "The API guides", "list_docs", ""),
    guide(
        "thruai://guides/getting-started",
        "guide: getting started",
        &[("slug", "getting-started")],
    ),
    guide(
        "thruai://guides/agent-design",
        "guide: agent design",
        &[("slug", "agent-design")],
    ),
    guide(
        "thruai://guides/workflows",
        "guide: workflows",
        &[("slug", "workflows")],
    ),
    guide(
        "thruai://guides/ai-agent-integration",
        "guide: AI agent integration",
        &[("slug", "ai-agent-integration")],
    ),
    guide(
        "thruai://guides/migration",
        "guide: migration",
        &[("slug", "migration")],
    ),
];

/// The MIME type a resource is read as: a raw document's own, else JSON.
fn mime_of(spec: &RouteSpec) -> &'static str {
    match spec.produces {
        Produces::Raw(ct) => ct.split(';').next().unwrap_or(ct),
        Produces::Envelope => "application/json",
    }
}

pub(super) fn resources() -> Vec<Value> {
    RESOURCES
        .iter()
        .filter_map(|r| find(r.operation).map(|spec| (r, spec)))
        .map(|(r, spec)| json!({ "uri": r.uri, "name": r.name, "description": r.description, "mimeType": mime_of(spec) }))
        .collect()
}

pub(super) async fn read_resource(
    state: &web::Data<AppState>,
    caller: &Caller,
    id: &Value,
    params: &Value,
) -> RpcResponse {
    let uri = params["uri"].as_str().unwrap_or("");
    let Some(r) = RESOURCES.iter().find(|r| r.uri == uri) else {
        return rpc_error(
            id,
            -32002,
            format!("Resource not found: {uri}"),
            Some(json!({ "uri": uri })),
        );
    };
    let Some(spec) = find(r.operation) else {
        return rpc_error(
            id,
            -32002,
            format!("Resource not available on this server: {uri}"),
            Some(json!({ "uri": uri })),
        );
    };
    let args: Map<String, Value> = r.args.iter().map(|(k, v)| ((*k).to_string(), json!(v))).collect();
    match dispatch(state, caller, spec, args, r.query).await {
        Err(error) => {
            let message = error["message"].as_str().unwrap_or("error").to_string();
            rpc_error(id, -32603, message, Some(error))
        }
        Ok(answer) => match error_of(&answer) {
            Some(error) => rpc_error(
                id,
                -32603,
                format!(
                    "{}: {}",
                    error["code"].as_str().unwrap_or(""),
                    error["message"].as_str().unwrap_or("")
                ),
                Some(error),
            ),
            None => {
                let text = match spec.produces {
                    Produces::Raw(_) => String::from_utf8_lossy(&answer.body).into_owned(),
                    Produces::Envelope => {
                        let doc: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                        serde_json::to_string_pretty(&doc["data"]).unwrap_or_default()
                    }
                };
                rpc_result(
                    id,
                    json!({ "contents": [{ "uri": uri, "mimeType": mime_of(spec), "text": text }] }),
                )
            }
        },
    }
}
