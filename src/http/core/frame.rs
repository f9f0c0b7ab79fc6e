//! The outermost middleware: request and trace ids (task-local for the envelope, and a
//! tracing span so every log line carries them), the standard response headers, the
//! access log and request metrics, and a panic turned into a 500 in the envelope.

use std::{panic::AssertUnwindSafe, sync::Arc, time::Instant};

use actix_web::{
    Error, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    error::InternalError,
    http::{
        Method,
        header::{HeaderMap, HeaderName, HeaderValue},
    },
    middleware::Next,
};
use futures_util::FutureExt;
use tracing::Instrument;

use super::envelope::{self, API_VERSION, RequestMeta};
use crate::{
    domain::validation::{control_message, forbidden_control},
    error::{ApiError, ErrorCode},
    metrics,
};

/// Decrements the in-flight gauge however the request ends (cancelled included).
struct InFlight;

impl InFlight {
    fn start() -> Self {
        metrics::gauge_add("thruai_http_requests_in_flight", &[], 1.0);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge_add("thruai_http_requests_in_flight", &[], -1.0);
    }
}

fn header_id(req: &ServiceRequest, name: &str) -> Option<String> {
    let value = req.headers().get(name)?.to_str().ok()?.trim();
    (!value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic())).then(|| value.to_string())
}

pub async fn frame(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = header_id(&req, "x-request-id").unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let trace_id = header_id(&req, "x-trace-id").unwrap_or_else(|| request_id.clone());
    let parent_id = header_id(&req, "x-parent-id");
    let meta = Arc::new(RequestMeta {
        request_id,
        trace_id,
        parent_id,
        sandbox: Default::default(),
    });
    let method = req.method().clone();
    let path = req.path().to_string();
    let started = std::time::Instant::now();
    let _in_flight = InFlight::start();
    let span = tracing::info_span!("request", request_id = %meta.request_id, trace_id = %meta.trace_id);
    // The request is owned by the router once called, so failures are answered with a
    // pre-rendered response carried in an `InternalError`.
    let outcome = envelope::scope(meta.clone(), async move {
        if let Some(refused) = control_in_url(&req) {
            return Err(refused.error_response());
        }
        match AssertUnwindSafe(next.call(req)).catch_unwind().await {
            Ok(Ok(res)) => {
                let route = res.request().match_pattern();
                let res = res.map_into_boxed_body();
                // An extractor's error, rendered by actix-web as plain text.
                let rendered = match res.response().error() {
                    Some(e) if !is_json(res.headers()) => Some(enveloped(e.as_response_error())),
                    _ => None,
                };
                let res = match rendered {
                    Some(r) => res.into_response(r),
                    None => res,
                };
                Ok((res, route))
            }
            Ok(Err(err)) => Err(enveloped(err.as_response_error())),
            Err(panic) => {
                let cause = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(%cause, "handler panicked");
                Err(ApiError::new(ErrorCode::InternalError, "").error_response())
            }
        }
    })
    .instrument(span)
    .await;
    match outcome {
        Ok((mut res, route)) => {
            add_headers(res.headers_mut(), &meta);
            log(&meta, &method, &path, route.as_deref(), res.status().as_u16(), started);
            Ok(res)
        }
        Err(mut res) => {
            add_headers(res.headers_mut(), &meta);
            log(&meta, &method, &path, None, res.status().as_u16(), started);
            Err(InternalError::from_response("request failed", res).into())
        }
    }
}

/// An error raised below the API's own handlers (an extractor of actix-web's, a body that
/// overflowed or stalled) in the same envelope as every other error, its status kept.
fn enveloped(err: &dyn ResponseError) -> actix_web::HttpResponse {
    let res = err.error_response();
    if is_json(res.headers()) {
        return res;
    }
    let code = match res.status().as_u16() {
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        408 => ErrorCode::RequestTimeout,
        413 => ErrorCode::PayloadTooLarge,
        400..=499 => ErrorCode::ValidationError,
        _ => ErrorCode::InternalError,
    };
    let message = if code == ErrorCode::InternalError {
        String::new()
    } else {
        err.to_string()
    };
    let mut out = ApiError::new(code, message).error_response();
    *out.status_mut() = res.status();
    out
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

/// A path or query holding a control character no field needs (`%00` in an id, say) is
/// refused before any handler or database sees it, naming the parameter.
fn control_in_url(req: &ServiceRequest) -> Option<ApiError> {
    let path = percent_encoding::percent_decode_str(req.path()).decode_utf8_lossy();
    if let Some(c) = forbidden_control(&path) {
        return Some(ApiError::field("path", control_message(c)));
    }
    url::form_urlencoded::parse(req.query_string().as_bytes()).find_map(|(name, value)| {
        let c = forbidden_control(&name).or_else(|| forbidden_control(&value))?;
        Some(ApiError::field(name.into_owned(), control_message(c)))
    })
}

fn add_headers(headers: &mut HeaderMap, meta: &RequestMeta) {
    headers.insert(
        HeaderName::from_static("x-api-version"),
        HeaderValue::from_static(API_VERSION),
    );
    for (name, value) in [("x-request-id", &meta.request_id), ("x-trace-id", &meta.trace_id)] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// A method as a metrics label: the standard ones, every other one `other` (a client
/// inventing methods must not invent series).
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    KNOWN.into_iter().find(|m| *m == method.as_str()).unwrap_or("other")
}

/// A status as a metrics label: its class (`2xx` … `5xx`).
fn status_label(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The access log line (info, carrying both ids) and the per-route metrics. Every label
/// comes from a closed set — known methods, route patterns (never raw paths), status classes
/// — so no request, with a key or without, can add series.
fn log(meta: &RequestMeta, method: &Method, path: &str, route: Option<&str>, status: u16, started: Instant) {
    let elapsed = started.elapsed().as_secs_f64();
    let route = route.unwrap_or("unmatched");
    let method_label = method_label(method);
    metrics::counter(
        "thruai_http_requests_total",
        &[
            ("method", method_label),
            ("route", route),
            ("status", status_label(status)),
        ],
        1.0,
    );
    metrics::observe(
        "thruai_http_request_duration_seconds",
        &[("method", method_label), ("route", route)],
        elapsed,
    );
    tracing::info!(
        request_id = %meta.request_id,
        trace_id = %meta.trace_id,
        parent_id = meta.parent_id.as_deref().unwrap_or(""),
        %method,
        %path,
        route,
        status,
        elapsed_ms = elapsed * 1000.0,
        "request"
    );
}

#[cfg(test)]
mod tests {
    use actix_web::{App, test, web};

    use super::*;

    #[actix_web::test]
    async fn a_panic_becomes_a_500_in_the_envelope_without_its_cause() {
        let app = test::init_service(App::new().wrap(actix_web::middleware::from_fn(frame)).route(
            "/boom",
            web::get().to(|| async { panic!("secret table name users_v2") as &'static str }),
        ))
        .await;

        let req = test::TestRequest::get()
            .uri("/boom")
            .insert_header(("x-request-id", "r-1"))
            .to_request();
        // The dispatcher renders the pre-built response the frame carries in its error.
        let res = test::try_call_service(&app, req).await.unwrap_err().error_response();

        assert_eq!(res.status(), 500);
        assert_eq!(res.headers().get("x-request-id").unwrap(), "r-1");
        let bytes = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
        assert_eq!(body["meta"]["requestId"], "r-1");
        assert!(!body.to_string().contains("users_v2"));
    }
}
