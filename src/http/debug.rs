//! Production-safe debug endpoints: request schemas, version, and the sandbox outbox.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, http::Method, web};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    core::{
        envelope::{self, Sorted},
        extract::{Ctx, ListQuery},
        guard::sandbox_only,
        route_spec::{Param, RouteSpec},
        routes,
    },
    meta::openapi,
};
use crate::{
    domain::normalize_email,
    error::{ApiError, ApiResult},
    state::AppState,
    store,
};

/// One operation's schemas.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OperationSchemas {
    pub method: String,
    pub path: String,
    /// The request body's JSON Schema (an empty closed object when it takes none).
    pub request: Value,
    /// The JSON Schema of `data` in a success (of the body, for a raw document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SchemasOut {
    /// Keyed by operation.
    pub schemas: BTreeMap<String, OperationSchemas>,
    pub version: String,
}

/// `GET /_debug/schemas`: the JSON Schema of every request body and response `data`,
/// keyed by operation — the same schemas `/openapi.json` carries.
pub async fn schemas(_ctx: Ctx) -> HttpResponse {
    let out = SchemasOut {
        schemas: schema_map(),
        version: envelope::API_VERSION.into(),
    };
    envelope::ok(&Sorted(out))
}

pub fn schema_map() -> BTreeMap<String, OperationSchemas> {
    routes::table()
        .iter()
        .map(|spec| {
            let entry = OperationSchemas {
                method: spec.method.to_string(),
                path: spec.path.into(),
                request: openapi::request_schema(spec)
                    .unwrap_or_else(|| json!({ "type": "object", "additionalProperties": false })),
                response: spec.response_schema(),
            };
            (spec.operation.to_string(), entry)
        })
        .collect()
}

/// `GET /_debug/version`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VersionOut {
    /// The server's own version.
    pub version: String,
    pub api_version: String,
    /// `debug` or `release`.
    pub build: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub redis: bool,
    pub started_at: DateTime<Utc>,
}

pub async fn version(ctx: Ctx) -> HttpResponse {
    let out = VersionOut {
        version: env!("CARGO_PKG_VERSION").into(),
        api_version: envelope::API_VERSION.into(),
        build: if cfg!(debug_assertions) { "debug" } else { "release" }.into(),
        database: if ctx.state.settings.is_sqlite() {
            "sqlite"
        } else {
            "postgres"
        }
        .into(),
        redis: ctx.state.redis.is_some(),
        started_at: ctx.state.started_at,
    };
    envelope::ok(&Sorted(out))
}

/// A message the sandbox e-mail provider "sent".
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SandboxEmailOut {
    pub id: String,
    pub to: String,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// `Reply-To`, `In-Reply-To`, `References`, `Auto-Submitted`… as sent.
    pub headers: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
}

/// The sandbox outbox of one address, newest first.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OutboxOut {
    pub to: String,
    pub messages: Vec<SandboxEmailOut>,
}

/// `GET /_debug/sandbox/outbox?to=EMAIL`, behind [`sandbox_only`](super::core::guard::sandbox_only).
pub async fn sandbox_outbox(req: HttpRequest, state: web::Data<AppState>, q: ListQuery) -> ApiResult<HttpResponse> {
    sandbox_only(&req, &state)?;
    let to = q
        .get("to")
        .and_then(normalize_email)
        .ok_or_else(|| ApiError::field("to", "a valid email address is required"))?;
    let messages = store::sandbox_emails::list_to(&state.db, &to, 50).await?;
    let messages = messages
        .into_iter()
        .map(|m| SandboxEmailOut {
            id: m.id,
            to: m.to_address,
            from: m.from_address,
            subject: m.subject,
            text: m.text_body,
            html: m.html_body,
            headers: m
                .headers
                .and_then(|h| serde_json::from_value(h).ok())
                .unwrap_or_default(),
            created_at: m.created_at,
        })
        .collect();
    Ok(envelope::ok(&Sorted(OutboxOut { to, messages })))
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
        .extension()
        .returns::<SchemasOut>(),
        RouteSpec::new(
            M::GET,
            "/_debug/version",
            "debug",
            "get_version",
            "Server build and API version",
            |r| r.to(version),
        )
        .key(None)
        .extension()
        .returns::<VersionOut>(),
        RouteSpec::new(
            M::GET,
            "/_debug/sandbox/outbox",
            "debug",
            "get_sandbox_outbox",
            "Messages the sandbox email provider sent to ?to=EMAIL, newest first (sandbox provider with email.sandbox_outbox on; local, unproxied clients only)",
            |r| r.to(sandbox_outbox),
        )
        .public()
        .local_only()
        .query(&[Param {
            name: "to",
            ty: "string",
            description: "Recipient email address",
        }])
        .extension()
        .returns::<OutboxOut>(),
    ]
}
