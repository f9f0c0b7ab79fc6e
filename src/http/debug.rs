//! Production-safe debug endpoints: request schemas, version, and the sandbox outbox.

use actix_web::{HttpRequest, HttpResponse, http::Method, web};
use serde_json::{Value, json};

use super::{
    core::{
        envelope,
        extract::{Ctx, ListQuery},
        route_spec::{Param, RouteSpec},
        routes,
    },
    meta::openapi,
};
use crate::{
    domain::normalize_email,
    error::{ApiError, ApiResult, ErrorCode},
    state::AppState,
    store,
};

/// `GET /_debug/schemas`: the JSON Schema of every request body (and response `data`,
/// when known), keyed by operation — the same schemas `/openapi.json` carries.
pub async fn schemas(_ctx: Ctx) -> HttpResponse {
    envelope::ok(&json!({ "schemas": schema_map(), "version": envelope::API_VERSION }))
}

pub fn schema_map() -> Value {
    let mut map = serde_json::Map::new();
    for spec in routes::table() {
        let schema =
            openapi::request_schema(spec).unwrap_or_else(|| json!({ "type": "object", "additionalProperties": false }));
        let mut entry = json!({ "method": spec.method.as_str(), "path": spec.path, "request": schema });
        if let Some(response) = spec.response_schema() {
            entry["response"] = response;
        }
        map.insert(spec.operation.to_string(), entry);
    }
    Value::Object(map)
}

pub async fn version(ctx: Ctx) -> HttpResponse {
    envelope::ok(&json!({
        "version": env!("CARGO_PKG_VERSION"),
        "apiVersion": envelope::API_VERSION,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "database": if ctx.state.settings.is_sqlite() { "sqlite" } else { "postgres" },
        "redis": ctx.state.redis.is_some(),
        "startedAt": ctx.state.started_at,
    }))
}

/// `GET /_debug/sandbox/outbox?to=EMAIL`: only while e-mail is the sandbox, only from
/// loopback (never through a proxy header).
pub async fn sandbox_outbox(req: HttpRequest, state: web::Data<AppState>, q: ListQuery) -> ApiResult<HttpResponse> {
    let loopback = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
    if !state.email_is_sandbox() || !loopback {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("No route for GET {}", req.path()),
        ));
    }
    let to = q
        .get("to")
        .and_then(normalize_email)
        .ok_or_else(|| ApiError::field("to", "a valid email address is required"))?;
    let messages = store::sandbox_emails::list_to(&state.db, &to, 50).await?;
    let messages: Vec<Value> = messages
        .into_iter()
        .map(|m| {
            json!({ "id": m.id, "to": m.to_address, "from": m.from_address, "subject": m.subject,
                    "text": m.text_body, "html": m.html_body, "createdAt": m.created_at })
        })
        .collect();
    Ok(envelope::ok(&json!({ "to": to, "messages": messages })))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/_debug/schemas",
            "debug",
            "get_schemas",
            "JSON Schemas of every request body, keyed by operation",
            |r| r.to(schemas),
        )
        .key(None)
        .extension(),
        RouteSpec::new(
            M::GET,
            "/_debug/version",
            "debug",
            "get_version",
            "Server build and API version",
            |r| r.to(version),
        )
        .key(None)
        .extension(),
        RouteSpec::new(
            M::GET,
            "/_debug/sandbox/outbox",
            "debug",
            "get_sandbox_outbox",
            "Messages the sandbox email provider sent to ?to=EMAIL, newest first (loopback clients only, sandbox only)",
            |r| r.to(sandbox_outbox),
        )
        .public()
        .query(&[Param {
            name: "to",
            ty: "string",
            description: "Recipient email address",
        }])
        .extension(),
    ]
}
