//! `GET /openapi.json`: OpenAPI 3.1 generated from the route table (schemars' `$defs`
//! hoisted into `components/schemas`), and `GET /reference`, a self-contained page that
//! renders it (no CDN, everything inline).

use std::{collections::BTreeMap, sync::LazyLock};

use actix_web::{HttpResponse, http::Method, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::discovery::CONTRACT_META;
use crate::{
    error::ErrorCode,
    http::core::{
        envelope::{self, Sorted},
        route_spec::{Produces, RouteSpec},
        routes,
    },
    state::AppState,
};

/// Components collected while walking the table.
#[derive(Default)]
pub struct Components {
    schemas: BTreeMap<String, Value>,
}

impl Components {
    /// Moves `schema`'s `$defs` into the components (renaming on a clash with a different
    /// definition), rewrites its refs, and returns the schema without `$schema`/`$defs`.
    pub fn hoist(&mut self, mut schema: Value, owner: &str) -> Value {
        let mut renames: BTreeMap<String, String> = BTreeMap::new();
        let defs = schema.as_object_mut().and_then(|o| {
            o.remove("$schema");
            o.remove("$defs")
        });
        let mut pending: Vec<(String, Value)> = Vec::new();
        if let Some(Value::Object(defs)) = defs {
            for (name, def) in defs {
                let target = match self.schemas.get(&name) {
                    None => name.clone(),
                    Some(existing) if *existing == def => name.clone(),
                    Some(_) => format!("{owner}_{name}"),
                };
                renames.insert(name, target.clone());
                pending.push((target, def));
            }
        }
        for (target, mut def) in pending {
            rewrite_refs(&mut def, &renames);
            self.schemas.insert(target, def);
        }
        rewrite_refs(&mut schema, &renames);
        schema
    }

    /// Registers a named schema and returns a `$ref` to it.
    pub fn named(&mut self, name: &str, schema: Value) -> Value {
        let schema = self.hoist(schema, name);
        self.schemas.insert(name.to_string(), schema);
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }
}

fn rewrite_refs(value: &mut Value, renames: &BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(name) = r.strip_prefix("#/$defs/")
            {
                let target = renames.get(name).cloned().unwrap_or_else(|| name.to_string());
                *r = format!("#/components/schemas/{target}");
            }
            map.values_mut().for_each(|v| rewrite_refs(v, renames));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, renames)),
        _ => {}
    }
}

/// `get_agent` → `GetAgent`.
fn pascal(operation: &str) -> String {
    operation
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `/feedback/:id` → `/feedback/{id}`, with the base path unless served at the root.
pub fn openapi_path(spec: &RouteSpec) -> String {
    spec.full_path()
        .split('/')
        .map(|s| {
            s.strip_prefix(':')
                .map_or_else(|| s.to_string(), |n| format!("{{{n}}}"))
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Request body schema of an operation, as served in OpenAPI and `/_debug/schemas`.
pub fn request_schema(spec: &RouteSpec) -> Option<Value> {
    spec.request.map(|f| f())
}

fn base_components(c: &mut Components) {
    c.schemas.insert(
        "Meta".into(),
        json!({
            "type": "object",
            "properties": {
                "requestId": { "type": "string" },
                "traceId": { "type": "string" },
                "timestamp": { "type": "string", "format": "date-time" },
                "pagination": { "$ref": "#/components/schemas/Pagination" },
            },
            "required": ["requestId", "timestamp"],
        }),
    );
    c.schemas.insert(
        "Pagination".into(),
        json!({
            "type": "object",
            "properties": {
                "page": { "type": "integer" }, "pageSize": { "type": "integer" },
                "total": { "type": "integer" }, "hasMore": { "type": "boolean" },
            },
            "required": ["page", "pageSize", "total", "hasMore"],
        }),
    );
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    c.schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "properties": {
                "code": { "type": "string", "enum": codes },
                "message": { "type": "string" },
                "details": {},
            },
            "required": ["code", "message"],
        }),
    );
    c.schemas.insert(
        "ErrorEnvelope".into(),
        json!({
            "type": "object",
            "properties": {
                "success": { "const": false },
                "data": { "type": "null" },
                "error": { "$ref": "#/components/schemas/Error" },
                "meta": { "$ref": "#/components/schemas/Meta" },
            },
            "required": ["success", "data", "error", "meta"],
        }),
    );
}

fn envelope_of(data: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "success": { "const": true },
            "data": data,
            "error": { "type": "null" },
            "meta": { "$ref": "#/components/schemas/Meta" },
        },
        "required": ["success", "data", "error", "meta"],
    })
}

/// The errors a route can answer, each in the error envelope. What every route can meet is
/// listed on each (a control character in the URL, a client over its share of requests in
/// flight, a database or Redis that is down); a provider's failure (502) and anything else
/// is the `default` response.
fn error_responses(spec: &RouteSpec) -> Vec<(&'static str, &'static str)> {
    let mut out = vec![(
        "400",
        "Validation failed (VALIDATION_ERROR with details: body, query, path or headers)",
    )];
    if spec.auth {
        out.push(("401", "API key missing, malformed, invalid, revoked or expired"));
        out.push(("403", "The key lacks the required permission (FORBIDDEN)"));
    }
    if spec.billed {
        out.push((
            "402",
            "Payment required: BILLING_REQUIRED (no plan in force or a negative balance, with a checkout URL) or PAYMENT_FAILED (the card was declined)",
        ));
    }
    out.push(("404", "Not found (also for another organisation's resources)"));
    if spec.request.is_some() {
        out.push(("408", "The body did not arrive in time (REQUEST_TIMEOUT)"));
    }
    if spec.idempotent() {
        out.push((
            "409",
            "Conflict (e.g. Idempotency-Key reused with another body or still running)",
        ));
    }
    if spec.request.is_some() {
        out.push(("413", "Body larger than the server's limit (PAYLOAD_TOO_LARGE)"));
    }
    out.push((
        "429",
        "Rate limited (RATE_LIMITED, see Retry-After), or too many requests in flight from one client",
    ));
    out.push(("500", "Unexpected error; the message reveals nothing internal"));
    out.push(("503", "A backing service (database, Redis) is unavailable; retry later"));
    out.push((
        "default",
        "Any other error, in the same envelope (e.g. 502 when a provider fails); see the error codes",
    ));
    out
}

fn operation(spec: &RouteSpec, c: &mut Components) -> Value {
    let mut params: Vec<Value> = spec
        .path_params()
        .into_iter()
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    for q in spec.query {
        params.push(json!({ "name": q.name, "in": "query", "required": false, "description": q.description, "schema": { "type": q.ty } }));
    }
    if spec.idempotent() {
        params.push(json!({ "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Replays the first response for 24h when repeated (1-255 printable ASCII)", "schema": { "type": "string" } }));
    }
    let name = pascal(spec.operation);
    let mut op = json!({
        "operationId": spec.operation,
        "summary": spec.description,
        "tags": [spec.domain],
        "x-mcp-tool": spec.operation,
        "x-safe": spec.safe(),
    });
    if let Some(p) = spec.permission {
        op["x-required-scope"] = json!(p);
    }
    if !params.is_empty() {
        op["parameters"] = json!(params);
    }
    if let Some(schema) = request_schema(spec) {
        let schema_ref = c.named(&format!("{name}Request"), schema);
        let mut media = json!({ "schema": schema_ref });
        if let Some(example) = spec.example {
            media["example"] = example();
        }
        op["requestBody"] = json!({ "required": true, "content": { "application/json": media } });
    }
    let mut responses = Map::new();
    let schema = spec
        .response_schema()
        .map_or_else(|| json!({}), |s| c.named(&format!("{name}Response"), s));
    let ok = match spec.produces {
        Produces::Envelope => {
            json!({ "description": "Success", "content": { "application/json": { "schema": envelope_of(schema) } } })
        }
        Produces::Raw(ct) => {
            let media = ct.split(';').next().unwrap_or(ct).trim();
            json!({ "description": "Success", "content": { media: { "schema": schema } } })
        }
    };
    let status = if spec.idempotent() && spec.method == actix_web::http::Method::POST {
        "2XX"
    } else {
        "200"
    };
    responses.insert(status.into(), ok);
    for (code, description) in error_responses(spec) {
        responses.insert(
            code.into(),
            json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorEnvelope" } } } }),
        );
    }
    op["responses"] = Value::Object(responses);
    if spec.auth {
        op["security"] = json!([{ "bearerAuth": [] }]);
    } else {
        op["security"] = json!([]);
    }
    op
}

/// The whole document, for `server_url` (the public base URL).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct License {
    pub name: String,
    pub identifier: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub title: String,
    pub version: String,
    /// The contract's description.
    #[schemars(with = "String")]
    pub description: Value,
    pub license: License,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Server {
    pub url: String,
}

/// A domain of the route table.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecurityScheme {
    #[serde(rename = "type")]
    pub kind: String,
    pub scheme: String,
    pub bearer_format: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ComponentsOut {
    /// Request and response schemas by name (JSON Schema 2020-12), and the envelope's.
    pub schemas: BTreeMap<String, Value>,
    pub security_schemes: BTreeMap<String, SecurityScheme>,
}

/// `GET /openapi.json`: an OpenAPI 3.1 document. Operation objects and schemas are OpenAPI
/// and JSON Schema documents in their own right, kept as JSON.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OpenApiDocument {
    /// `3.1.0`.
    pub openapi: String,
    pub json_schema_dialect: String,
    pub info: Info,
    pub servers: Vec<Server>,
    pub tags: Vec<Tag>,
    /// Path, then lower-case method, then the OpenAPI operation object.
    pub paths: BTreeMap<String, BTreeMap<String, Value>>,
    pub components: ComponentsOut,
    /// Security requirements: scheme name, then scopes (none).
    pub security: Vec<BTreeMap<String, Vec<String>>>,
}

pub fn document_value(server_url: &str) -> OpenApiDocument {
    let mut c = Components::default();
    base_components(&mut c);
    let mut paths: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut tags: BTreeMap<&str, Tag> = BTreeMap::new();
    for spec in routes::table() {
        let method = spec.method.as_str().to_ascii_lowercase();
        paths
            .entry(openapi_path(spec))
            .or_default()
            .insert(method, operation(spec, &mut c));
        let description = CONTRACT_META["domains"][spec.domain]["description"]
            .as_str()
            .unwrap_or(spec.domain)
            .to_string();
        tags.entry(spec.domain).or_insert_with(|| Tag {
            name: spec.domain.into(),
            description,
        });
    }
    let bearer = SecurityScheme {
        kind: "http".into(),
        scheme: "bearer".into(),
        bearer_format: "sk_live_... (obtained via POST /accounts/provision then /accounts/verify)".into(),
    };
    OpenApiDocument {
        openapi: "3.1.0".into(),
        json_schema_dialect: "https://json-schema.org/draft/2020-12/schema".into(),
        info: Info {
            title: CONTRACT_META["name"].as_str().unwrap_or("ThruAI Public API").into(),
            version: envelope::API_VERSION.into(),
            description: CONTRACT_META["description"].clone(),
            license: License {
                name: "Apache-2.0".into(),
                identifier: "Apache-2.0".into(),
            },
        },
        servers: vec![Server {
            url: server_url.trim_end_matches('/').into(),
        }],
        tags: tags.into_values().collect(),
        paths,
        components: ComponentsOut {
            schemas: c.schemas,
            security_schemes: BTreeMap::from([("bearerAuth".to_string(), bearer)]),
        },
        security: vec![BTreeMap::from([("bearerAuth".to_string(), Vec::new())])],
    }
}

/// The document does not change while the process runs, except for the server URL.
static DOCUMENT: LazyLock<std::sync::Mutex<Option<(String, web::Bytes)>>> =
    LazyLock::new(|| std::sync::Mutex::new(None));

pub async fn document(state: web::Data<AppState>) -> HttpResponse {
    let url = state.settings.server.public_base_url.clone();
    let mut cache = DOCUMENT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let bytes = match cache.as_ref() {
        Some((cached_url, bytes)) if *cached_url == url => bytes.clone(),
        _ => {
            let bytes = web::Bytes::from(serde_json::to_vec(&Sorted(document_value(&url))).unwrap_or_default());
            *cache = Some((url, bytes.clone()));
            bytes
        }
    };
    HttpResponse::Ok().content_type("application/json").body(bytes)
}

pub async fn reference() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("reference.html"))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/openapi.json",
            "discovery",
            "get_openapi",
            "OpenAPI 3.1 document of every served endpoint, generated from the route table",
            |r| r.to(document),
        )
        .public()
        .root()
        .raw("application/json")
        .extension()
        .returns::<OpenApiDocument>(),
        RouteSpec::new(
            M::GET,
            "/reference",
            "discovery",
            "get_api_reference",
            "Interactive API reference (HTML, no external assets) rendering /openapi.json",
            |r| r.to(reference),
        )
        .public()
        .root()
        .raw("text/html; charset=utf-8")
        .extension()
        .returns::<String>(),
    ]
}
