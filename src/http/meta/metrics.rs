//! `GET /metrics`: the Prometheus text exposition of [`crate::metrics`], unauthenticated
//! like any scrape target (bind it to a private interface or filter it at the proxy).

use actix_web::{HttpResponse, http::Method, web};

use crate::{http::core::route_spec::RouteSpec, state::AppState};

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    crate::metrics::gauge_set("thruai_live_calls", &[], state.calls.supervisor().len() as f64);
    let context = thruai_actors::call::stats::CONTEXT_CHARS.load(std::sync::atomic::Ordering::Relaxed);
    crate::metrics::gauge_set("thruai_call_context_chars", &[], context as f64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render())
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/metrics",
            "operations",
            "get_metrics",
            "Prometheus metrics: requests and latency per route, rate-limit decisions, idempotency outcomes, calls, actors, webhooks",
            |r| r.to(metrics),
        )
        .public()
        .root()
        .raw("text/plain; version=0.0.4; charset=utf-8")
        .extension()
        .returns::<String>(),
    ]
}
