//! `GET /health`: database and Redis status.

use actix_web::{HttpResponse, ResponseError, http::Method, web};
use serde_json::json;

use crate::{
    error::{ApiError, ErrorCode},
    http::core::{envelope, route_spec::RouteSpec},
    state::AppState,
    store,
};

pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let db_up = store::ping(&state.db).await;
    let redis = match &state.redis {
        None => json!({ "status": "disabled", "mode": "in-process" }),
        Some(r) if r.ping().await => json!({ "status": "up" }),
        Some(_) => json!({
            "status": "down",
            "impact": "provisioning refused (fails closed); plan limits in-process; idempotency locks in the database"
        }),
    };
    let redis_ok = redis["status"] != "down";
    let data = json!({
        "status": if db_up && redis_ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "apiVersion": envelope::API_VERSION,
        "database": {
            "status": if db_up { "up" } else { "down" },
            "backend": if state.settings.is_sqlite() { "sqlite" } else { "postgres" },
        },
        "redis": redis,
        "rateLimiter": state.limiter.backend(),
        "email": state.email.name(),
        "uptimeSeconds": (chrono::Utc::now() - state.started_at).num_seconds(),
    });
    if db_up {
        envelope::ok(&data)
    } else {
        ApiError::new(ErrorCode::ServiceUnavailable, "Database unreachable")
            .with_details(data)
            .error_response()
    }
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(M::GET, "/health", "health", "health", "Health check endpoint", |r| {
            r.to(health)
        })
        .public(),
    ]
}
