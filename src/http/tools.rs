//! Custom tools: webhook endpoints agents call mid-conversation. CRUD (name immutable,
//! URL through the SSRF guard, parameters checked as JSON Schema) and a signed test call.

use std::collections::BTreeMap;

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_entities::tool;

use super::core::{
    envelope::{self, DeletedOut},
    extract::{Body, Ctx, ListQuery},
    route_spec::RouteSpec,
    validation::{Validate, Validator},
};
use crate::{
    app::tools::{open_headers, seal_headers},
    domain::ids::ToolId,
    error::{ApiError, ApiResult, ErrorCode},
    net::signing::WebhookSecret,
    providers::llm::sample_arguments,
    state::AppState,
    store,
};

pub const DEFAULT_TIMEOUT_SECS: i32 = 10;
const MAX_HEADERS: usize = 20;
/// Headers the platform sets itself; a tool may not override them.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];
/// Header names whose values are shown masked.
const SENSITIVE_HEADER_HINTS: &[&str] = &["authorization", "token", "secret", "key", "cookie", "password"];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ToolIn {
    /// 1–64 characters of `a-z A-Z 0-9 _ -`; unique in the organisation; immutable.
    pub name: String,
    /// What the tool does (the model reads this), up to 1024 characters.
    pub description: Option<String>,
    /// The http(s) endpoint called with a signed JSON POST. Internal addresses are refused.
    pub url: String,
    /// JSON Schema (an object schema) of the arguments.
    pub parameters: Option<Value>,
    /// Signing secret (`whsec_<base64>` or any 8–256 characters); never returned in full.
    pub secret: Option<String>,
    /// Extra request headers, up to 20.
    pub headers: Option<BTreeMap<String, String>>,
    /// Seconds to wait for the endpoint, 1–30 (default 10).
    pub timeout: Option<i32>,
}

impl Validate for ToolIn {
    fn validate(&self, v: &mut Validator) {
        check_name(v, &self.name);
        check_common(
            v,
            self.description.as_deref(),
            Some(&self.url),
            self.parameters.as_ref(),
            self.secret.as_deref(),
            self.headers.as_ref(),
            self.timeout,
        );
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ToolPatch {
    /// Not changeable: present only to explain the refusal.
    pub name: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub parameters: Option<Value>,
    /// A new secret; `""` removes it.
    pub secret: Option<String>,
    /// Replaces every header.
    pub headers: Option<BTreeMap<String, String>>,
    pub timeout: Option<i32>,
}

impl Validate for ToolPatch {
    fn validate(&self, v: &mut Validator) {
        v.check(
            self.name.is_none(),
            "name",
            "is immutable: create a new tool with the new name instead",
        );
        check_common(
            v,
            self.description.as_deref(),
            self.url.as_deref(),
            self.parameters.as_ref(),
            self.secret.as_deref().filter(|s| !s.is_empty()),
            self.headers.as_ref(),
            self.timeout,
        );
    }
}

fn check_name(v: &mut Validator, name: &str) {
    v.length("name", name, 1, 64);
    v.check(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "name",
        "may contain only letters, digits, '_' and '-'",
    );
}

#[allow(clippy::too_many_arguments)]
fn check_common(
    v: &mut Validator,
    description: Option<&str>,
    url: Option<&str>,
    parameters: Option<&Value>,
    secret: Option<&str>,
    headers: Option<&BTreeMap<String, String>>,
    timeout: Option<i32>,
) {
    v.opt_length("description", description, 0, 1024);
    if let Some(url) = url {
        v.length("url", url, 1, 2048);
    }
    if let Some(schema) = parameters
        && let Err(message) = check_schema(schema)
    {
        v.check(false, "parameters", message);
    }
    v.opt_length("secret", secret, 8, 256);
    if let Some(headers) = headers {
        v.check(
            headers.len() <= MAX_HEADERS,
            "headers",
            format!("at most {MAX_HEADERS} headers (got {})", headers.len()),
        );
        for (name, value) in headers {
            let field = format!("headers.{name}");
            let lower = name.to_ascii_lowercase();
            v.check(
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)),
                &field,
                "is not a valid header name",
            );
            v.check(
                !RESERVED_HEADERS.contains(&lower.as_str()),
                &field,
                "is set by the platform and cannot be overridden",
            );
            v.check(
                value.len() <= 1024 && !value.contains(['\r', '\n']),
                &field,
                "value must be at most 1024 characters without line breaks",
            );
        }
    }
    v.range("timeout", timeout, 1, 30);
}

/// An object JSON Schema that compiles.
fn check_schema(schema: &Value) -> Result<(), String> {
    let Some(obj) = schema.as_object() else {
        return Err("must be a JSON Schema object".into());
    };
    if let Some(kind) = obj.get("type")
        && kind != "object"
    {
        return Err(format!("must describe an object (\"type\": \"object\"), got {kind}"));
    }
    jsonschema::meta::validate(schema).map_err(|e| format!("is not a valid JSON Schema: {e}"))?;
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|e| format!("is not a valid JSON Schema: {e}"))
}

/// The SSRF guard's verdict on a URL at save time, as a field error.
pub fn guard_url(state: &AppState, field: &str, url: &str) -> ApiResult<()> {
    state
        .url_guard
        .check_url(url)
        .map(|_| ())
        .map_err(|e| ApiError::field(field, e.to_string()))
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ToolOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub url: String,
    pub parameters: Option<Value>,
    /// Values of credential-like headers are masked.
    pub headers: BTreeMap<String, String>,
    pub has_secret: bool,
    /// `…abcd`: the secret's last four characters.
    pub secret_hint: Option<String>,
    pub timeout: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn mask(value: &str) -> String {
    let tail: String = value
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if value.chars().count() <= 8 {
        "****".into()
    } else {
        format!("****{tail}")
    }
}

impl ToolOut {
    /// The answer for a stored tool, its header values opened then masked where sensitive.
    async fn of(state: &AppState, m: tool::Model) -> ApiResult<Self> {
        let headers = open_headers(&state.crypto, &m)
            .await
            .map_err(|e| ApiError::internal(ErrorCode::InternalError, e))?;
        Ok(Self::with_headers(m, headers))
    }

    fn with_headers(m: tool::Model, headers: BTreeMap<String, String>) -> Self {
        let headers = headers
            .into_iter()
            .map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                let sensitive = SENSITIVE_HEADER_HINTS.iter().any(|h| lower.contains(h));
                (k, if sensitive { mask(&v) } else { v })
            })
            .collect();
        Self {
            id: m.id,
            name: m.name,
            description: m.description,
            url: m.url,
            parameters: m.parameters,
            headers,
            has_secret: m.secret_ciphertext.is_some(),
            secret_hint: m.secret_hint,
            timeout: m.timeout_secs,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

async fn seal_secret(state: &AppState, secret: &str) -> ApiResult<(String, String)> {
    WebhookSecret::parse(secret).map_err(|e| ApiError::field("secret", e.to_string()))?;
    let sealed = state
        .crypto
        .encrypt(secret)
        .await
        .map_err(|e| ApiError::internal(ErrorCode::InternalError, e))?;
    let hint: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Ok((sealed, format!("…{hint}")))
}

fn name_taken(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ResourceConflict,
        format!("A tool named '{name}' already exists in this organization"),
    )
}

pub async fn create(ctx: Ctx, Body(input): Body<ToolIn>) -> ApiResult<HttpResponse> {
    guard_url(&ctx.state, "url", &input.url)?;
    let secret = match input.secret.as_deref() {
        Some(s) => Some(seal_secret(&ctx.state, s).await?),
        None => None,
    };
    let now = Utc::now();
    let txn = ctx.begin().await?;
    if store::tools::find_by_name(&txn, ctx.org(), &input.name)
        .await?
        .is_some()
    {
        return Err(name_taken(&input.name));
    }
    let row = tool::Model {
        id: ToolId::new().into(),
        org_id: ctx.org().to_string(),
        name: input.name.clone(),
        description: input.description,
        url: input.url.trim().to_string(),
        parameters: input.parameters,
        secret_hint: secret.as_ref().map(|(_, hint)| hint.clone()),
        secret_ciphertext: secret.map(|(sealed, _)| sealed),
        headers: sealed_headers(&ctx.state, input.headers.unwrap_or_default())
            .await?
            .into(),
        timeout_secs: input.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS),
        created_at: now,
        updated_at: now,
    };
    let row = store::tools::insert(&txn, row).await.map_err(|e| {
        let err = ApiError::from(e);
        if err.code == ErrorCode::ResourceConflict {
            name_taken(&input.name)
        } else {
            err
        }
    })?;
    let out = ToolOut::of(&ctx.state, row).await?;
    ctx.commit(txn, StatusCode::CREATED, &out).await
}

async fn sealed_headers(state: &AppState, headers: BTreeMap<String, String>) -> ApiResult<BTreeMap<String, String>> {
    seal_headers(&state.crypto, headers)
        .await
        .map_err(|e| ApiError::internal(ErrorCode::InternalError, e))
}

pub async fn list(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let (rows, total) = store::tools::list(ctx.db(), ctx.org(), page.offset(), page.page_size).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(ToolOut::of(&ctx.state, row).await?);
    }
    Ok(envelope::list("tools", &items, page.info(total)))
}

async fn load(ctx: &Ctx, db: &impl sea_orm::ConnectionTrait, id: &str) -> ApiResult<tool::Model> {
    store::tools::find(db, ctx.org(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("Tool", id))
}

pub async fn get(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, ctx.db(), &id).await?;
    Ok(envelope::ok(&ToolOut::of(&ctx.state, row).await?))
}

pub async fn update(ctx: Ctx, id: web::Path<String>, Body(patch): Body<ToolPatch>) -> ApiResult<HttpResponse> {
    if let Some(url) = &patch.url {
        guard_url(&ctx.state, "url", url)?;
    }
    let secret = match patch.secret.as_deref() {
        Some("") => Some(None),
        Some(s) => Some(Some(seal_secret(&ctx.state, s).await?)),
        None => None,
    };
    let txn = ctx.begin().await?;
    let mut row = load(&ctx, &txn, &id).await?;
    if let Some(description) = patch.description {
        row.description = Some(description).filter(|d| !d.is_empty());
    }
    if let Some(url) = patch.url {
        row.url = url.trim().to_string();
    }
    if let Some(parameters) = patch.parameters {
        row.parameters = Some(parameters);
    }
    if let Some(secret) = secret {
        row.secret_hint = secret.as_ref().map(|(_, hint)| hint.clone());
        row.secret_ciphertext = secret.map(|(sealed, _)| sealed);
    }
    if let Some(headers) = patch.headers {
        row.headers = sealed_headers(&ctx.state, headers).await?.into();
    }
    if let Some(timeout) = patch.timeout {
        row.timeout_secs = timeout;
    }
    row.updated_at = Utc::now();
    let row = store::tools::save(&txn, row).await?;
    let out = ToolOut::of(&ctx.state, row).await?;
    ctx.commit(txn, StatusCode::OK, &out).await
}

/// Agents whose `enabledTools` lists `tool_id`.
pub fn agents_using<'a>(
    agents: &'a [thruai_entities::agent::Model],
    tool_id: &'a str,
) -> impl Iterator<Item = &'a thruai_entities::agent::Model> {
    agents
        .iter()
        .filter(move |a| a.enabled_tools.iter().any(|t| t == tool_id))
}

pub async fn delete(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let txn = ctx.begin().await?;
    let row = load(&ctx, &txn, &id).await?;
    let agents = store::agents::all(&txn, ctx.org()).await?;
    let warnings: Vec<String> = agents_using(&agents, &row.id)
        .map(|a| {
            format!(
                "Agent '{}' ({}) still lists this tool in enabledTools; remove it with PATCH /agents/{}",
                a.name, a.id, a.id
            )
        })
        .collect();
    store::tools::delete(&txn, ctx.org(), &row.id).await?;
    let out = DeletedOut::new(format!("Tool '{}' deleted", row.id)).with_warnings(warnings);
    ctx.commit(txn, StatusCode::OK, &out).await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ToolTestIn {
    /// Sample arguments; generated from the parameters schema when omitted
    /// (`testPayload` and `parameters` are accepted for it).
    #[serde(alias = "parameters", alias = "testPayload")]
    pub arguments: Option<Value>,
}

impl Validate for ToolTestIn {
    fn validate(&self, v: &mut Validator) {
        if let Some(args) = &self.arguments {
            v.check(args.is_object(), "arguments", "must be an object");
        }
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ToolTestOut {
    pub success: bool,
    pub status_code: Option<u16>,
    /// The endpoint's answer: JSON when it parses, else text (first 64 KB).
    pub response: Value,
    /// Milliseconds from sending to the end of the response.
    pub response_time: u64,
    pub error: Option<String>,
    /// True when the request carried Standard Webhooks signature headers.
    pub signed: bool,
    pub request: ToolTestRequest,
}

/// The test request as sent. Fields in alphabetical order: the order this object has
/// always gone out in.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ToolTestRequest {
    /// The JSON body posted (`type` `tool.call`, `test` true, the arguments).
    pub body: Value,
    /// The `webhook-id` the request carried.
    pub message_id: String,
    pub method: String,
    pub url: String,
}

pub async fn test(ctx: Ctx, id: web::Path<String>, Body(input): Body<ToolTestIn>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, ctx.db(), &id).await?;
    let arguments = input
        .arguments
        .unwrap_or_else(|| row.parameters.as_ref().map_or_else(|| json!({}), sample_arguments));
    if let Some(schema) = &row.parameters
        && let Ok(validator) = jsonschema::validator_for(schema)
    {
        let problems: Vec<_> = validator
            .iter_errors(&arguments)
            .map(|e| crate::error::FieldError::new(format!("arguments{}", e.instance_path()), e.to_string()))
            .collect();
        if !problems.is_empty() {
            return Err(ApiError::validation(problems));
        }
    }
    let payload = json!({
        "type": "tool.call",
        "test": true,
        "toolId": row.id,
        "tool": row.name,
        "arguments": arguments,
        "callId": null,
        "agentId": null,
        "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    let d = ctx.state.tools.deliver(&row, &payload).await?;
    let out = ToolTestOut {
        success: d.error.is_none() && d.status_code.is_some_and(|s| (200..300).contains(&s)),
        status_code: d.status_code,
        response: d.response,
        response_time: d.elapsed_ms,
        error: d.error,
        signed: d.signed,
        request: ToolTestRequest {
            body: payload,
            message_id: d.message_id,
            method: "POST".into(),
            url: row.url,
        },
    };
    Ok(envelope::ok(&out))
}
pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::POST,
            "/tools",
            "tools",
            "create_tool",
            "Create a custom webhook tool. The tool becomes available to agents via enabledTools.",
            |r| r.to(create),
        )
        .key(Some("tools:write"))
        .body::<ToolIn>()
        .example(|| json!({ "name": "lookup_order", "description": "Look up an order by its number", "url": "https://tools.example.com/orders/lookup", "parameters": { "type": "object", "properties": { "orderId": { "type": "string" } }, "required": ["orderId"] }, "timeout": 10 }))
        .returns::<ToolOut>(),
        RouteSpec::new(
            M::GET,
            "/tools",
            "tools",
            "list_tools",
            "List all custom tools for the organization",
            |r| r.to(list),
        )
        .key(Some("tools:read"))
        .returns_list::<ToolOut>("tools"),
        RouteSpec::new(M::GET, "/tools/:id", "tools", "get_tool", "Get tool details by ID", |r| {
            r.to(get)
        })
        .key(Some("tools:read"))
        .returns::<ToolOut>(),
        RouteSpec::new(
            M::PATCH,
            "/tools/:id",
            "tools",
            "update_tool",
            "Update tool configuration (URL, parameters, secret, headers, timeout). Tool name cannot be changed.",
            |r| r.to(update),
        )
        .key(Some("tools:write"))
        .body::<ToolPatch>()
        .example(|| json!({ "description": "Look up an order and its delivery status", "timeout": 15 }))
        .returns::<ToolOut>(),
        RouteSpec::new(
            M::DELETE,
            "/tools/:id",
            "tools",
            "delete_tool",
            "Delete a custom tool. Returns warnings if agents still reference it.",
            |r| r.to(delete),
        )
        .key(Some("tools:write"))
        .returns::<DeletedOut>(),
        RouteSpec::new(
            M::POST,
            "/tools/:id/test",
            "tools",
            "test_tool",
            "Test tool by sending a sample request to the webhook URL",
            |r| r.to(test),
        )
        .key(Some("tools:write"))
        .body::<ToolTestIn>()
        .example(|| json!({ "arguments": { "orderId": "A-1001" } }))
        .returns::<ToolTestOut>(),
    ]
}
