//! `GET /health`: database and Redis status.

use actix_web::{HttpResponse, ResponseError, http::Method, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    error::{ApiError, ErrorCode},
    http::core::{
        envelope::{self, Sorted},
        route_spec::RouteSpec,
    },
    state::AppState,
    store,
};

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseHealth {
    /// `up` or `down`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RedisHealth {
    /// `disabled` (not configured), `up` or `down`.
    pub status: String,
    /// `in-process` while disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// What works differently while it is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
}

/// `GET /health` (also the `details` of its 503 when the database is unreachable).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthOut {
    /// `ok` or `degraded`.
    pub status: String,
    pub version: String,
    pub api_version: String,
    pub database: DatabaseHealth,
    pub redis: RedisHealth,
    /// The rate limiter's backend.
    pub rate_limiter: String,
    /// The e-mail provider's name.
    pub email: String,
    pub uptime_seconds: i64,
}

pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let db_up = store::ping(&state.db).await;
    let redis_status = |status: &str, mode: Option<&str>, impact: Option<&str>| RedisHealth {
        status: status.into(),
        mode: mode.map(str::to_string),
        impact: impact.map(str::to_string),
    };
    let redis = match &state.redis {
        None => redis_status("disabled", Some("in-process"), None),
        Some(r) if r.ping().await => redis_status("up", None, None),
        Some(_) => redis_status(
            "down",
            None,
            Some("provisioning refused (fails closed); plan limits in-process; idempotency locks in the database"),
        ),
    };
    let redis_ok = redis.status != "down";
    let data = HealthOut {
        status: if db_up && redis_ok { "ok" } else { "degraded" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        api_version: envelope::API_VERSION.into(),
        database: DatabaseHealth {
            status: if db_up { "up" } else { "down" }.into(),
            backend: if state.settings.is_sqlite() {
                "sqlite"
            } else {
                "postgres"
            }
            .into(),
        },
        redis,
        rate_limiter: state.limiter.backend().into(),
        email: state.email.provider().name().into(),
        uptime_seconds: (chrono::Utc::now() - state.started_at).num_seconds(),
    };
    if db_up {
        envelope::ok(&Sorted(data))
    } else {
        ApiError::new(ErrorCode::ServiceUnavailable, "Database unreachable")
            .with_details(serde_json::to_value(&data).unwrap_or_default())
            .error_response()
    }
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(M::GET, "/health", "health", "health", "Health check endpoint", |r| {
            r.to(health)
        })
        .public()
        .returns::<HealthOut>(),
        // The path liveness probes try first; the same answer.
        RouteSpec::new(
            M::GET,
            "/health",
            "health",
            "health_root",
            "Health check endpoint, at the root (liveness probes)",
            |r| r.to(health),
        )
        .public()
        .root()
        .extension()
        .alias_of("health")
        .returns::<HealthOut>(),
    ]
}
