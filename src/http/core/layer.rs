//! The per-route API layer, driven by the route's table entry: provisioning limit,
//! authentication and scope, plan limit, and `Idempotency-Key` on mutating routes.

use std::{rc::Rc, sync::Arc};

use actix_web::{
    Error, HttpMessage, ResponseError,
    body::BoxBody,
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    web,
};
use futures_util::StreamExt;

use super::{
    guard::client_addr,
    route_spec::{Limit, RouteSpec},
};
use crate::{
    auth::Principal,
    error::{ApiError, ErrorCode},
    idempotency::{self, Claim, Outcome},
    limits::Decision,
    metrics,
    state::AppState,
};

/// Set by a handler that stored its idempotent response inside its own transaction.
#[derive(Clone, Copy)]
pub struct IdempotentResponseStored;

pub async fn api_layer(
    specs: Rc<[&'static RouteSpec]>,
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(spec) = specs.iter().find(|s| s.method == *req.method()).copied() else {
        return next.call(req).await;
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req.error_response(ApiError::new(ErrorCode::InternalError, "state missing")));
    };
    let mut decision: Option<Decision> = None;

    if spec.limit == Limit::Provisioning {
        let client = client_ip(&req, &state.trusted_proxies);
        match state.limiter.check_provisioning(&client).await {
            Ok(d) => {
                record_limit("provisioning", true);
                decision = Some(d);
            }
            Err(e) => {
                if e.code == ErrorCode::RateLimited {
                    record_limit("provisioning", false);
                }
                return Ok(respond(req, e));
            }
        }
    }

    if spec.auth {
        let header = req.headers().get("authorization").and_then(|h| h.to_str().ok());
        let principal = match state.auth.authenticate(header).await {
            Ok(p) => p,
            Err(e) => return Ok(respond(req, e)),
        };
        if let Some(scope) = spec.permission
            && !principal.has_scope(scope)
        {
            let err = ApiError::new(
                ErrorCode::Forbidden,
                format!("This API key lacks the '{scope}' permission"),
            )
            .with_details(serde_json::json!({ "requiredPermission": scope }));
            return Ok(respond(req, err));
        }
        if spec.limit == Limit::Plan {
            let d = state.limiter.check_plan(&principal.org_id, &principal.plan).await;
            record_limit(&format!("plan:{}", principal.plan), d.allowed);
            if !d.allowed {
                return Ok(respond(
                    req,
                    d.refusal(ErrorCode::RateLimited, "Plan rate limit exceeded"),
                ));
            }
            decision = Some(d);
        }
        req.extensions_mut().insert::<Arc<Principal>>(principal);
    }

    let mut claim: Option<Claim> = None;
    let idem_header = req
        .headers()
        .get("idempotency-key")
        .map(|h| h.to_str().map(str::to_string));
    if let (true, Some(header)) = (spec.idempotent(), idem_header) {
        let org_id = req.extensions().get::<Arc<Principal>>().map(|p| p.org_id.clone());
        let key = match header {
            Ok(key) => key,
            Err(_) => {
                return Ok(respond(
                    req,
                    ApiError::field("Idempotency-Key", "must be printable ASCII"),
                ));
            }
        };
        if let Err(e) = idempotency::validate_key(&key) {
            return Ok(respond(req, e));
        }
        let body = match read_body(&mut req, state.settings.server.max_body_bytes).await {
            Ok(body) => body,
            Err(e) => return Ok(respond(req, e)),
        };
        let fingerprint = idempotency::fingerprint(&body, req.query_string());
        req.set_payload(Payload::from(body));
        // Unauthenticated mutating routes are scoped by client address.
        let scope = org_id.unwrap_or_else(|| format!("ip:{}", client_ip(&req, &state.trusted_proxies)));
        match state
            .idempotency
            .begin(&scope, &key, spec.method.as_str(), spec.path, fingerprint)
            .await
        {
            Ok(Outcome::Proceed(c)) => {
                record_idempotency("proceeded");
                req.extensions_mut().insert(c.clone());
                claim = Some(c);
            }
            Ok(Outcome::Replay { status, body }) => {
                record_idempotency("replayed");
                let status = actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK);
                let res = actix_web::HttpResponse::build(status)
                    .content_type("application/json")
                    .insert_header(("x-idempotent-replayed", "true"))
                    .body(body);
                return Ok(with_limit_headers(req.into_response(res), decision.as_ref()));
            }
            Err(e) => {
                record_idempotency("refused");
                return Ok(respond(req, e));
            }
        }
    }

    let res = next.call(req).await;
    let Some(claim) = claim else {
        return res.map(|r| with_limit_headers(r, decision.as_ref()));
    };
    let res = match res {
        Ok(res) => res,
        Err(e) => {
            state.idempotency.finish(&claim, 500, None, false).await;
            return Err(e);
        }
    };
    let status = res.status().as_u16();
    let stored = res.request().extensions().get::<IdempotentResponseStored>().is_some();
    if stored || !(200..300).contains(&status) {
        state.idempotency.finish(&claim, status, None, stored).await;
        return Ok(with_limit_headers(res, decision.as_ref()));
    }
    let (http_req, http_res) = res.into_parts();
    let (http_res, body) = http_res.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            state.idempotency.finish(&claim, 500, None, false).await;
            return Ok(ServiceResponse::new(
                http_req,
                ApiError::new(ErrorCode::InternalError, "").error_response(),
            ));
        }
    };
    state.idempotency.finish(&claim, status, Some(&bytes), false).await;
    record_idempotency("stored");
    let res = ServiceResponse::new(http_req, http_res.set_body(bytes).map_into_boxed_body());
    Ok(with_limit_headers(res, decision.as_ref()))
}

fn record_limit(policy: &str, allowed: bool) {
    let decision = if allowed { "allowed" } else { "refused" };
    metrics::counter(
        "thruai_rate_limit_decisions_total",
        &[("policy", policy), ("decision", decision)],
        1.0,
    );
}

fn record_idempotency(outcome: &str) {
    metrics::counter("thruai_idempotency_outcomes_total", &[("outcome", outcome)], 1.0);
}

fn respond(req: ServiceRequest, err: ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(err.error_response())
}

fn with_limit_headers(mut res: ServiceResponse<BoxBody>, decision: Option<&Decision>) -> ServiceResponse<BoxBody> {
    if let Some(d) = decision {
        for (name, value) in d.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                res.headers_mut().insert(HeaderName::from_static(name), value);
            }
        }
    }
    res
}

/// Reads the whole body, refusing more than `limit` bytes with 413.
///
/// # Errors
/// `PAYLOAD_TOO_LARGE`, or `VALIDATION_ERROR` when the body cannot be read.
pub async fn read_body(req: &mut ServiceRequest, limit: usize) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| super::guard::body_error(&e))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("Request body exceeds the limit of {limit} bytes"),
    )
}

/// The client address as a string for limits and logs (`unknown` without a peer).
pub fn client_ip(req: &ServiceRequest, trusted: &[ipnet::IpNet]) -> String {
    client_addr(req.request(), trusted).map_or_else(|| "unknown".into(), |ip| ip.to_string())
}
