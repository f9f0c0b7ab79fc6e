//! The built-in MCP server (JSON-RPC 2.0, Streamable HTTP with JSON responses) at
//! `POST /mcp`: one tool per route-table operation, run by dispatching an internal request
//! through the same app (frame, API layer, handler), so there is no second implementation.

mod resources;

use std::net::SocketAddr;

use actix_service::{IntoServiceFactory, ServiceFactory};
use actix_web::{
    App, HttpRequest, HttpResponse,
    http::{Method, StatusCode},
    middleware::from_fn,
    web,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    http::{
        self,
        core::{
            envelope::{self, Sorted},
            frame,
            route_spec::{Produces, RouteSpec},
            routes,
        },
    },
    metrics,
    state::AppState,
};

pub const PROTOCOL_VERSIONS: &[&str] = &["2025-06-18", "2025-03-26", "2024-11-05"];

/// The argument carrying an `Idempotency-Key` for mutating tools.
const IDEMPOTENCY_ARG: &str = "idempotencyKey";

/// Who is calling: what the internal requests carry on the caller's behalf.
#[derive(Clone)]
pub struct Caller {
    pub authorization: Option<String>,
    pub forwarded_for: Option<String>,
    pub peer: Option<SocketAddr>,
}

fn find(operation: &str) -> Option<&'static RouteSpec> {
    routes::table()
        .iter()
        .find(|s| s.operation == operation && s.domain != "mcp")
}

/// Every operation that is a tool (all but the MCP endpoint itself).
pub fn tool_specs() -> impl Iterator<Item = &'static RouteSpec> {
    routes::table().iter().filter(|s| s.domain != "mcp" && s.is_tool())
}

/// Whether the body schema's properties are merged into the tool input (else: `body`).
fn mergeable(schema: &Value) -> bool {
    schema["properties"].is_object()
}

/// The JSON Schema of a tool's arguments: path parameters, query, body fields merged.
pub fn input_schema(spec: &RouteSpec) -> Value {
    let mut props = Map::new();
    let mut required: Vec<Value> = Vec::new();
    let mut defs = None;
    let mut closed = false;
    for name in spec.path_params() {
        props.insert(
            name.into(),
            json!({ "type": "string", "description": format!("Path parameter `{name}`") }),
        );
        required.push(json!(name));
    }
    for q in spec.query {
        props.insert(q.name.into(), json!({ "type": q.ty, "description": q.description }));
    }
    if let Some(mut body) = spec.request.map(|f| f()) {
        if let Some(o) = body.as_object_mut() {
            o.remove("$schema");
            defs = o.remove("$defs");
        }
        if mergeable(&body) {
            if let Some(p) = body["properties"].as_object() {
                for (k, v) in p {
                    props.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            if let Some(r) = body["required"].as_array() {
                required.extend(r.iter().cloned());
            }
            closed = body["additionalProperties"] == json!(false);
        } else {
            props.insert("body".into(), body);
            required.push(json!("body"));
            closed = true;
        }
    }
    if spec.idempotent() {
        props.insert(
            IDEMPOTENCY_ARG.into(),
            json!({ "type": "string", "description": "Idempotency-Key: repeat it on a retry to replay the first answer (24h)" }),
        );
    }
    let mut schema = json!({ "type": "object", "properties": props });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    if closed {
        schema["additionalProperties"] = json!(false);
    }
    if let Some(mut defs) = defs {
        if let Some(defs) = defs.as_object_mut() {
            for def in defs.values_mut() {
                summarise_object(def);
            }
        }
        schema["$defs"] = defs;
    }
    compact(&mut schema);
    schema
}

/// A nested object's schema in brief: its description and its fields' names (the whole
/// schema is in `thruai://openapi`; the server checks every field anyway). Enums stay.
fn summarise_object(def: &mut Value) {
    let Some(props) = def["properties"].as_object() else {
        return;
    };
    let fields: Vec<&str> = props.keys().map(String::as_str).collect();
    let about = def["description"].as_str().unwrap_or_default().trim_end_matches('.');
    let description = if about.is_empty() {
        format!("Fields: {}.", fields.join(", "))
    } else {
        format!("{about}. Fields: {}.", fields.join(", "))
    };
    *def = json!({ "type": "object", "description": description });
}

/// Drops what only a validator needs (`format`, unsigned `minimum: 0`), everywhere.
fn compact(schema: &mut Value) {
    match schema {
        Value::Object(o) => {
            o.remove("format");
            if o.get("minimum") == Some(&json!(0)) {
                o.remove("minimum");
            }
            o.values_mut().for_each(compact);
        }
        Value::Array(a) => a.iter_mut().for_each(compact),
        _ => {}
    }
}

pub fn tool(spec: &RouteSpec) -> Value {
    let mut description = spec.description.to_string();
    description.push_str(&format!(" [{} {}", spec.method, spec.path));
    if let Some(p) = spec.permission {
        description.push_str(&format!("; scope {p}"));
    }
    description.push(']');
    json!({
        "name": spec.operation,
        "description": description,
        "inputSchema": input_schema(spec),
        "annotations": annotations(spec),
    })
}

/// The tool's behaviour hints, only where they differ from MCP's defaults (not read-only,
/// destructive, not idempotent, open world); the last two apply to writes only.
fn annotations(spec: &RouteSpec) -> Value {
    let mut hints = Map::new();
    hints.insert("openWorldHint".into(), json!(false));
    if spec.safe() {
        hints.insert("readOnlyHint".into(), json!(true));
        return Value::Object(hints);
    }
    if spec.method != actix_web::http::Method::DELETE {
        hints.insert("destructiveHint".into(), json!(false));
    }
    if matches!(spec.method.as_str(), "PUT" | "DELETE") {
        hints.insert("idempotentHint".into(), json!(true));
    }
    Value::Object(hints)
}

/// A JSON-RPC 2.0 error.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    /// The API error (code, message, status, request id) when a call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// A JSON-RPC 2.0 response: a `result` (an MCP result object) or an `error`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct RpcResponse {
    /// `2.0`.
    pub jsonrpc: String,
    /// The request's id (null when it could not be read).
    pub id: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
}

/// What `POST /mcp` answers with 200: one response, or those of a batch (202 and no body
/// when every message was a notification).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum McpAnswer {
    One(RpcResponse),
    Batch(Vec<RpcResponse>),
}

fn rpc_result(id: &Value, result: Value) -> RpcResponse {
    RpcResponse {
        jsonrpc: "2.0".into(),
        id: id.clone(),
        result: Some(result),
        error: None,
    }
}

fn rpc_error(id: &Value, code: i64, message: impl Into<String>, data: Option<Value>) -> RpcResponse {
    RpcResponse {
        jsonrpc: "2.0".into(),
        id: id.clone(),
        result: None,
        error: Some(RpcError {
            code,
            message: message.into(),
            data,
        }),
    }
}

/// What an internal request answered.
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: web::Bytes,
}

/// Runs one operation through the app exactly as an HTTP client would.
async fn dispatch(
    state: &web::Data<AppState>,
    caller: &Caller,
    spec: &RouteSpec,
    mut args: Map<String, Value>,
    extra_query: &str,
) -> Result<Answer, Value> {
    let mut path = String::new();
    for seg in spec.full_path().split('/').skip(1) {
        path.push('/');
        match seg.strip_prefix(':') {
            Some(name) => {
                let value = match args.remove(name) {
                    Some(Value::String(s)) if !s.is_empty() => s,
                    Some(Value::Number(n)) => n.to_string(),
                    _ => {
                        return Err(
                            json!({ "code": "VALIDATION_ERROR", "message": format!("Missing path parameter '{name}'"),
                                           "details": [{ "field": name, "message": "is required" }] }),
                        );
                    }
                };
                path.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
            }
            None => path.push_str(seg),
        }
    }
    let idempotency_key = args.remove(IDEMPOTENCY_ARG);
    let has_body = !matches!(spec.method.as_str(), "GET" | "DELETE" | "HEAD");
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut body = Map::new();
    for (k, v) in args {
        let in_query = !has_body || spec.query.iter().any(|q| q.name == k);
        if in_query {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            query.append_pair(&k, &v);
        } else {
            body.insert(k, v);
        }
    }
    let mut query = query.finish();
    if !extra_query.is_empty() {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(extra_query);
    }
    let uri = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let meta = envelope::current();
    let mut req = actix_web::test::TestRequest::default()
        .method(spec.method.clone())
        .uri(&uri)
        .insert_header(("accept", "application/json"));
    if let Some(peer) = caller.peer {
        req = req.peer_addr(peer);
    }
    if let Some(auth) = &caller.authorization {
        req = req.insert_header(("authorization", auth.as_str()));
    }
    if let Some(xff) = &caller.forwarded_for {
        req = req.insert_header(("x-forwarded-for", xff.as_str()));
    }
    if let Some(meta) = meta {
        req = req
            .insert_header(("x-trace-id", meta.trace_id.as_str()))
            .insert_header(("x-parent-id", meta.request_id.as_str()));
    }
    if let Some(key) = idempotency_key {
        let key = match key {
            Value::String(s) => s,
            other => other.to_string(),
        };
        req = req.insert_header(("idempotency-key", key));
    }
    if has_body {
        let body = match body.remove("body") {
            Some(inner) if spec.request.is_some_and(|f| !mergeable(&f())) => inner,
            Some(v) => {
                body.insert("body".into(), v);
                Value::Object(body)
            }
            None => Value::Object(body),
        };
        req = req
            .insert_header(("content-type", "application/json"))
            .set_payload(serde_json::to_vec(&body).unwrap_or_default());
    }
    let app = App::new()
        .app_data(state.clone())
        .wrap(from_fn(frame::frame))
        .configure(http::configure)
        .default_service(web::to(http::not_found))
        .into_factory()
        .new_service(actix_web::dev::AppConfig::default())
        .await
        .map_err(|()| json!({ "code": "INTERNAL_ERROR", "message": "Unexpected error" }))?;
    let res = match actix_web::test::try_call_service(&app, req.to_request()).await {
        Ok(res) => res.into_parts().1,
        Err(e) => e.error_response(),
    };
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let body = actix_web::body::to_bytes(res.into_body())
        .await
        .map_err(|_| json!({ "code": "INTERNAL_ERROR", "message": "Unexpected error" }))?;
    Ok(Answer {
        status,
        content_type,
        body,
    })
}

/// The contract error of an answer, when it failed.
fn error_of(answer: &Answer) -> Option<Value> {
    if answer.status.is_success() {
        return None;
    }
    let doc: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let mut error = if doc["error"].is_object() {
        doc["error"].clone()
    } else {
        json!({ "code": "INTERNAL_ERROR", "message": String::from_utf8_lossy(&answer.body) })
    };
    error["status"] = json!(answer.status.as_u16());
    if let Some(id) = doc["meta"]["requestId"].as_str() {
        error["requestId"] = json!(id);
    }
    Some(error)
}

async fn call_tool(state: &web::Data<AppState>, caller: &Caller, id: &Value, params: &Value) -> RpcResponse {
    let Some(name) = params["name"].as_str() else {
        return rpc_error(id, -32602, "tools/call needs params.name", None);
    };
    let Some(spec) = find(name) else {
        return rpc_error(id, -32602, format!("Unknown tool: {name}"), None);
    };
    let args = match &params["arguments"] {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        _ => return rpc_error(id, -32602, "params.arguments must be an object", None),
    };
    let outcome = dispatch(state, caller, spec, args, "").await;
    let result = match outcome {
        Err(error) => tool_error(error),
        Ok(answer) => match error_of(&answer) {
            Some(error) => tool_error(error),
            None if spec.produces == Produces::Envelope => {
                let doc: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                let data = doc["data"].clone();
                let mut result = json!({
                    "content": [{ "type": "text", "text": serde_json::to_string_pretty(&data).unwrap_or_default() }],
                    "isError": false,
                });
                if data.is_object() {
                    result["structuredContent"] = data;
                }
                result
            }
            None => json!({
                "content": [{ "type": "text", "text": String::from_utf8_lossy(&answer.body), "mimeType": answer.content_type }],
                "isError": false,
            }),
        },
    };
    let outcome = if result["isError"] == json!(true) {
        "error"
    } else {
        "ok"
    };
    metrics::counter(
        "thruai_mcp_tool_calls_total",
        &[("tool", name), ("outcome", outcome)],
        1.0,
    );
    rpc_result(id, result)
}

/// A failed call as an MCP tool error carrying the contract's code and message.
fn tool_error(error: Value) -> Value {
    let code = error["code"].as_str().unwrap_or("INTERNAL_ERROR");
    let message = error["message"].as_str().unwrap_or("");
    json!({
        "content": [
            { "type": "text", "text": format!("{code}: {message}") },
            { "type": "text", "text": error.to_string() },
        ],
        "structuredContent": { "error": error },
        "isError": true,
    })
}

fn initialize(id: &Value, params: &Value) -> RpcResponse {
    let asked = params["protocolVersion"].as_str().unwrap_or("");
    let version = PROTOCOL_VERSIONS
        .iter()
        .find(|v| **v == asked)
        .unwrap_or(&PROTOCOL_VERSIONS[0]);
    rpc_result(
        id,
        json!({
            "protocolVersion": version,
            "capabilities": {
                "tools": { "listChanged": false },
                "resources": { "subscribe": false, "listChanged": false },
            },
            "serverInfo": { "name": "thruai", "title": "ThruAI", "version": env!("CARGO_PKG_VERSION") },
            "instructions": "ThruAI voice-agent platform. One tool per API operation. Start with get_profile; \
                read schemas before writing (unknown fields are rejected); run preflight_agent before going live; \
                pass idempotencyKey on mutating tools and reuse it when retrying. Errors come back as tool errors \
                carrying the API error code (VALIDATION_ERROR, NOT_FOUND, FORBIDDEN, RATE_LIMITED, ...).",
        }),
    )
}

/// Handles one JSON-RPC message; `None` for notifications and responses.
pub async fn handle(state: &web::Data<AppState>, caller: &Caller, msg: &Value) -> Option<RpcResponse> {
    let id = msg.get("id").cloned();
    let Some(method) = msg["method"].as_str() else {
        // A response from the client, or garbage.
        return match (id, msg.get("result").or(msg.get("error"))) {
            (_, Some(_)) => None,
            (id, None) => Some(rpc_error(&id.unwrap_or(Value::Null), -32600, "Invalid Request", None)),
        };
    };
    let id = id?; // notifications get no answer
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    Some(match method {
        "initialize" => initialize(&id, &params),
        "ping" => rpc_result(&id, json!({})),
        "tools/list" => rpc_result(&id, json!({ "tools": tool_specs().map(tool).collect::<Vec<_>>() })),
        "tools/call" => call_tool(state, caller, &id, &params).await,
        "resources/list" => rpc_result(&id, json!({ "resources": resources::resources() })),
        "resources/templates/list" => rpc_result(&id, json!({ "resourceTemplates": [] })),
        "resources/read" => resources::read_resource(state, caller, &id, &params).await,
        "prompts/list" => rpc_result(&id, json!({ "prompts": [] })),
        _ => rpc_error(&id, -32601, format!("Method not found: {method}"), None),
    })
}

fn json_response(status: StatusCode, body: &McpAnswer) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(serde_json::to_string(&Sorted(body)).unwrap_or_default())
}

/// `POST /mcp`: one message or a batch; JSON answers, 202 when there is nothing to say.
pub async fn endpoint(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let caller = Caller {
        authorization: req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        forwarded_for: req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        peer: req.peer_addr(),
    };
    let msg: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &McpAnswer::One(rpc_error(&Value::Null, -32700, format!("Parse error: {e}"), None)),
            );
        }
    };
    let answer = match &msg {
        Value::Array(batch) => {
            let mut out = Vec::new();
            for m in batch {
                if let Some(a) = handle(&state, &caller, m).await {
                    out.push(a);
                }
            }
            (!out.is_empty()).then_some(McpAnswer::Batch(out))
        }
        Value::Object(_) => handle(&state, &caller, &msg).await.map(McpAnswer::One),
        _ => Some(McpAnswer::One(rpc_error(&Value::Null, -32600, "Invalid Request", None))),
    };
    match answer {
        Some(a) => json_response(StatusCode::OK, &a),
        None => HttpResponse::Accepted().finish(),
    }
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::POST,
            "/mcp",
            "mcp",
            "mcp",
            "Model Context Protocol endpoint (Streamable HTTP, JSON responses): one tool per API operation, same API keys and scopes",
            |r| r.to(endpoint),
        )
        .key(None)
        .root()
        .raw("application/json")
        .extension()
        .returns::<McpAnswer>(),
    ]
}
