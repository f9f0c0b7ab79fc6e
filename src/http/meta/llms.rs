//! Documents for AI readers, generated from the route table and the guides: `/llms.txt`
//! (llms.txt index), `/llms-full.txt` (full reference), `/.well-known/ai-plugin.json`,
//! `/agents.json`.

use std::{collections::BTreeMap, fmt::Write as _};

use actix_web::{HttpResponse, http::Method, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{discovery::CONTRACT_META, docs::GUIDES};
use crate::{
    http::{
        BASE_PATH,
        core::{
            envelope::{self, Sorted},
            route_spec::{Produces, RouteSpec},
            routes,
        },
    },
    state::AppState,
};

fn base_url(state: &AppState) -> String {
    state.settings.server.public_base_url.trim_end_matches('/').to_string()
}

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(body)
}

fn summary() -> &'static str {
    CONTRACT_META["description"]
        .as_str()
        .unwrap_or("ThruAI: AI voice agents over an HTTP API")
}

/// The llms.txt index: title, summary, then sections of links.
pub fn llms_txt_value(base: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# ThruAI\n\n> {}\n", summary());
    let _ = writeln!(
        out,
        "Self-hostable platform for AI voice agents. API version {}; base path {BASE_PATH}; \
         authenticate with `Authorization: Bearer sk_live_...` (get a key with POST \
         {BASE_PATH}/accounts/provision then {BASE_PATH}/accounts/verify, no dashboard). Every \
         response is JSON in the envelope {{success, data, error, meta}}. An MCP server is \
         built in: POST {base}/mcp (same API key) or `thruai mcp` over stdio.\n",
        envelope::API_VERSION
    );
    let _ = writeln!(out, "## Docs\n");
    for g in GUIDES {
        let _ = writeln!(
            out,
            "- [{}]({base}{BASE_PATH}/docs/{}): {}",
            g.title, g.slug, g.description
        );
    }
    let _ = writeln!(
        out,
        "- [Quickstart]({base}{BASE_PATH}/quickstart): the ordered calls from nothing to a phone agent"
    );
    let _ = writeln!(out, "\n## API reference\n");
    let _ = writeln!(
        out,
        "- [OpenAPI 3.1]({base}/openapi.json): every endpoint with request and response schemas"
    );
    let _ = writeln!(
        out,
        "- [Self-description]({base}{BASE_PATH}/): endpoints, scopes, error codes, changelog"
    );
    let _ = writeln!(
        out,
        "- [Capabilities]({base}{BASE_PATH}/capabilities): providers, pipeline modes, limits, features"
    );
    let _ = writeln!(
        out,
        "- [Full reference as text]({base}/llms-full.txt): every endpoint and every guide in one file"
    );
    let _ = writeln!(out, "\n## Endpoints\n");
    for spec in routes::table() {
        let _ = writeln!(
            out,
            "- `{} {}` ({}): {}",
            spec.method,
            spec.full_path(),
            spec.operation,
            spec.description
        );
    }
    let _ = writeln!(out, "\n## Optional\n");
    let _ = writeln!(out, "- [Interactive reference]({base}/reference)");
    let _ = writeln!(out, "- [agents.json]({base}/agents.json)");
    let _ = writeln!(out, "- [AI plugin manifest]({base}/.well-known/ai-plugin.json)");
    out
}

/// The full reference: every endpoint with auth, scope, parameters, schemas and example,
/// then the error codes, then every guide.
pub fn llms_full_value(base: &str) -> String {
    let mut out = llms_txt_value(base);
    let _ = writeln!(out, "\n# Endpoint reference\n");
    for spec in routes::table() {
        let _ = writeln!(out, "## {} {}\n", spec.method, spec.full_path());
        let _ = writeln!(out, "{}\n", spec.description);
        let _ = writeln!(out, "- Operation / MCP tool: `{}`", spec.operation);
        let _ = writeln!(
            out,
            "- Auth: {}",
            match (spec.auth, spec.permission) {
                (false, _) => "none".to_string(),
                (true, None) => "API key".to_string(),
                (true, Some(p)) => format!("API key with `{p}`"),
            }
        );
        let _ = writeln!(
            out,
            "- {}",
            if spec.safe() {
                "Safe (changes nothing)"
            } else {
                "Mutating; honours Idempotency-Key"
            }
        );
        let params = spec.path_params();
        if !params.is_empty() {
            let _ = writeln!(out, "- Path parameters: {}", params.join(", "));
        }
        for q in spec.query {
            let _ = writeln!(out, "- Query `{}` ({}): {}", q.name, q.ty, q.description);
        }
        if let Some(schema) = spec.request {
            let _ = writeln!(
                out,
                "\nRequest body (JSON Schema):\n\n```json\n{}\n```",
                compact(&schema())
            );
        }
        if let Some(example) = spec.example {
            let _ = writeln!(out, "\nExample body:\n\n```json\n{}\n```", example());
        }
        if let Some(schema) = spec.response_schema() {
            let what = match spec.produces {
                Produces::Envelope => "Response `data`".to_string(),
                Produces::Raw(ct) => format!("Response body ({ct})"),
            };
            let _ = writeln!(out, "\n{what} (JSON Schema):\n\n```json\n{}\n```", compact(&schema));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "# Error codes\n");
    if let Value::Object(codes) = crate::error::ErrorCode::table() {
        for (code, spec) in codes {
            let _ = writeln!(
                out,
                "- `{code}` ({}): {}",
                spec["status"],
                spec["description"].as_str().unwrap_or("")
            );
        }
    }
    for g in GUIDES {
        let _ = writeln!(out, "\n---\n\n<!-- guide: {} -->\n\n{}", g.slug, g.markdown);
    }
    out
}

/// Schemas without their `$schema` line, on one line each.
fn compact(schema: &Value) -> String {
    let mut schema = schema.clone();
    if let Some(o) = schema.as_object_mut() {
        o.remove("$schema");
    }
    schema.to_string()
}

pub async fn llms_txt(state: web::Data<AppState>) -> HttpResponse {
    text(llms_txt_value(&base_url(&state)))
}

pub async fn llms_full_txt(state: web::Data<AppState>) -> HttpResponse {
    text(llms_full_value(&base_url(&state)))
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct PluginAuth {
    #[serde(rename = "type")]
    pub kind: String,
    pub authorization_type: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct PluginApi {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub is_user_authenticated: bool,
}

/// `/.well-known/ai-plugin.json`: the AI plugin manifest (its field names are snake_case).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct AiPluginManifest {
    pub schema_version: String,
    pub name_for_human: String,
    pub name_for_model: String,
    pub description_for_human: String,
    pub description_for_model: String,
    pub auth: PluginAuth,
    pub api: PluginApi,
    pub logo_url: String,
    pub contact_email: String,
    pub legal_info_url: String,
}

pub async fn ai_plugin(state: web::Data<AppState>) -> HttpResponse {
    let base = base_url(&state);
    HttpResponse::Ok().json(Sorted(AiPluginManifest {
        schema_version: "v1".into(),
        name_for_human: "ThruAI".into(),
        name_for_model: "thruai".into(),
        description_for_human: "Create and run AI voice agents with phone numbers.".into(),
        description_for_model: format!(
            "ThruAI voice-agent platform API. Authenticate with a bearer API key (get one with POST {BASE_PATH}/accounts/provision then /accounts/verify). \
             Start with GET {BASE_PATH}/profile, read schemas before writing, run POST {BASE_PATH}/agents/:id/preflight before going live, \
             send Idempotency-Key on every mutating request."
        ),
        auth: PluginAuth {
            kind: "user_http".into(),
            authorization_type: "bearer".into(),
        },
        api: PluginApi {
            kind: "openapi".into(),
            url: format!("{base}/openapi.json"),
            is_user_authenticated: true,
        },
        logo_url: format!("{base}/logo.svg"),
        contact_email: "support@thruai.local".into(),
        legal_info_url: format!("{base}{BASE_PATH}/docs/getting-started"),
    }))
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StreamableHttp {
    pub url: String,
    pub auth: String,
}

/// What `thruai mcp` reads from its environment.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct StdioEnv {
    #[serde(rename = "THRUAI_API_KEY")]
    pub api_key: String,
    #[serde(rename = "THRUAI_BASE_URL")]
    pub base_url: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stdio {
    pub command: String,
    pub args: Vec<String>,
    pub env: StdioEnv,
}

/// The two ways to reach the MCP server.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct McpAccess {
    pub streamable_http: StreamableHttp,
    pub stdio: Stdio,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Documents {
    pub openapi: String,
    pub llms_txt: String,
    pub llms_full_txt: String,
    pub self_description: String,
    pub capabilities: String,
    pub quickstart: String,
    pub guides: String,
}

/// A suggested sequence of operations.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    pub id: String,
    pub description: String,
    /// Operation names, in order.
    pub steps: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OperationRef {
    pub operation: String,
    pub method: String,
    pub path: String,
    pub scope: Option<String>,
}

/// `/agents.json`: the agent integration manifest.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentsManifest {
    pub schema_version: String,
    pub name: String,
    pub description: String,
    pub version: String,
    pub base_url: String,
    /// The contract's authentication section.
    #[schemars(with = "BTreeMap<String, String>")]
    pub authentication: Value,
    pub mcp: McpAccess,
    pub documents: Documents,
    pub flows: Vec<Flow>,
    pub operations: Vec<OperationRef>,
}

pub async fn agents_json(state: web::Data<AppState>) -> HttpResponse {
    let base = base_url(&state);
    let flow = |id: &str, description: &str, steps: &[&str]| Flow {
        id: id.into(),
        description: description.into(),
        steps: steps.iter().map(|s| (*s).to_string()).collect(),
    };
    let flows = vec![
        flow(
            "phone-agent-from-scratch",
            "From nothing to a working phone agent",
            &[
                "provision_account",
                "verify_account",
                "get_profile",
                "quickstart",
                "preflight_agent",
                "make_call",
                "get_call",
                "get_call_transcript",
            ],
        ),
        flow(
            "custom-tool",
            "Give an agent a webhook tool",
            &["create_tool", "test_tool", "update_agent"],
        ),
        flow(
            "number-management",
            "Buy a number and attach it to an agent",
            &["search_numbers", "provision_number", "assign_number"],
        ),
    ];
    HttpResponse::Ok().json(Sorted(AgentsManifest {
        schema_version: "0.1".into(),
        name: "ThruAI".into(),
        description: summary().into(),
        version: envelope::API_VERSION.into(),
        base_url: format!("{base}{BASE_PATH}"),
        authentication: CONTRACT_META["authentication"].clone(),
        mcp: McpAccess {
            streamable_http: StreamableHttp {
                url: format!("{base}/mcp"),
                auth: "Authorization: Bearer <API key>".into(),
            },
            stdio: Stdio {
                command: "thruai".into(),
                args: vec!["mcp".into()],
                env: StdioEnv {
                    api_key: "<API key>".into(),
                    base_url: base.clone(),
                },
            },
        },
        documents: Documents {
            openapi: format!("{base}/openapi.json"),
            llms_txt: format!("{base}/llms.txt"),
            llms_full_txt: format!("{base}/llms-full.txt"),
            self_description: format!("{base}{BASE_PATH}/"),
            capabilities: format!("{base}{BASE_PATH}/capabilities"),
            quickstart: format!("{base}{BASE_PATH}/quickstart"),
            guides: format!("{base}{BASE_PATH}/docs"),
        },
        flows,
        operations: routes::table()
            .iter()
            .map(|s| OperationRef {
                operation: s.operation.into(),
                method: s.method.to_string(),
                path: s.full_path(),
                scope: s.permission.map(str::to_string),
            })
            .collect(),
    }))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/llms.txt",
            "discovery",
            "get_llms_txt",
            "llms.txt index: what this API is and where its documentation lives",
            |r| r.to(llms_txt),
        )
        .public()
        .root()
        .raw("text/plain; charset=utf-8")
        .extension()
        .returns::<String>(),
        RouteSpec::new(
            M::GET,
            "/llms-full.txt",
            "discovery",
            "get_llms_full_txt",
            "The full reference as plain text: every endpoint with its schemas, then every guide",
            |r| r.to(llms_full_txt),
        )
        .public()
        .root()
        .raw("text/plain; charset=utf-8")
        .extension()
        .returns::<String>(),
        RouteSpec::new(
            M::GET,
            "/.well-known/ai-plugin.json",
            "discovery",
            "get_ai_plugin",
            "AI plugin manifest pointing at the OpenAPI document",
            |r| r.to(ai_plugin),
        )
        .public()
        .root()
        .raw("application/json")
        .extension()
        .returns::<AiPluginManifest>(),
        RouteSpec::new(
            M::GET,
            "/agents.json",
            "discovery",
            "get_agents_json",
            "Agent integration manifest: authentication, MCP endpoints, discovery documents and suggested flows",
            |r| r.to(agents_json),
        )
        .public()
        .root()
        .raw("application/json")
        .extension()
        .returns::<AgentsManifest>(),
        RouteSpec::new(
            M::GET,
            "/logo.svg",
            "discovery",
            "get_logo",
            "The ThruAI logo (SVG), for manifests and directories",
            |r| r.to(logo),
        )
        .public()
        .root()
        .raw("image/svg+xml")
        .extension()
        .returns::<String>(),
    ]
}

/// The logo the manifests point at: a handset in a speech bubble, 512 × 512.
const LOGO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512"><title>ThruAI</title><rect width="512" height="512" rx="112" fill="#1f3a5f"/><path d="M112 136h288a32 32 0 0 1 32 32v160a32 32 0 0 1-32 32H240l-88 64v-64h-40a32 32 0 0 1-32-32V168a32 32 0 0 1 32-32z" fill="#fff"/><path d="M196 196c8-8 20-8 28 0l16 16c8 8 8 20 0 28l-10 10c10 20 26 36 46 46l10-10c8-8 20-8 28 0l16 16c8 8 8 20 0 28l-14 14c-12 12-30 14-46 6-48-24-86-62-110-110-8-16-6-34 6-46z" fill="#1f3a5f"/></svg>"##;

pub async fn logo() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("cache-control", "public, max-age=86400"))
        .body(LOGO_SVG)
}
