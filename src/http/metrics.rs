//! `GET /metrics`: the Prometheus text exposition of [`crate::metrics`], unauthenticated
//! like any scrape target (bind it to a private interface or filter it at the proxy).

use actix_web::HttpResponse;

pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render())
}
