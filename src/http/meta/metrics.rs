//! `GET /metrics`: the Prometheus text exposition of [`crate::metrics`], unauthenticated
//! like any scrape target (bind it to a private interface or filter it at the proxy).

use actix_web::{HttpResponse, http::Method, web};

use crate::{http::core::route_spec::RouteSpec, state::AppState};

/// The gauges read at scrape time: live actors by kind, the webhook queue, the calls'
/// context. The counters and histograms are fed where things happen.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    use crate::metrics::gauge_set;
    let calls = state.calls.supervisor().len() as f64;
    gauge_set("thruai_live_calls", &[], calls);
    gauge_set("thruai_actors", &[("kind", "call")], calls);
    gauge_set(
        "thruai_actors",
        &[("kind", "campaign")],
        state.campaigns.running() as f64,
    );
    gauge_set(
        "thruai_actors",
        &[("kind", "webhook")],
        state.webhooks.actor_count().await as f64,
    );
    gauge_set("thruai_actors", &[("kind", "a2p")], state.a2p.running() as f64);
    match crate::store::webhook_deliveries::pending_count(&state.db).await {
        Ok(n) => gauge_set("thruai_webhook_queue_depth", &[], n as f64),
        Err(e) => tracing::warn!(error = %e, "counting the webhook queue failed"),
    }
    let context = thruai_actors::call::stats::CONTEXT_CHARS.load(std::sync::atomic::Ordering::Relaxed);
    gauge_set("thruai_call_context_chars", &[], context as f64);
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
